"""The app's JSON on orjson: the same answers, byte for byte, as Quart's stock provider, for less CPU.

Every answer goes through `response` (`jsonify`, and a route returning a dict or list). The stock
provider writes it with `json` (compact separators, keys in the order given, non-ASCII as UTF-8, a
final newline); orjson writes the same bytes for plain values, several times faster. What it would
write differently goes to the stock provider instead, so no answer changes:

- a value of any type but exact `dict`, `list`, `tuple`, `str`, `int`, `bool`, `None` and `float`:
  subclasses (str/int enums, named tuples, `OrderedDict`), dataclasses, dates, UUIDs, decimals,
  plain enums (which `json` refuses and orjson would write), anything the provider's `default` handles;
- floats that are not finite (orjson writes `null` where `json` writes `NaN`/`Infinity`: an incoming
  location may carry them), below 1e-4 (orjson writes 0.00001 for 1e-05) or from 1e16 up;
- whatever orjson refuses: integers beyond 64 bits, non-str keys, lone surrogates, deep nesting.

A pretty-printed answer (debug mode, `QUART_DEBUG`, or `compact = False`), `sort_keys` or
`ensure_ascii` switched on, and `dumps` (`json`'s default separators, no hot path calls it) stay on
the stock code. `loads` reads with orjson what it reads as `json` does, and leaves to `json` NaN
literals, lone surrogates, other encodings and long digit runs (orjson reads big integers as floats).
Request bodies do not come through here: `bodies.json_body` parses them with `json` itself.
"""

from __future__ import annotations

import re
from typing import Any, cast

import orjson
from quart.json.provider import DefaultJSONProvider
from quart.wrappers import Response as QuartResponse
from werkzeug.sansio.response import Response

# Subclasses go to `_refuse`, and so to `json`, instead of orjson's own rendering; dataclasses and
# datetimes never reach orjson (the walk sends them to `json` first), the flags are a second guard.
_OPTIONS = orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
_FLOAT = float
_LEAVES = frozenset({str, int, bool, type(None)})  # exact types orjson writes as `json` does (ints up to 64 bits)
# 19 digits in a row may be an integer beyond 64 bits, which orjson reads as a float.
_LONG_DIGITS_BYTES = re.compile(rb"[0-9]{19}")
_LONG_DIGITS_TEXT = re.compile(r"[0-9]{19}")


def _refuse(value: Any) -> Any:
    raise TypeError(type(value).__name__)


def _plain(container: dict[Any, Any] | list[Any] | tuple[Any, ...]) -> bool:
    """Whether orjson writes `container` (an exact dict, list or tuple) as `json` does, or refuses it.

    Dict keys are not looked at: orjson refuses every key that is not an exact `str`.
    """
    for value in container.values() if type(container) is dict else container:
        kind = type(value)
        if kind in _LEAVES:
            continue
        if kind is dict or kind is list or kind is tuple:
            if not _plain(value):
                return False
        elif kind is _FLOAT:
            if not (value == 0.0 or 1e-4 <= abs(value) < 1e16):  # NaN fails both tests
                return False
        else:
            return False
    return True


def compact_json(value: Any) -> bytes | None:
    """`value` as the stock provider's compact answer text, UTF-8; None when orjson would not write it so."""
    kind = type(value)
    try:
        if kind is dict or kind is list or kind is tuple:
            if not _plain(value):
                return None
        elif kind is _FLOAT:
            if not (value == 0.0 or 1e-4 <= abs(value) < 1e16):
                return None
        elif kind not in _LEAVES:
            return None
        return orjson.dumps(value, default=_refuse, option=_OPTIONS)
    except (orjson.JSONEncodeError, RecursionError):  # big ints, non-str keys, surrogates, depth, cycles
        return None


class OrjsonProvider(DefaultJSONProvider):
    """Quart's default JSON provider with its answers and reads done by orjson where that changes nothing."""

    sort_keys = False
    ensure_ascii = False

    def _stock_text(self) -> bool:
        """The answer must be written by `json`: pretty-printed, sorted or ASCII-escaped."""
        pretty = self.compact is False or (self.compact is None and self._app.debug)
        return pretty or self.sort_keys or self.ensure_ascii

    def response(self, *args: Any, **kwargs: Any) -> Response:
        body = None if self._stock_text() else compact_json(self._prepare_response_obj(args, kwargs))
        if body is None:
            return super().response(*args, **kwargs)
        response_class = cast(type[QuartResponse], self._app.response_class)  # typed as Flask's; Quart's here
        return response_class(body + b"\n", mimetype=self.mimetype)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        if not kwargs and _orjson_reads_alike(s):
            try:
                return orjson.loads(s)
            except orjson.JSONDecodeError:  # NaN, lone surrogates, a BOM, UTF-16, 1e400, depth: json decides
                pass
        return super().loads(s, **kwargs)


def _orjson_reads_alike(s: str | bytes) -> bool:
    """No run of digits in `s` that orjson could read as a float where `json` reads an integer."""
    if type(s) is bytes:
        return _LONG_DIGITS_BYTES.search(s) is None
    if type(s) is str:
        return _LONG_DIGITS_TEXT.search(s) is None
    return False  # a bytearray or subclass: `json` takes it (or refuses it) its own way
