"""Implementations of the core_domain ports: PostgreSQL via the ORM, HTTP, Redis, the clock."""
