"""The {{ slice }} slice: domain, application (use cases and ports), adapters."""
