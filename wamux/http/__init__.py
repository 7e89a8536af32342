"""Quart routes, auth, request validation and error mapping. Thin."""
