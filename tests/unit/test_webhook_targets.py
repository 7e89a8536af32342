"""Webhook targets: the domain rules (validation, limit, slots, `wants`) and the outbox rows per target."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.projection_rig import BACKENDS, ProjectionRig, open_projection_rig
from wamux.adapters.eventlog.secret_cipher import SecretCipher, create_key
from wamux.core.usecases.webhooks import _replay_events
from wamux.domain import webhook_targets as wt
from wamux.domain.catalog import PUBLIC_EVENT_TYPES
from wamux.domain.errors import TooManyWebhooks, UrlNotAllowed, ValidationFailed, WebhookNotFound
from wamux.domain.events import (
    DomainEvent,
    InstanceCreated,
    MessageReceived,
    MessageSent,
    RecordedEvent,
    WebhookDelivered,
    WebhookFailed,
    WebhookReplayQueued,
    WebhookRetryRequested,
    WebhookTargetAdded,
    WebhookTargetRemoved,
    WebhookTargetUpdated,
    WebhookUpdated,
    redact_secrets,
)
from wamux.domain.instances import WEBHOOK_DEFAULTS, Instance
from wamux.projections.outbox import (
    DELIVERIES,
    SEQ_SHIFT,
    OutboxProjection,
    default_target_events,
    delivery_id,
    target_delivery_id,
    webhook_stream_id,
)
from wamux.projections.ports import Query

IID = "0190a5c2-0000-7000-8000-0000000000cc"
ALICE = "79001234567@s.whatsapp.net"
T0 = 1_700_000_000_000


def target_body(**fields: Any) -> dict[str, Any]:
    return {"url": "https://hooks.example.com/a", "events": ["message_received"], **fields}


# ---- the domain ------------------------------------------------------------------------------


def test_events_are_public_names_or_star_and_every_unknown_one_is_listed() -> None:
    assert wt.check_events(["message_received", "message_sent", "message_received"]) == [
        "message_received",
        "message_sent",
    ]
    assert wt.check_events(["message_sent", "*"]) == ["*"]
    with pytest.raises(ValidationFailed) as bad:
        wt.check_events(["message_received", "nope", "test", "created"])
    assert bad.value.details is not None and bad.value.details["unknown"] == ["nope", "test", "created"]
    assert "nope, test, created" in bad.value.message
    for empty in ([], None, "message_received", [1]):
        with pytest.raises(ValidationFailed):
            wt.check_events(empty)


def test_a_target_is_validated_with_the_rules_of_the_default_one() -> None:
    target = wt.check_target(target_body(secret="s", headers={"X-Tenant": "a"}, maxRetries=0, retryInterval=5))
    assert target == {
        "url": "https://hooks.example.com/a",
        "events": ["message_received"],
        "secret": "s",
        "headers": {"X-Tenant": "a"},
        "enabled": True,
        "maxRetries": 0,
        "retryInterval": 5,
    }
    assert wt.check_target(target_body(id="x", pending=3))["maxRetries"] == 3  # what a listing shows is ignored
    for bad in (
        {"events": ["*"]},  # no url
        {"url": "https://h.example.com"},  # no events
        target_body(url="ftp://h.example.com"),
        target_body(headers={"X-Webhook-Id": "mine"}),
        target_body(headers={"Host": "evil"}),
        target_body(maxRetries=51),
        target_body(retryInterval=86_400_001),
        target_body(enabled="yes"),
        target_body(secret=7),
        target_body(colour="red"),
    ):
        with pytest.raises(ValidationFailed):
            wt.check_target(bad)


def test_slots_are_the_lowest_free_ones_and_the_eleventh_target_is_refused() -> None:
    inst = Instance(id=IID)
    for i in range(wt.MAX_TARGETS):
        (event,) = inst.add_target(f"wh_{i}", target_body(), T0)
        inst.apply(event, T0 + i)
    assert sorted(t["slot"] for t in inst.webhook_targets.values()) == list(range(1, 11))
    with pytest.raises(TooManyWebhooks) as full:
        inst.add_target("wh_x", target_body(), T0)
    assert full.value.code == "too_many_webhooks"
    inst.apply(inst.remove_target("wh_3")[0], T0 + 20)
    (again,) = inst.add_target("wh_new", target_body(), T0 + 30)
    assert isinstance(again, WebhookTargetAdded) and again.target["slot"] == 4 and again.target["createdMs"] == T0 + 30
    with pytest.raises(WebhookNotFound):
        inst.remove_target("wh_3")
    assert wt.new_target_id().startswith("wh_") and len(wt.new_target_id()) == 15


def test_an_update_names_what_changed_and_a_masked_secret_keeps_the_secret() -> None:
    inst = Instance(id=IID)
    inst.apply(inst.add_target("wh_a", target_body(secret="k1"), T0)[0], T0)
    assert inst.update_target("wh_a", {"secret": "***", "events": ["message_received"]}) == []
    (event,) = inst.update_target("wh_a", {"url": "https://hooks.example.com/b", "secret": "***", "enabled": False})
    assert isinstance(event, WebhookTargetUpdated)
    assert event.changed == ["url", "enabled"] and event.target["secret"] == "k1" and event.target["slot"] == 1
    inst.apply(event, T0 + 5)
    assert inst.webhook_targets["wh_a"]["updatedMs"] == T0 + 5 and inst.webhook_targets["wh_a"]["createdMs"] == T0
    with pytest.raises(WebhookNotFound):
        inst.update_target("wh_zz", {"enabled": True})


def test_a_target_wants_its_events_while_it_is_enabled() -> None:
    def rec(event: DomainEvent) -> RecordedEvent:
        return RecordedEvent(IID, 1, T0, 1, event)

    got = rec(MessageReceived(instance_id=IID, message_id="M", chat_jid=ALICE, sender_jid=ALICE, message_type="text"))
    out = rec(MessageSent(instance_id=IID, message_id="S", to=ALICE, message_type="text"))
    created = rec(InstanceCreated(IID, "u", "n", None, None, False, {}))
    target = {"url": "https://h.example.com", "events": ["message_received"], "enabled": True}
    assert wt.wants(target, got) and not wt.wants(target, out)
    assert wt.wants({**target, "events": ["*"]}, out) and not wt.wants({**target, "events": ["*"]}, created)
    assert not wt.wants({**target, "enabled": False}, got)


def test_the_default_target_maps_onto_the_instance_settings_and_refuses_events() -> None:
    changes = wt.default_target_changes(
        {"url": "https://h.example.com", "enabled": True, "secret": "***", "maxRetries": 2, "id": "default"}
    )
    assert changes == {
        "webhookUrl": "https://h.example.com",
        "webhookEnabled": True,
        "webhookSettings": {"maxRetries": 2},
    }
    with pytest.raises(ValidationFailed) as bad:
        wt.default_target_changes({"events": ["*"]})
    assert bad.value.details is not None and "events" in bad.value.details
    flags = {"notifyReceived": True, "notifySent": False, "notifyDelivery": False, "notifyRead": False}
    events = default_target_events(flags)
    assert "message_received" in events and "message_sent" not in events and "message_status" not in events
    assert "message_reaction" in events and "presence_update" in events and "connected" in events
    assert set(default_target_events({**flags, "notifySent": True, "notifyRead": True})) == set(PUBLIC_EVENT_TYPES)


def test_the_url_rule_is_the_outbound_one() -> None:
    with pytest.raises(ValidationFailed) as bad:
        wt.check_target(target_body(url="http://[::1/"))
    assert not isinstance(bad.value, UrlNotAllowed) and bad.value.details == {"url": "invalid"}


# ---- the outbox, per target ------------------------------------------------------------------


@pytest.fixture(params=["fake"])
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ProjectionRig]:
    yield from open_projection_rig(request, tmp_path, OutboxProjection())


def created(**settings: Any) -> InstanceCreated:
    return InstanceCreated(
        instance_id=IID,
        user_id="u1",
        name="Main",
        description=None,
        webhook_url="https://hooks.example.com/default",
        webhook_enabled=True,
        webhook_settings={**WEBHOOK_DEFAULTS, **settings},
    )


def incoming(n: int) -> MessageReceived:
    return MessageReceived(
        instance_id=IID, message_id=f"M{n}", chat_jid=ALICE, sender_jid=ALICE, message_type="text", body=f"b{n}"
    )


def outgoing(n: int) -> MessageSent:
    return MessageSent(instance_id=IID, message_id=f"S{n}", to=ALICE, message_type="text", body=f"s{n}")


def add(rig: ProjectionRig, webhook_id: str, slot: int, ts: int = T0, **fields: Any) -> None:
    target = {**wt.TARGET_DEFAULTS, **target_body(url=f"https://hooks.example.com/{webhook_id}"), **fields}
    rig.feed(IID, WebhookTargetAdded(IID, webhook_id, {**target, "slot": slot, "createdMs": ts}), ts)


def rows(rig: ProjectionRig, **where: Any) -> list[dict[str, Any]]:
    return rig.find(DELIVERIES, Query(where={"instanceId": IID, **where}, order=(("seq", False),)))


def test_one_row_per_target_that_wants_the_event_under_one_webhook_id(rig: ProjectionRig) -> None:
    rig.feed(IID, created(secret="d-key"), T0)
    add(rig, "wh_a", 1, secret="a-key")
    add(rig, "wh_b", 2, events=["*"])
    rig.feed(IID, incoming(1), T0 + 10)
    position = rig.log[-1].position
    got = rows(rig)
    assert [r["webhookId"] for r in got] == ["default", "wh_a", "wh_b"]
    assert [r["seq"] for r in got] == [position << SEQ_SHIFT | slot for slot in (0, 1, 2)]
    event_id = delivery_id(rig.log[-1])
    assert got[0]["id"] == event_id  # the default target keeps the ids of the rows before targets
    assert [r["id"] for r in got[1:]] == [target_delivery_id(event_id, w) for w in ("wh_a", "wh_b")]
    assert {r["headers"]["X-Webhook-Id"] for r in got} == {event_id}
    assert [r["headers"]["X-Webhook-Target"] for r in got] == ["default", "wh_a", "wh_b"]
    assert got[1]["url"] == "https://hooks.example.com/wh_a" and got[0]["body"] == got[1]["body"]
    sig = hmac.new(b"a-key", got[1]["body"].encode(), hashlib.sha256).hexdigest()
    assert got[1]["headers"]["X-Webhook-Signature"] == sig and "X-Webhook-Signature" not in got[2]["headers"]
    assert all(r["status"] == "pending" and r["nextAttemptMs"] == T0 + 10 for r in got)

    rig.feed(IID, outgoing(1), T0 + 20)  # wh_a wants only message_received
    assert [r["webhookId"] for r in rows(rig) if r["event"] == "message_sent"] == ["default", "wh_b"]


def test_a_url_change_moves_every_pending_row_of_that_target_only(rig: ProjectionRig) -> None:
    rig.feed(IID, created(), T0)
    add(rig, "wh_a", 1)
    for n in range(3):
        rig.feed(IID, incoming(n), T0 + 10 + n)
    first = rows(rig, webhookId="wh_a")[0]
    rig.feed(
        webhook_stream_id(IID, "wh_a"), WebhookDelivered(IID, first["id"], "message_received", 200, 1, 1.0, "wh_a")
    )
    moved = {**wt.TARGET_DEFAULTS, **target_body(url="https://new.example.com/in", secret="new-key")}
    change = WebhookTargetUpdated(IID, "wh_a", {**moved, "slot": 1, "createdMs": T0}, ["url", "secret"])
    rig.feed(IID, change, T0 + 100)
    after = rows(rig, webhookId="wh_a")
    assert after[0]["status"] == "delivered" and after[0]["url"] == "https://hooks.example.com/wh_a"
    for row in after[1:]:
        assert row["status"] == "pending" and row["url"] == "https://new.example.com/in"
        assert row["attempts"] == 0 and row["nextAttemptMs"] == T0 + 100
        sig = hmac.new(b"new-key", row["body"].encode(), hashlib.sha256).hexdigest()
        assert row["headers"]["X-Webhook-Signature"] == sig
    assert [r["seq"] for r in after] == sorted(r["seq"] for r in after)  # their order is kept
    assert {r["url"] for r in rows(rig, webhookId="default")} == {"https://hooks.example.com/default"}

    # The default target moves the same way when `webhookUrl` changes.
    settings = {**WEBHOOK_DEFAULTS}
    rig.feed(IID, WebhookUpdated(IID, "https://moved.example.com/d", True, settings, ["webhookUrl"]), T0 + 200)
    default_rows = rows(rig, webhookId="default")
    assert {r["url"] for r in default_rows if r["status"] == "pending"} == {"https://moved.example.com/d"}
    assert default_rows[-1]["event"] == "webhook_updated"  # and the change itself is notified there


def test_disable_and_remove_cancel_pending_rows_which_stay_listed_and_retryable(rig: ProjectionRig) -> None:
    rig.feed(IID, created(), T0)
    add(rig, "wh_a", 1)
    add(rig, "wh_b", 2)
    rig.feed(IID, incoming(1), T0 + 10)
    off = {**wt.TARGET_DEFAULTS, **target_body(url="https://hooks.example.com/wh_a"), "enabled": False}
    rig.feed(IID, WebhookTargetUpdated(IID, "wh_a", {**off, "slot": 1, "createdMs": T0}, ["enabled"]), T0 + 20)
    (cancelled,) = rows(rig, webhookId="wh_a")
    assert cancelled["status"] == "cancelled"
    rig.feed(IID, incoming(2), T0 + 30)
    assert len(rows(rig, webhookId="wh_a")) == 1  # a disabled target gets nothing new

    retry = WebhookRetryRequested(IID, cancelled["id"], "wh_a")
    rig.feed(webhook_stream_id(IID, "wh_a"), retry)  # while disabled: nothing to send it to
    assert rows(rig, webhookId="wh_a")[0]["status"] == "cancelled"
    on = {**off, "enabled": True, "url": "https://back.example.com/a"}
    rig.feed(IID, WebhookTargetUpdated(IID, "wh_a", {**on, "slot": 1, "createdMs": T0}, ["url", "enabled"]), T0 + 40)
    rig.feed(webhook_stream_id(IID, "wh_a"), retry)
    (again,) = rows(rig, webhookId="wh_a")
    assert again["status"] == "pending" and again["url"] == "https://back.example.com/a"
    assert (
        again["seq"] == rig.log[-1].position << SEQ_SHIFT and again["headers"]["X-Webhook-Id"] == cancelled["eventId"]
    )

    rig.feed(IID, WebhookTargetRemoved(IID, "wh_b"), T0 + 50)
    assert {r["status"] for r in rows(rig, webhookId="wh_b")} == {"cancelled"} and len(rows(rig, webhookId="wh_b")) == 2
    rig.feed(IID, incoming(3), T0 + 60)
    assert len(rows(rig, webhookId="wh_b")) == 2


def test_replayed_items_become_rows_again_without_duplicates(rig: ProjectionRig) -> None:
    rig.feed(IID, created(), T0)
    add(rig, "wh_a", 1, events=["*"])
    rig.feed(IID, incoming(1), T0 + 10)
    original = rig.log[-1]
    (row,) = rows(rig, webhookId="wh_a")
    stream = webhook_stream_id(IID, "wh_a")
    rig.feed(stream, WebhookDelivered(IID, row["id"], "message_received", 200, 1, 1.0, "wh_a", seq=row["seq"]))
    items = [
        {"id": delivery_id(original), "type": "message_received", "data": json.loads(row["body"])["data"],
         "timestamp_ms": original.timestamp_ms, "position": original.position},
        {"id": "older-event", "type": "message_sent", "data": {"instanceId": IID, "messageId": "S0"},
         "timestamp_ms": T0 - 5, "position": 1},
    ]  # fmt: skip
    rig.feed(stream, WebhookReplayQueued(IID, "wh_a", items), T0 + 100)
    replay_position = rig.log[-1].position
    again = {r["id"]: r for r in rows(rig, webhookId="wh_a")}
    assert len(again) == 2
    requeued = again[row["id"]]
    assert requeued["status"] == "pending" and requeued["body"] == row["body"]  # same bytes, same X-Webhook-Id
    assert requeued["seq"] == replay_position << SEQ_SHIFT and requeued["createdAt"] == row["createdAt"]
    assert requeued["headers"]["X-Webhook-Id"] == row["headers"]["X-Webhook-Id"]
    older = again[target_delivery_id("older-event", "wh_a")]
    assert older["seq"] == replay_position << SEQ_SHIFT | 1 and older["eventPosition"] == 1
    # A result of the try that began before the replay does not end the replayed queuing.
    rig.feed(stream, WebhookFailed(IID, row["id"], "message_received", 4, 500, "HTTP 500", "wh_a", seq=row["seq"]))
    assert rows(rig, webhookId="wh_a")[0]["status"] == "pending"
    rig.feed(stream, WebhookDelivered(IID, row["id"], "message_received", 200, 1, 1.0, "wh_a", seq=requeued["seq"]))
    assert {r["id"]: r["status"] for r in rows(rig, webhookId="wh_a")}[row["id"]] == "delivered"


def test_rows_written_before_targets_belong_to_the_default_target(rig: ProjectionRig) -> None:
    rig.feed(IID, created(), T0)
    legacy = {
        "id": "old-1",
        "instanceId": IID,
        "event": "message_received",
        "url": "https://hooks.example.com/default",
        "headers": {"Content-Type": "application/json", "X-Webhook-Id": "old-1"},
        "body": '{"event":"message_received","data":{}}',
        "status": "pending",
        "attempts": 0,
        "position": 1,
        "createdMs": T0,
        "createdAt": "x",
    }
    rig.fake.put(DELIVERIES, "old-1", legacy)
    rig.feed(IID, WebhookUpdated(IID, "https://moved.example.com/d", True, dict(WEBHOOK_DEFAULTS), ["webhookUrl"]))
    row = rig.get(DELIVERIES, "old-1")
    assert row is not None and row["url"] == "https://moved.example.com/d" and row["webhookId"] == "default"
    assert row["headers"]["X-Webhook-Id"] == "old-1" and row["headers"]["X-Webhook-Target"] == "default"


@pytest.fixture(params=BACKENDS)
def any_rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ProjectionRig]:
    yield from open_projection_rig(request, tmp_path, OutboxProjection())


def test_a_rebuild_makes_the_same_rows_and_settings(any_rig: ProjectionRig) -> None:
    rig = any_rig
    rig.feed(IID, created(secret="k"), T0)
    add(rig, "wh_a", 1, events=["*"])
    add(rig, "wh_b", 2)
    for n in range(3):
        rig.feed(IID, incoming(n), T0 + 10 + n)
    a_rows = rows(rig, webhookId="wh_a")
    stream = webhook_stream_id(IID, "wh_a")
    rig.feed(stream, WebhookFailed(IID, a_rows[0]["id"], "message_received", 1, 500, "HTTP 500", "wh_a"))
    rig.feed(IID, WebhookTargetRemoved(IID, "wh_b"), T0 + 50)
    rig.feed(stream, WebhookRetryRequested(IID, a_rows[0]["id"], "wh_a"))
    rig.feed(stream, WebhookReplayQueued(IID, "wh_a", [{"id": "e1", "type": "connected", "data": {}, "timestamp_ms": T0,
                                                         "position": 1}]))  # fmt: skip
    before = rig.everything()
    assert {r["status"] for r in before["webhook_deliveries"]} == {"pending", "cancelled"}
    rig.rebuild()
    assert rig.everything() == before


def test_a_target_secret_is_sealed_at_rest_and_redacted_in_exports() -> None:
    target = {**wt.TARGET_DEFAULTS, **target_body(secret="t-secret"), "slot": 1, "createdMs": T0}
    cipher = SecretCipher(create_key())
    for event in (
        WebhookTargetAdded(IID, "wh_a", target),
        WebhookTargetUpdated(IID, "wh_a", target, ["secret"]),
    ):
        sealed = cipher.seal(type(event), event.payload())
        assert "t-secret" not in json.dumps(sealed) and set(sealed["target"]["secret"]) == {"$enc"}
        assert cipher.open(type(event), sealed)["target"]["secret"] == "t-secret"
        assert redact_secrets(event)["target"]["secret"] == "***"


def test_a_replay_is_cut_into_events_of_at_most_a_thousand_items_and_a_few_megabytes() -> None:
    def items(count: int, data: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {"id": str(i), "type": "connected", "data": data, "timestamp_ms": T0, "position": i} for i in range(count)
        ]

    def sizes(events: list[DomainEvent]) -> list[int]:
        return [len(e.items) for e in events if isinstance(e, WebhookReplayQueued)]

    events = _replay_events(IID, "wh_a", items(2500, {"n": 1}))
    assert sizes(events) == [1000, 1000, 500]
    ids = [i["id"] for e in events if isinstance(e, WebhookReplayQueued) for i in e.items]
    assert ids == [str(i) for i in range(2500)]
    assert sizes(_replay_events(IID, "wh_a", items(9, {"body": "x" * 1_000_000}))) == [4, 4, 1]
