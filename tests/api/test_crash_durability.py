"""`kill -9` at random moments under mixed load: sends, incoming messages and webhook deliveries.

After every restart on the same DATA_DIR, every acknowledged request (a 2xx answer received before
the kill) is in the history and the event feed, and by the end every webhook for it has arrived
under one `X-Webhook-Id` that always carries the same body. `WAMUX_CRASH_TRIALS` sets the number of
crashes (by default 5 on SQLite, 2 on MongoDB and PostgreSQL, to keep the suite near a minute); `WAMUX_CRASH_SEED`
replays a failed run (its seed is printed on failure): the kill moments, the receiver's failures and
which sends carry a key repeat; how the concurrent requests interleave does not.
"""

from __future__ import annotations

import itertools
import os
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from tests.harness import Api, ServerProcess
from tests.receiver import Receiver

pytestmark = pytest.mark.store_matters  # durability is the store's job

TRIALS = {"sqlite": 5, "mongodb": 2, "postgres": 2}
TO = "79001234567"  # the chat our sends go to
FROM = "79005554433"  # the contact incoming messages come from
HOOK = "/mix"
MESSAGE_EVENTS = ("message_sent", "message_received")


@dataclass
class Ledger:
    """What the server acknowledged, and what was asked without an answer."""

    sent: dict[str, str] = field(default_factory=dict)  # message id -> body
    received: dict[str, str] = field(default_factory=dict)  # message id -> body
    keyed: dict[str, str] = field(default_factory=dict)  # Idempotency-Key -> message id, acknowledged
    unanswered_keys: dict[str, str] = field(default_factory=dict)  # Idempotency-Key -> body, no answer
    numbers: itertools.count[int] = field(default_factory=itertools.count)


class Load:
    """Concurrent senders and incoming messages that stop at the first sign of a dead server."""

    def __init__(self, api: Api, iid: str, ledger: Ledger, rng: random.Random, trial: int) -> None:
        self.api, self.iid, self.ledger, self.rng, self.trial = api, iid, ledger, rng, trial

    async def send(self) -> None:
        while True:
            body = f"t{self.trial}-s{next(self.ledger.numbers)}"
            key = f"key-{body}" if self.rng.random() < 0.5 else None
            if key:
                self.ledger.unanswered_keys[key] = body
            try:
                r = await self.api.post(
                    f"/api/whatsapp/{self.iid}/send",
                    json={"phone": TO, "message": body},
                    headers={"Idempotency-Key": key} if key else {},
                )
            except httpx.TransportError:
                return  # killed mid-request: not acknowledged
            assert r.status_code == 200, r.text
            self.ledger.sent[r.json()["id"]] = body
            if key:
                self.ledger.keyed[key] = r.json()["id"]
                del self.ledger.unanswered_keys[key]

    async def incoming(self) -> None:
        while True:
            body = f"t{self.trial}-i{next(self.ledger.numbers)}"
            try:
                r = await self.api.post(
                    f"/api/simulator/instances/{self.iid}/incoming", json={"from": FROM, "body": body}
                )
            except httpx.TransportError:
                return
            assert r.status_code == 200, r.text
            self.ledger.received[r.json()["messageId"]] = body


