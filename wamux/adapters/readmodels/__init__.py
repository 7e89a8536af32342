"""Read-model stores (SQLite, MongoDB) behind `wamux.projections.ports.ReadModelStore`."""
