"""The domain's lists are the only lists: docs/openapi.yaml's enums and the web manager cannot drift from them."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from wamux.domain.catalog import (
    ACTIVITY_TYPES,
    DELIVERY_STATUSES,
    INITIAL_STATUS,
    INSTANCE_STATUSES,
    PUBLIC_EVENT_TYPES,
    STATUS_AFTER,
    STATUS_EVENT_TYPES,
    WEBHOOK_EVENT_TYPES,
    WEBHOOK_TEST_EVENT,
)
from wamux.domain.events import EVENT_TYPES, Connected, Disconnected, LoggedOut, QrReceived
from wamux.domain.instances import Instance

ROOT = Path(__file__).resolve().parents[2]


@cache
def schemas() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text(encoding="utf-8"))
    return doc


@pytest.mark.parametrize(
    ("schema", "values"),
    [
        ("InstanceStatusValue", INSTANCE_STATUSES),
        ("EventType", PUBLIC_EVENT_TYPES),
        ("WebhookEventType", WEBHOOK_EVENT_TYPES),
        ("ActivityAction", ACTIVITY_TYPES),
        ("DeliveryStatus", DELIVERY_STATUSES),
    ],
)
def test_openapi_enum_equals_the_domain_list(schema: str, values: tuple[str, ...]) -> None:
    assert schemas()["components"]["schemas"][schema]["enum"] == list(values)


def test_openapi_describes_one_event_shape_and_one_webhook_per_type() -> None:
    event = schemas()["components"]["schemas"]["Event"]
    assert [branch["properties"]["type"]["const"] for branch in event["oneOf"]] == list(PUBLIC_EVENT_TYPES)
    assert set(schemas()["webhooks"]) == set(WEBHOOK_EVENT_TYPES)


def test_every_listed_event_type_is_a_recorded_event() -> None:
    for name in (*PUBLIC_EVENT_TYPES, *ACTIVITY_TYPES, *STATUS_EVENT_TYPES):
        assert name in EVENT_TYPES, name
    assert WEBHOOK_TEST_EVENT not in EVENT_TYPES  # never recorded: only `POST .../webhook/test` sends it
    assert set(STATUS_AFTER.values()) | {INITIAL_STATUS} == set(INSTANCE_STATUSES)
    assert tuple(c.type for c in (Connected, Disconnected, LoggedOut, QrReceived)) == STATUS_EVENT_TYPES


def test_the_aggregate_folds_statuses_from_the_one_map() -> None:
    instance = Instance(id="i")
    assert instance.status == INITIAL_STATUS
    for cls, status in STATUS_AFTER.items():
        fields = {"instance_id": "i", "qr_code": "q", "attempt": 1, "reason": "r", "will_reconnect": False}
        names = cls.__dataclass_fields__
        instance.apply(cls(**{k: v for k, v in fields.items() if k in names}), 0)
        assert instance.status == status, cls.type


# Three or more quoted catalog names inside one [...] literal: a copy of a server list.
_NAMES = {*INSTANCE_STATUSES, *WEBHOOK_EVENT_TYPES, *ACTIVITY_TYPES}
_ARRAY = re.compile(r"\[([^\[\]]*)\]", re.S)
_QUOTED = re.compile(r"""["']([a-z_]+)["']""")


def test_the_web_manager_keeps_no_copy_of_a_server_list() -> None:
    copies = []
    for path in sorted((ROOT / "public").rglob("*.js")):
        if "vendor" in path.parts:
            continue
        for array in _ARRAY.findall(path.read_text(encoding="utf-8")):
            found = [name for name in _QUOTED.findall(array) if name in _NAMES]
            if len(found) >= 3:
                copies.append(f"{path.relative_to(ROOT)}: {found}")
    assert not copies, "lists copied in the web manager (read them from GET /api/meta):\n" + "\n".join(copies)
