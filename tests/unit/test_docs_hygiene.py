"""The docs speak of the project only: no absolute paths of the machine they were written on."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# A path under a home, a build machine's work folder or a user's temp folder; `/api/...` routes and
# container paths of ops/ (e.g. `/data`) are fine.
MACHINE_PATH = re.compile(r"(?<![\w.])/(home|root|Users|work|mnt/c)/[\w.-]+")


def documents() -> list[Path]:
    found = [ROOT / "README.md"]
    for folder in ("docs", "examples", "bench", "ops"):
        found.extend(p for p in (ROOT / folder).rglob("*") if p.suffix in (".md", ".py", ".yaml", ".yml", ".txt"))
    return [p for p in found if p.is_file()]


def test_no_document_names_a_path_of_this_machine() -> None:
    hits = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in documents()
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if MACHINE_PATH.search(line)
    ]
    assert not hits, "\n".join(hits)


def test_the_rule_catches_what_it_should() -> None:
    assert MACHINE_PATH.search("see /home/alice/wamux/docs")
    assert MACHINE_PATH.search("`/work/main/.venv/bin/python`")
    assert not MACHINE_PATH.search("GET /api/instances/{id} and ./data/events.db")
