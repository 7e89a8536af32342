"""wamux: a self-hosted WhatsApp multi-instance API server, event-sourced and actor-based."""

__version__ = "0.1.0"
