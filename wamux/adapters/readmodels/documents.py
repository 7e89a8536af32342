"""A read-model document as the SQL stores keep it: compact JSON text written by `json.dumps` (so a read
returns exactly what was written, on SQLite and PostgreSQL alike), read back by orjson where it can."""

from __future__ import annotations

import json
from typing import Any

try:  # a faster reader of the same JSON; the documents are still written by `json.dumps`
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency; json reads the same text
    orjson = None  # type: ignore[assignment]


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, separators=(",", ":"))


def loads(text: str) -> Any:
    if orjson is not None:
        try:
            return orjson.loads(text)
        except ValueError:  # what only the stdlib reads (NaN, lone surrogates): the text is json.dumps's
            pass
    return json.loads(text)
