"""WhatsApp transports behind `wamux.core.ports.Transport`: neonize (whatsmeow) and the in-process simulator."""
