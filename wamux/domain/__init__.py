"""Pure model: events, aggregates, value objects, errors. No I/O."""
