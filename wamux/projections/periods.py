"""Moved to `wamux.domain.periods` (the limit rule needs it); this name goes once every importer moved."""

from wamux.domain.periods import PERIODS, day_of, day_start_ms, period_key, period_start_day

__all__ = ["PERIODS", "day_of", "day_start_ms", "period_key", "period_start_day"]
