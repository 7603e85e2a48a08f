"""Message Dispatcher's domain: entities, rules, ports and use cases, in plain Python."""
