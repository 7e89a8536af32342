"""Read models built from events; pure functions plus a small port to save rows."""
