"""Adapters: event stores, transports, webhook sender, config, logging and the composition root."""
