"""The orjson provider answers what Quart's stock provider answered, byte for byte, and reads what it read.

The reference is the stock provider set up as the app had it (`sort_keys` and `ensure_ascii` off).
Every value of the corpus must give the same bytes, the same content type (or the same exception);
the plain ones must also take the orjson path, or the provider would be correct and no faster.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import json
import math
import random
import struct
import uuid
from collections import OrderedDict
from typing import Any, NamedTuple

import orjson
import pytest
from markupsafe import Markup
from quart import Response, jsonify
from quart.json.provider import DefaultJSONProvider
from quart_trio import QuartTrio

from wamux.http.json_provider import OrjsonProvider, compact_json

NAN, INF = float("nan"), float("inf")


class Colour(enum.Enum):
    RED = "red"


class Status(enum.StrEnum):
    OPEN = "open"


class Level(enum.IntEnum):
    HIGH = 3


class Name(str):
    pass


class Count(int):
    def __repr__(self) -> str:
        return "Count(...)"


class Pair(NamedTuple):
    left: int
    right: str


@dataclasses.dataclass
class Point:
    x: float
    label: str


MESSAGE = {
    "id": "3EB0C0FFEE",
    "chatId": "79330000001@s.whatsapp.net",
    "chatLid": None,
    "fromMe": True,
    "body": "héllo wörld — ✓ 👋🏽 中文 עברית",
    "timestamp": 1_733_000_000_123,
    "mentions": [],
    "location": {"latitude": 51.5007, "longitude": -0.1246, "name": None},
    "reactions": [{"emoji": "👍", "from": "x@s.whatsapp.net"}],
}

# Values orjson writes exactly as `json` does: they must take the orjson path.
PLAIN: list[Any] = [
    MESSAGE,
    {"messages": [MESSAGE] * 3, "pagination": {"total": 3, "limit": 50, "skip": 0, "hasMore": False}},
    {"nested": {"deeper": [[{"deepest": [1, [2, [3, []]]]}]]}},
    {"escapes": 'quote " backslash \\ slash / newline \n tab \t cr \r bell \x07 nul \x00 del \x7f'},
    {"separators": "\u2028 \u2029 \ufeff", "astral": "\U0001f600\U0010ffff", "keys": {"ключ": "値", "🔑": 1}},
    {"ints": [0, -1, 2**31, 2**53 + 1, 2**63 - 1, -(2**63), 2**64 - 1]},
    {"floats": [0.0, -0.0, 0.1, 1 / 3, 2.5, -123.456, 1e-4, 9.999e15, 51.5007, -180.0]},
    {"none": None, "true": True, "false": False},
    {"tuple": (1, "a", (None, [])), "empty": [{}, [], ()]},
    {},
    [],
    (),
    "just a string",
    "",
    0,
    -(2**63),
    1.5,
    -0.0,
    None,
    True,
    False,
    [{"a": 1, "b": 2}, {"b": 2, "a": 1}],  # key order kept, not sorted
]

# Values orjson writes otherwise, or refuses: they must go to the stock provider, with its answer.
STOCK: list[Any] = [
    {"big": 2**64},
    {"negative big": -(2**63) - 1},
    {"huge": 10**400},
    {"nan": NAN},
    [INF, -INF],
    NAN,
    {"tiny": 1e-05},
    {"tiny negative": -2.5e-300},
    {"large": 1e16},
    {"huge float": 1e300},
    {1: "int key"},
    {None: 1, True: 2, 1.5: 3},
    {Status.OPEN: "str enum key"},
    {"str enum": Status.OPEN},
    {"int enum": Level.HIGH},
    {"str subclass": Name("n")},
    {"int subclass": Count(7)},
    OrderedDict(a=1, b=2),
    {"ordered": OrderedDict(b=1, a=2)},
    {"named tuple": Pair(1, "r")},
    {"dataclass": Point(1.5, "p")},
    {"datetime": datetime.datetime(2026, 12, 1, 10, 30, tzinfo=datetime.UTC)},
    {"date": datetime.date(2026, 12, 1)},
    {"uuid": uuid.UUID(int=1)},
    {"decimal": decimal.Decimal("1.10")},
    {"markup": Markup("<b>bold</b>")},
]


def _deep(levels: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(levels):
        value = [value]
    return value


PLAIN.append(_deep(200))
STOCK.append(_deep(300))  # deeper than orjson writes (255)


def _cycle() -> dict[str, Any]:
    value: dict[str, Any] = {}
    value["self"] = value
    return value


# Values the stock provider refuses: the same exception, whatever orjson thinks of them.
REFUSED: list[tuple[Any, type[Exception]]] = [
    ({"plain enum": Colour.RED}, TypeError),  # orjson would write "red"
    ({"set": {1, 2}}, TypeError),
    ({"bytes": b"raw"}, TypeError),
    ({"object": object()}, TypeError),
    ({"lone surrogate": "\ud800"}, UnicodeEncodeError),  # json writes it; the answer cannot be encoded
    ({"\udfff": "key"}, UnicodeEncodeError),
    (_cycle(), ValueError),  # "Circular reference detected"
]


@dataclasses.dataclass
class Providers:
    new: OrjsonProvider
    old: DefaultJSONProvider
    apps: tuple[QuartTrio, QuartTrio]  # kept alive: a provider holds a weak proxy to its app


@pytest.fixture
def both() -> Providers:
    new_app, old_app = QuartTrio("new"), QuartTrio("old")
    new_app.json = new = OrjsonProvider(new_app)
    old_app.json = old = DefaultJSONProvider(old_app)
    old.sort_keys = False  # as the app had it before
    old.ensure_ascii = False
    return Providers(new, old, (new_app, old_app))


async def answer(response: Any) -> tuple[bytes, str | None]:
    assert isinstance(response, Response)
    return await response.get_data(as_text=False), response.headers.get("Content-Type")


@pytest.mark.parametrize("value", PLAIN, ids=range(len(PLAIN)))
async def test_plain_values_are_written_by_orjson_byte_for_byte(both: Providers, value: Any) -> None:
    new, old = both.new, both.old
    assert compact_json(value) == orjson.dumps(value)  # the fast path is taken
    new_body, new_type = await answer(new.response(value))
    old_body, old_type = await answer(old.response(value))
    assert new_body == old_body
    assert new_type == old_type == "application/json"
    assert json.loads(new_body) == json.loads(old_body)


@pytest.mark.parametrize("value", STOCK, ids=range(len(STOCK)))
async def test_values_orjson_writes_otherwise_get_the_stock_answer(both: Providers, value: Any) -> None:
    new, old = both.new, both.old
    assert compact_json(value) is None
    new_body, new_type = await answer(new.response(value))
    old_body, old_type = await answer(old.response(value))
    assert new_body == old_body
    assert new_type == old_type == "application/json"


def test_nan_keeps_the_stock_text_not_orjsons_null(both: Providers) -> None:
    # The deliberate choice: an incoming location may carry NaN; its answer stays what it was.
    assert orjson.dumps({"latitude": NAN}) == b'{"latitude":null}'
    assert compact_json({"latitude": NAN}) is None
    assert math.isnan(json.loads(json.dumps(NAN)))


@pytest.mark.parametrize(("value", "error"), REFUSED, ids=range(len(REFUSED)))
async def test_what_the_stock_provider_refuses_is_refused_alike(
    both: Providers, value: Any, error: type[Exception]
) -> None:
    new, old = both.new, both.old
    with pytest.raises(error) as old_error:
        await answer(old.response(value))
    with pytest.raises(error) as new_error:
        await answer(new.response(value))
    assert type(new_error.value) is type(old_error.value)


async def test_several_arguments_and_keywords(both: Providers) -> None:
    new, old = both.new, both.old
    for args, kwargs in (((), {}), ((1, "two", None), {}), ((), {"b": 1, "a": [2.5]})):
        assert await answer(new.response(*args, **kwargs)) == await answer(old.response(*args, **kwargs))
    with pytest.raises(TypeError):
        new.response(1, a=2)


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return "".join(
            chr(rng.choice((rng.randrange(0x80), rng.randrange(0xD800), rng.randrange(0xE000, 0x110000))))
            for _ in range(rng.randrange(12))
        )
    if kind == 1:
        return rng.choice((rng.randrange(-(2**70), 2**70), rng.randrange(-1000, 1000)))
    if kind == 2:
        return struct.unpack("d", rng.randbytes(8))[0]  # any double: tiny, huge, NaN, infinite
    if kind == 3:
        return rng.uniform(-180, 180)
    if kind == 4:
        return rng.choice((None, True, False))
    if kind == 5:
        return rng.choice((Status.OPEN, Level.HIGH, 1e-5, -0.0))
    if kind == 6:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(5))]
    if kind == 7:
        return tuple(_random_value(rng, depth + 1) for _ in range(rng.randrange(3)))
    return {
        _random_value(rng, 4) if rng.random() < 0.05 else f"k{i}": _random_value(rng, depth + 1)
        for i in range(rng.randrange(5))
    }


async def test_random_values_answer_alike(both: Providers) -> None:
    new, old = both.new, both.old
    rng = random.Random(18)
    fast = 0
    for _ in range(3000):
        value = {"v": _random_value(rng)}
        assert await answer(new.response(value)) == await answer(old.response(value)), value
        fast += compact_json(value) is not None
    assert fast > 500  # enough of them took the orjson path to mean something


async def test_pretty_printed_in_debug_mode_as_before(both: Providers) -> None:
    new, old = both.new, both.old
    value = {"b": [1, {"c": "é"}], "a": None}
    for debug, compact in ((True, None), (False, False), (True, True)):
        new._app.debug = old._app.debug = debug
        new.compact = old.compact = compact
        new_answer, old_answer = await answer(new.response(value)), await answer(old.response(value))
        assert new_answer == old_answer
        assert (b"\n  " in new_answer[0]) is (compact is not True)


async def test_sort_keys_and_ensure_ascii_switched_on_are_honoured(
    both: Providers,
) -> None:
    new, old = both.new, both.old
    new.sort_keys = old.sort_keys = True
    new.ensure_ascii = old.ensure_ascii = True
    value = {"b": "é", "a": 1}
    assert (
        await answer(new.response(value))
        == await answer(old.response(value))
        == (b'{"a":1,"b":"\\u00e9"}\n', "application/json")
    )


LOADS: list[str | bytes] = [
    '{"a": 1, "b": [true, false, null], "c": "é👋", "d": -0.0, "e": 1e300, "f": 0.1}',
    '{"a": 1, "a": 2}',  # duplicate keys: the last one wins
    "NaN",
    "[Infinity, -Infinity]",
    '"\\ud800"',
    '"\\ud83d\\ude00"',
    "9223372036854775807",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775809",
    "123456789012345678901234567890",
    "1.00000000000000000000000001",
    "1e400",
    "1.5e-400",
    "-0",
    " 1 ",
    '"\\u0000"',
    "[" * 600 + "]" * 600,
    "[" * 3000 + "]" * 3000,
    "",
    "[1,]",
    "01",
    '{"a":1}x',
    '"\t"',
    "\ufeff{}",
]
LOADS += [text.encode() for text in LOADS if isinstance(text, str) and "\ud800" not in text]
LOADS += [b"\xef\xbb\xbf{}", "{}".encode("utf-16"), b'"\xed\xa0\x80"', b'"\xff"', b"\xed\xa0\x80"]


def _read(loads: Any, text: str | bytes) -> str:
    try:
        value = loads(text)
    except Exception as error:  # the exception's type is what is compared
        return f"raises {type(error).__name__}"
    return repr(value)  # repr tells 1 from 1.0 and shows NaN


@pytest.mark.parametrize("text", LOADS, ids=range(len(LOADS)))
def test_loads_reads_what_json_reads(both: Providers, text: str | bytes) -> None:
    new, old = both.new, both.old
    assert _read(new.loads, text) == _read(old.loads, text)


def test_loads_takes_json_keywords(both: Providers) -> None:
    new = both.new
    assert new.loads('{"a": 1.5}', parse_float=decimal.Decimal) == {"a": decimal.Decimal("1.5")}


async def test_a_route_answers_orjsons_text_with_the_json_content_type() -> None:
    app = QuartTrio("probe")
    app.json = OrjsonProvider(app)
    body = {"chats": [MESSAGE], "count": 1, "ratio": 0.5}

    @app.get("/jsonify")
    async def with_jsonify() -> Response:
        return jsonify(body)

    @app.get("/dict")
    async def with_dict() -> dict[str, Any]:
        return body

    @app.get("/nan")
    async def with_nan() -> Response:
        return jsonify({"latitude": NAN})

    client = app.test_client()
    for path in ("/jsonify", "/dict"):
        response = await client.get(path)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/json"
        assert await response.get_data(as_text=False) == orjson.dumps(body) + b"\n"
        assert await response.get_json() == body
    response = await client.get("/nan")
    assert await response.get_data(as_text=False) == b'{"latitude":NaN}\n'
