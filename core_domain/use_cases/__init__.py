"""Use cases: one class per module, ports injected, one `execute` method."""
