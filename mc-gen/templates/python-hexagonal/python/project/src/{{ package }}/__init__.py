"""{{ app }}: a modular monolith of vertical slices, each a hexagon (domain, application, adapter)."""
