"""Instance actors, the supervisor and the WhatsApp transport port."""