async def feed(api: Api, iid: str) -> list[dict[str, Any]]:
    """Every message event of the instance, oldest first, through the feed's cursor."""
    params: dict[str, Any] = {"limit": 1000, "types": ",".join(MESSAGE_EVENTS), "since": "1970-01-01T00:00:00.000Z"}
    events: list[dict[str, Any]] = []
    while True:
        r = await api.get(f"/api/instances/{iid}/events", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        events += page["events"]
        if not page["hasMore"]:
            return events
        params = {"limit": 1000, "types": params["types"], "after": page["cursor"]}


async def history(api: Api, iid: str, chat: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while True:
        r = await api.get(f"/api/instances/{iid}/chats/{chat}/messages", params={"limit": 1000, "skip": len(messages)})
        assert r.status_code == 200, r.text
        messages += r.json()["messages"]
        if not r.json()["pagination"]["hasMore"]:
            return messages


def duplicates(values: list[str]) -> set[str]:
    return {v for v, n in Counter(values).items() if n > 1}


async def check_acknowledged(api: Api, iid: str, ledger: Ledger) -> dict[tuple[str, str], dict[str, Any]]:
    """Everything acknowledged is there exactly once; returns the feed's message events by (type, id)."""
    events = await feed(api, iid)
    by_key = {(e["type"], e["data"]["messageId"]): e for e in events}
    assert len(by_key) == len(events), "an event is in the feed twice"
    assert {("message_sent", m) for m in ledger.sent} <= by_key.keys(), "an acknowledged send is missing"
    assert {("message_received", m) for m in ledger.received} <= by_key.keys(), "an acknowledged incoming is missing"
    sent = await history(api, iid, TO)
    received = await history(api, iid, FROM)
    assert {m["messageId"]: m["content"] for m in sent if m["fromMe"]}.items() >= ledger.sent.items()
    assert {m["messageId"]: m["content"] for m in received}.items() >= ledger.received.items()
    # Bodies are unique per request, so a body seen twice is a message stored twice.
    assert not duplicates([m["content"] for m in sent + received]), "a message is stored twice"
    return by_key


async def check_idempotency(api: Api, iid: str, ledger: Ledger) -> None:
    """Acknowledged keys replay their id; a key whose answer the crash swallowed sends at most once."""
    for key, mid in ledger.keyed.items():
        r = await api.post(
            f"/api/whatsapp/{iid}/send", json={"phone": TO, "message": "never sent"}, headers={"Idempotency-Key": key}
        )
        assert r.status_code == 200 and r.json()["id"] == mid and r.headers["idempotent-replayed"] == "true", key
    for key, body in list(ledger.unanswered_keys.items()):
        r = await api.post(
            f"/api/whatsapp/{iid}/send", json={"phone": TO, "message": body}, headers={"Idempotency-Key": key}
        )
        assert r.status_code == 200, r.text
        ledger.sent[r.json()["id"]] = body
        ledger.keyed[key] = r.json()["id"]
        del ledger.unanswered_keys[key]
    bodies = [m["content"] for m in await history(api, iid, TO)]
    assert "never sent" not in bodies and not duplicates(bodies)


async def settle(rx: Receiver) -> None:
    """Wait until the receiver has taken in what a dead server had already put on the wire."""
    with trio.fail_after(10):
        while True:
            count = len(rx.requests)
            await trio.sleep(0.2)
            if len(rx.requests) == count:
                return


def check_webhooks(rx: Receiver, lifetimes: list[int], feed_events: dict[tuple[str, str], dict[str, Any]]) -> None:
    """One id per event and one body per id, across crashes; at most one success per id per server life."""
    requests = rx.at(HOOK)
    bodies: dict[str, set[bytes]] = defaultdict(set)
    ids: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in requests:
        bodies[r.headers["x-webhook-id"]].add(r.body)
        if r.json["event"] in MESSAGE_EVENTS:
            ids[(r.json["event"], r.json["data"]["messageId"])].add(r.headers["x-webhook-id"])
    assert all(len(b) == 1 for b in bodies.values()), "one X-Webhook-Id carried two bodies"
    assert all(len(i) == 1 for i in ids.values()), "one event was delivered under two X-Webhook-Ids"
    for key, event in feed_events.items():
        if key in ids:
            got = next(r.json for r in requests if r.headers["x-webhook-id"] in ids[key])
            assert (got["data"], got["timestamp"]) == (event["data"], event["timestamp"]), key
    bounds = [0, *lifetimes, len(requests)]
    crossed = set()
    for start, end in itertools.pairwise(bounds):
        life = requests[start:end]
        ok = [r.headers["x-webhook-id"] for r in life if 200 <= r.status < 300]
        assert not duplicates(ok), "a webhook was delivered twice by one server process"
        crossed |= {r.headers["x-webhook-id"] for r in life} & {r.headers["x-webhook-id"] for r in requests[end:]}
    assert crossed, "no delivery was retried across a crash: the trial did not test it"


async def test_kill_9_under_mixed_load_loses_nothing(server_factory, provider: str, tmp_path: Path) -> None:
    trials = int(os.environ.get("WAMUX_CRASH_TRIALS") or TRIALS[provider])
    seed = int(os.environ.get("WAMUX_CRASH_SEED") or random.randrange(2**32))
    print(f"crash durability: WAMUX_CRASH_SEED={seed} WAMUX_CRASH_TRIALS={trials}")  # shown when the test fails
    rng = random.Random(seed)
    data = tmp_path / "crash"
    ledger = Ledger()
    lifetimes: list[int] = []  # index in the receiver's log where each restarted server begins

    def start() -> ServerProcess:
        return server_factory(data, ALLOW_PRIVATE_URLS="1")

    with Receiver() as rx:
        url = rx.on(HOOK, status=503)  # the first crash finds every delivery still owed
        server = start()
        async with Api(server.url, token=server.admin_token()) as admin:
            iid = await admin.connected_instance(
                "Crash", webhookUrl=url, webhookEnabled=True, retryInterval=100, maxRetries=50
            )
        for trial in range(trials):
            async with Api(server.url, token=server.admin_token()) as api, trio.open_nursery() as nursery:
                load = Load(api, iid, ledger, rng, trial)
                for _ in range(2):
                    nursery.start_soon(load.send)
                    nursery.start_soon(load.incoming)
                await trio.sleep(rng.uniform(0.1, 1.0))
                server.kill()
            await settle(rx)
            lifetimes.append(len(rx.requests))
            # The next life's receiver is healthy, flaky, or down for fewer tries than a row has (none fails for good).
            mode = rng.choice(["ok", "flaky", "outage"])
            rx.on(
                HOOK,
                fail_rate=0.2 if mode == "flaky" else 0.0,
                fail_first=rng.randint(5, 30) if mode == "outage" else 0,
                rng=random.Random(rng.random()),
            )
            server = start()  # the same DATA_DIR, right after a kill -9: no stale lock may stop it
            async with Api(server.url, token=server.admin_token()) as api:
                await api.wait_status(iid, "connected")
                await check_acknowledged(api, iid, ledger)
                await check_idempotency(api, iid, ledger)
        rx.on(HOOK, status=200)
        async with Api(server.url, token=server.admin_token()) as api:
            feed_events = await check_acknowledged(api, iid, ledger)
        owed = {("message_sent", m) for m in ledger.sent} | {("message_received", m) for m in ledger.received}

        def delivered() -> set[tuple[str, str]]:
            return {
                (r.json["event"], r.json["data"]["messageId"])
                for r in rx.at(HOOK, ok_only=True)
                if r.json["event"] in MESSAGE_EVENTS
            }

        with trio.move_on_after(60):
            while not owed <= delivered():
                await trio.sleep(0.05)
        assert owed <= delivered(), f"webhooks never delivered: {sorted(owed - delivered())[:5]}"
        print(f"acknowledged: {len(ledger.sent)} sends, {len(ledger.received)} incoming; {len(rx.requests)} webhooks")
        check_webhooks(rx, lifetimes, feed_events)
        assert ledger.sent and ledger.received, "the load never got an answer"
        server.stop()
        assert server.proc is not None and server.proc.returncode == 0, server.log()
