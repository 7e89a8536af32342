"""Structured logging: one JSON object per line, or a readable line when stderr is a terminal.

`get_logger(name).info("message", instance_id=..., request_id=...)` attaches fields. neonize
calls `logging.basicConfig` at import; `setup_logging` replaces whatever handlers that left.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from wamux.http.request_context import request_id_var

__all__ = ["get_logger", "request_id_var", "setup_logging"]


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
    return StructuredLogger(logging.getLogger(name))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        doc.update(getattr(record, "fields", {}) or {})
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


class ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", {}) or {}
        extra = " ".join(f"{k}={v}" for k, v in fields.items())
        line = f"{time.strftime('%H:%M:%S', time.localtime(record.created))} {record.levelname:<7} {record.name}: "
        line += record.getMessage() + (f"  {extra}" if extra else "")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def setup_logging(level: str = "info", *, json_logs: bool | None = None) -> None:
    """Install our one handler on the root logger (replacing neonize's basicConfig)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    use_json = json_logs if json_logs is not None else not sys.stderr.isatty()
    handler.setFormatter(JsonFormatter() if use_json else ConsoleFormatter())
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    for noisy in ("hypercorn.access", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
