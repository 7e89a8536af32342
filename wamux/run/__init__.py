"""Entry points and operations: the composition root (bootstrap), the CLI, config, log output, metrics, store switch."""
