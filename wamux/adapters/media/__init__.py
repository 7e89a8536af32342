"""Media bytes on disk and media downloads from URLs."""
