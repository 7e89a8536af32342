"""The users and instances listings: pure projections, run on an in-memory fake session and on SQLite."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.memory_read_session import MemoryReadSession
from wamux.adapters.readmodels.sqlite import SQLiteReadModelStore
from wamux.domain.events import (
    ApiKeyRotated,
    Connected,
    Disconnected,
    DomainEvent,
    InstanceCreated,
    InstanceDeleted,
    InstanceFailed,
    InstanceUpdated,
    LoggedOut,
    MessageSent,
    PairingCodeRequested,
    QrReceived,
    ReconnectRequested,
    RecordedEvent,
    UserCreated,
    UserDeleted,
    UserUpdated,
    WebhookUpdated,
)
from wamux.domain.instances import Instance
from wamux.projections.instances import INSTANCES, InstancesProjection
from wamux.projections.ports import Projection, Query, ReadSession
from wamux.projections.users import USERS, UsersProjection


class Rig:
    """Feeds recorded events to a projection and reads the rows back, on one backend."""

    def __init__(self, apply: Callable[[Projection, RecordedEvent], None], session: Callable[[], ReadSession]) -> None:
        self._apply = apply
        self.session = session
        self.position = 0
        self.versions: dict[str, int] = {}

    def feed(self, projection: Projection, stream_id: str, event: DomainEvent, ts: int) -> None:
        self.position += 1
        self.versions[stream_id] = self.versions.get(stream_id, 0) + 1
        recorded = RecordedEvent(stream_id, self.versions[stream_id], ts, self.position, copy.deepcopy(event))
        self._apply(projection, recorded)


@pytest.fixture(params=["fake", "sqlite"])
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    if request.param == "fake":
        fake = MemoryReadSession()
        yield Rig(lambda p, r: p.apply(fake, r), lambda: fake)
        return
    store = SQLiteReadModelStore(str(tmp_path / "rm.db"))
    store.ensure((USERS, INSTANCES))

    def apply(projection: Projection, recorded: RecordedEvent) -> None:
        store.apply(projection.name, recorded.position, lambda s: projection.apply(s, recorded))

    class Reader:
        get = staticmethod(store.get)
        find = staticmethod(store.find)

    yield Rig(apply, lambda: Reader())  # type: ignore[arg-type,return-value]
    store.close()


# ---- instances -------------------------------------------------------------------------------

IID = "0190a5c2-0000-7000-8000-000000000001"
OTHER = "0190a5c2-0000-7000-8000-000000000002"


def create(iid: str, user: str, name: str, **body: Any) -> InstanceCreated:
    (event,) = Instance.create(iid, user, {"name": name, **body})
    assert isinstance(event, InstanceCreated)
    return event


def test_instance_created_row(rig: Rig) -> None:
    p = InstancesProjection()
    rig.feed(p, IID, create(IID, "u1", "Main", webhookUrl="https://h.example.com", limits={"maxApiCalls": 5}), 1_000)
    row = rig.session().get(INSTANCES, IID)
    assert row is not None
    settings = row.pop("webhookSettings")
    assert settings["maxRetries"] == 3 and settings["notifyReceived"] is True
    assert row == {
        "id": IID,
        "userId": "u1",
        "name": "Main",
        "description": None,
        "status": "connecting",
        "webhookUrl": "https://h.example.com",
        "webhookEnabled": True,
        "limits": {"maxApiCalls": 5, "period": "day"},
        "settings": {},
        "createdMs": 1_000,
        "updatedMs": 1_000,
        "lastActivityMs": 1_000,
    }


def test_instance_status_follows_connection_events(rig: Rig) -> None:
    p = InstancesProjection()
    rig.feed(p, IID, create(IID, "u1", "Main"), 1_000)
    steps: list[tuple[DomainEvent, str]] = [
        (QrReceived(instance_id=IID, qr_code="1@a", attempt=1), "qr"),
        (PairingCodeRequested(instance_id=IID, phone="79001234567"), "qr"),
        (Connected(instance_id=IID, jid="79001234567@s.whatsapp.net", push_name="Me"), "connected"),
        (Disconnected(instance_id=IID, reason="connection_lost", will_reconnect=True), "disconnected"),
        (ReconnectRequested(instance_id=IID), "connecting"),
        (LoggedOut(instance_id=IID), "logged_out"),
        (InstanceFailed(instance_id=IID, reason="x"), "failed"),
    ]
    for i, (event, status) in enumerate(steps):
        rig.feed(p, IID, event, 2_000 + i)
        row = rig.session().get(INSTANCES, IID)
        assert row is not None
        assert row["status"] == status, event
        assert row["lastActivityMs"] == 2_000 + i
        assert row["updatedMs"] == 1_000  # connection events are activity, not edits
    assert row["jid"] == "79001234567@s.whatsapp.net" and row["pushName"] == "Me"


def test_instance_update_webhook_update_and_delete(rig: Rig) -> None:
    p = InstancesProjection()
    rig.feed(p, IID, create(IID, "u1", "Main"), 1_000)
    rig.feed(p, OTHER, create(OTHER, "u2", "Other"), 1_001)
    instance = Instance(id=IID)
    instance.apply(create(IID, "u1", "Main"), 1_000)
    for i, event in enumerate(
        instance.update({"name": "Renamed", "description": "d", "webhookUrl": "https://x.example.com"})
    ):
        rig.feed(p, IID, event, 2_000 + i)
    row = rig.session().get(INSTANCES, IID)
    assert row is not None
    assert (row["name"], row["description"], row["webhookUrl"], row["webhookEnabled"]) == (
        "Renamed",
        "d",
        "https://x.example.com",
        False,
    )
    assert row["updatedMs"] == 2_001
    assert [r["id"] for r in rig.session().find(INSTANCES, Query(where={"userId": "u1"}))] == [IID]
    rig.feed(p, IID, InstanceDeleted(instance_id=IID), 3_000)
    assert rig.session().get(INSTANCES, IID) is None
    # the other instance is untouched, and events of a deleted stream are ignored
    rig.feed(p, IID, Connected(instance_id=IID), 3_001)
    assert rig.session().get(INSTANCES, IID) is None
    assert [r["id"] for r in rig.session().find(INSTANCES, Query(order=(("createdMs", False),)))] == [OTHER]


def test_instances_ignores_events_of_unknown_streams(rig: Rig) -> None:
    p = InstancesProjection()
    rig.feed(p, IID, QrReceived(instance_id=IID, qr_code="1@a", attempt=1), 1_000)
    rig.feed(p, IID, InstanceUpdated(instance_id=IID, changes={"name": "x"}), 1_001)
    rig.feed(
        p,
        IID,
        WebhookUpdated(instance_id=IID, webhook_url=None, webhook_enabled=False, webhook_settings={}, changed=[]),
        1_002,
    )
    assert rig.session().get(INSTANCES, IID) is None


def test_instances_topics_are_what_apply_understands() -> None:
    topics = set(InstancesProjection.topics)
    assert {"created", "updated", "webhook_updated", "deleted", "qr_received", "connected", "failed"} <= topics
    assert MessageSent.type not in topics


# ---- users -----------------------------------------------------------------------------------

UID = "0190a5c2-0000-7000-8000-0000000000aa"


def user_created(uid: str = UID, email: str = "a@example.com", role: str = "user") -> UserCreated:
    return UserCreated(
        user_id=uid,
        email=email,
        password_hash="$2b$secret",
        api_key_hash="hash-1",
        first_name="A",
        last_name="B",
        role=role,
    )


def test_user_rows(rig: Rig) -> None:
    p = UsersProjection()
    rig.feed(p, UID, user_created(), 1_000)
    row = rig.session().get(USERS, UID)
    assert row == {
        "id": UID,
        "email": "a@example.com",
        "firstName": "A",
        "lastName": "B",
        "role": "user",
        "apiKeyHash": "hash-1",
        "createdMs": 1_000,
        "updatedMs": 1_000,
    }
    assert "password_hash" not in json.dumps(row) and "$2b$" not in json.dumps(row)
    rig.feed(
        p,
        UID,
        UserUpdated(
            user_id=UID, changes={"first_name": "Ann", "role": "admin", "password_hash": "$2b$new", "email": "n@e.co"}
        ),
        2_000,
    )
    rig.feed(p, UID, ApiKeyRotated(user_id=UID, api_key_hash="hash-2"), 3_000)
    row = rig.session().get(USERS, UID)
    assert row is not None
    assert (row["firstName"], row["role"], row["email"], row["apiKeyHash"]) == ("Ann", "admin", "n@e.co", "hash-2")
    assert row["updatedMs"] == 3_000 and row["createdMs"] == 1_000
    assert "$2b$" not in json.dumps(row)
    assert [r["id"] for r in rig.session().find(USERS, Query(where={"role": "admin"}))] == [UID]
    rig.feed(p, UID, UserDeleted(user_id=UID), 4_000)
    assert rig.session().get(USERS, UID) is None
    rig.feed(p, UID, ApiKeyRotated(user_id=UID, api_key_hash="hash-3"), 5_000)
    assert rig.session().get(USERS, UID) is None


def test_sqlite_projection_position_is_saved_with_rows(tmp_path: Path) -> None:
    store = SQLiteReadModelStore(str(tmp_path / "rm.db"))
    store.ensure(UsersProjection.collections)
    p = UsersProjection()
    store.apply(p.name, 7, lambda s: p.apply(s, RecordedEvent(UID, 1, 1_000, 7, user_created())))

    def broken(session: ReadSession) -> None:
        p.apply(session, RecordedEvent(UID, 2, 2_000, 8, UserDeleted(user_id=UID)))
        raise RuntimeError("crash mid-transaction")

    with pytest.raises(RuntimeError):
        store.apply(p.name, 8, broken)
    # neither the row change nor the position of the failed transaction is kept
    assert store.position(p.name) == 7
    assert store.get(USERS, UID) is not None
    store.close()
