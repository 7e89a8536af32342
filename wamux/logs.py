"""Structured logging for every layer: `get_logger(name).info("message", instance_id=...)` attaches fields.

A logging wrapper is not I/O in the architectural sense (stdlib `logging` decides where lines go), so
core, adapters, http and run all use this module; `wamux.run.logs` installs the handler and formatters.
The id of the request being served (`request_id_var`, set by the HTTP layer) is added to every line.
"""

from __future__ import annotations

import contextvars
import logging
from typing import Any

__all__ = ["StructuredLogger", "get_logger", "request_id_var"]

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


class StructuredLogger:
    """A thin wrapper over a stdlib logger that carries key/value fields."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger

    def _log(self, level: int, message: str, fields: dict[str, Any]) -> None:
        if self._logger.isEnabledFor(level):
            rid = request_id_var.get()
            if rid and "request_id" not in fields:
                fields["request_id"] = rid
            self._logger.log(level, message, extra={"fields": fields})

    def debug(self, message: str, **fields: Any) -> None:
        self._log(logging.DEBUG, message, fields)

    def info(self, message: str, **fields: Any) -> None:
        self._log(logging.INFO, message, fields)

    def warning(self, message: str, **fields: Any) -> None:
        self._log(logging.WARNING, message, fields)

    def error(self, message: str, **fields: Any) -> None:
        self._log(logging.ERROR, message, fields)

    def exception(self, message: str, **fields: Any) -> None:
        if self._logger.isEnabledFor(logging.ERROR):
            self._logger.error(message, exc_info=True, extra={"fields": fields})


def get_logger(name: str) -> StructuredLogger:
    """The structured logger named `name` (a dotted name under `wamux`)."""
    return StructuredLogger(logging.getLogger(name))
