"""The cluster store (API-2.md §10): the node registry and the leases, on PostgreSQL."""
