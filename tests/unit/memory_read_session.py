"""One in-memory fake of `ReadSession` for the projection unit tests (a fake, not a mock: it stores and filters)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from wamux.projections.ports import Collection, Query


class MemoryReadSession:
    """Collections as JSON-encoded documents, queried with the semantics of the SQLite backend.

    Documents are stored encoded, so a projection that mutates a row after `put` (an aliasing bug)
    fails here as it would on a database; undeclared query fields are refused as SQLite refuses them.
    """

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], str] = {}

    def get(self, collection: Collection, key: str) -> dict[str, Any] | None:
        """The document under `key`, or None."""
        raw = self.rows.get((collection.name, key))
        return json.loads(raw) if raw is not None else None

    def get_many(self, collection: Collection, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The documents of `keys` that exist, by key."""
        found = {key: self.rows.get((collection.name, key)) for key in dict.fromkeys(keys)}
        return {key: json.loads(raw) for key, raw in found.items() if raw is not None}

    def put(self, collection: Collection, key: str, doc: dict[str, Any]) -> None:
        """Insert or replace the document under `key`."""
        self.rows[(collection.name, key)] = json.dumps(doc, sort_keys=True)

    def delete(self, collection: Collection, key: str) -> None:
        """Drop the document under `key` (nothing if absent)."""
        self.rows.pop((collection.name, key), None)

    def find(self, collection: Collection, query: Query) -> list[dict[str, Any]]:
        """Filter, search, order and page like `SELECT doc ... WHERE ... ORDER BY ... LIMIT ... OFFSET`."""
        for name in [*query.where, *query.ranges, *(query.search[0] if query.search else ()), *dict(query.order)]:
            if name not in collection.fields and name != "key":
                raise ValueError(f"{collection.name}: {name} is not a declared field")
        rows = [(key, json.loads(raw)) for (name, key), raw in self.rows.items() if name == collection.name]

        def value(row: tuple[str, dict[str, Any]], name: str) -> Any:
            return row[0] if name == "key" else row[1].get(name)

        rows = [r for r in rows if all(value(r, k) == v for k, v in query.where.items())]
        for field, (low, high) in query.ranges.items():
            rows = [
                r for r in rows if (low is None or value(r, field) >= low) and (high is None or value(r, field) <= high)
            ]
        if query.search is not None:
            names, needle = query.search
            rows = [r for r in rows if any(needle.lower() in str(value(r, n) or "").lower() for n in names)]
        for name, descending in reversed(query.order):  # stable sorts, last key first; NULLs first as in SQLite
            rows.sort(key=lambda r: (value(r, name) is not None, value(r, name)), reverse=descending)
        end = None if query.limit is None else query.skip + query.limit
        return [doc for _, doc in rows[query.skip : end]]

    def count(self, collection: Collection, query: Query) -> int:
        """How many documents match, paging ignored."""
        return len(self.find(collection, Query(where=query.where, ranges=query.ranges, search=query.search)))
