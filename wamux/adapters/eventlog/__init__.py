"""The event log: eventsourcing recorders (SQLite, MongoDB), the codec, secrets at rest, the `EventStore` over them."""
