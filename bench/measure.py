"""What every benchmark shares: percentiles, resident memory, the result table, the command line.

Each benchmark is `python bench/<name>.py [--quick]`: it measures wamux and, in the same run,
a baseline doing the same work with the bare library underneath, then prints both and their ratio.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `python bench/x.py` puts bench/ on the path, not the repo
    sys.path.insert(0, str(REPO))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

console = Console(width=170)
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def arguments(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a ~15 s smoke run with smaller sizes")
    return parser.parse_args()


def rss_bytes(pid: int | str = "self") -> int:
    """Resident set size of a process, from /proc (no psutil needed)."""
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU time of a process so far (all its threads), from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def child_pids(pid: int) -> list[int]:
    """The pids of a process's live children (those of every one of its threads), from /proc."""
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:
        return found
    for task in tasks:
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process and all its descendants, from /proc.

    The pids are read anew on every call: a child that appeared since the last call is counted
    whole; one that exited and was reaped is in its parent's cutime + cstime. (A child exiting
    between the two reads of one call may be missed once.)
    """
    total = 0.0
    for child in child_pids(pid):
        total += tree_cpu_seconds(child)
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return total
    return total + sum(int(fields[i]) for i in (11, 12, 13, 14)) / TICKS


def mb(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:.1f} MB"


def kb(n_bytes: float) -> str:
    return f"{n_bytes / 1024:.1f} KB"


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def ratio(value: float, baseline: float) -> str:
    if not baseline or value != value or baseline != baseline:
        return "n/a"
    return f"{value / baseline:.2f}"


def machine() -> str:
    return (
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, {platform.system()}"
    )


@dataclass
class Report:
    """One results table; rows are printed in the order they were added."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def add(self, *cells: object) -> None:
        self.rows.append([_cell(c) for c in cells])

    def note(self, text: str) -> None:
        self.notes.append(text)

    def print(self) -> None:
        table = Table(title=f"{self.title}  ({machine()}, {time.strftime('%Y-%m-%d')})", title_justify="left")
        for name in self.columns:
            table.add_column(name, justify="left" if name == self.columns[0] else "right")
        for row in self.rows:
            table.add_row(*row)
        console.print(table)
        for note in self.notes:
            console.print(f"  {note}")
        console.print(f"  (took {time.monotonic() - self.started:.1f} s)")

    def markdown(self) -> str:
        """The same table as GitHub markdown (the first column left-aligned, the others right), then the notes."""
        align = ["---" if name == self.columns[0] else "---:" for name in self.columns]
        lines = [f"{self.title} ({machine()}, {time.strftime('%Y-%m-%d')})", ""]
        lines += ["| " + " | ".join(cells) + " |" for cells in (self.columns, align, *self.rows)]
        return "\n".join([*lines, "", *self.notes])


def _cell(value: object) -> str:
    if isinstance(value, float):
        if value != value:
            return "n/a"
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
