"""Adapters: the only code that touches a driver or a library's I/O; each implements a port of `wamux.core.ports`."""
