"""API-2 §8 "Secrets at rest" and "One server per DATA_DIR" on a real server (raw-document tests on both stores)."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from tests.harness import Api, ServerProcess, wait_for
from tests.receiver import Received, Receiver
from wamux.adapters.eventlog.secret_cipher import create_key

SECRET_A = "first-webhook-secret-9f3a"
SECRET_B = "second-webhook-secret-77c1"


def raw_log(data_dir: Path, mongo_url: str | None) -> bytes:
    """The event log exactly as stored: MongoDB's raw event documents, PostgreSQL's stored rows (as psycopg
    reads them, the state column as its bytes), or every SQLite log file in DATA_DIR."""
    if mongo_url is None:
        files = [p for p in data_dir.glob("whatsapp-api*.db*") if "readmodels" not in p.name]
        assert files
        return b"".join(p.read_bytes() for p in files)
    if mongo_url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(mongo_url) as conn:
            rows = conn.execute("SELECT originator_id::text, topic, state FROM stored_events").fetchall()
        assert rows
        return b"".join(f"{oid}{topic}".encode() + bytes(state) for oid, topic, state in rows)
    from bson.codec_options import CodecOptions
    from bson.raw_bson import RawBSONDocument

    from wamux.adapters.eventlog.mongo import open_mongo_recorder

    recorder = open_mongo_recorder(mongo_url)
    try:
        events = recorder.events.with_options(codec_options=CodecOptions(document_class=RawBSONDocument))  # type: ignore[attr-defined]
        docs = [doc.raw for doc in events.find({})]
        assert docs
        return b"".join(docs)
    finally:
        recorder.datastore.close()  # type: ignore[attr-defined]


async def signed_send(api: Api, rx: Receiver, iid: str, secret: str, text: str) -> None:
    """Send a message and check its `message_sent` webhook is signed with `secret`."""
    r = await api.post(f"/api/whatsapp/{iid}/send", json={"phone": "79001234567", "message": text})
    assert r.status_code == 200, r.text
    mid = r.json()["id"]

    def delivered() -> list[Received]:
        return [q for q in rx.at("/vault") if q.json["event"] == "message_sent" and q.json["data"]["messageId"] == mid]

    await wait_for(delivered)
    sent = delivered()[0]
    expected = hmac.new(secret.encode(), sent.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(sent.headers["x-webhook-signature"], expected)


@pytest.mark.store_matters  # raw documents of each store
async def test_webhook_secrets_are_encrypted_at_rest_and_still_sign_after_a_restart(server_factory, tmp_path) -> None:
    data = tmp_path / "data"
    srv = server_factory(data)
    with Receiver() as rx:
        url = rx.on("/vault")
        async with Api(srv.url, token=srv.admin_token()) as api:
            iid = await api.connected_instance(
                "Vault", webhookUrl=url, webhookEnabled=True, webhookSecret=SECRET_A, retryInterval=100
            )
            r = await api.put(f"/api/instances/{iid}", json={"webhookSettings": {"secret": SECRET_B}})
            assert r.status_code == 200, r.text
            await wait_for(lambda: any(q.json["event"] == "webhook_updated" for q in rx.at("/vault")))
            # The feed, the activity log and the webhook_updated payload never carry a secret.
            feed = await api.get(f"/api/instances/{iid}/events", params={"types": "webhook_updated"})
            activity = await api.get(f"/api/instances/{iid}/activity")
            assert feed.status_code == 200 and activity.status_code == 200
            assert feed.json()["events"] and activity.json()["logs"]
            shown = feed.text + activity.text + b"".join(q.body for q in rx.at("/vault")).decode()
            assert SECRET_A not in shown and SECRET_B not in shown
    srv.stop()

    raw = raw_log(data, srv.env.get("DATABASE_URL"))
    assert b"Vault" in raw  # the events are there...
    assert SECRET_A.encode() not in raw and SECRET_B.encode() not in raw  # ...their secrets are not
    out = srv.cli("rebuild")  # read models rebuilt from the encrypted log sign with the plain secret
    assert out.returncode == 0, out.stderr

    srv = server_factory(data)
    with Receiver() as rx:
        url = rx.on("/vault")
        async with Api(srv.url, token=srv.admin_token()) as api:
            r = await api.put(f"/api/instances/{iid}", json={"webhookUrl": url})
            assert r.status_code == 200, r.text
            await api.wait_status(iid, "connected")
            await signed_send(api, rx, iid, SECRET_B, "after restart")

        # `events export` runs beside the server and redacts.
        out = srv.cli("events", "export", "--instance", iid)
        assert out.returncode == 0, out.stderr
        assert SECRET_A not in out.stdout and SECRET_B not in out.stdout
        records = [json.loads(line) for line in out.stdout.splitlines()]
        secrets = [
            r["data"]["webhookSettings"]["secret"] for r in records if r["type"] in ("created", "webhook_updated")
        ]
        assert secrets and set(secrets) == {"***"}
    srv.stop()

    # Another key cannot open these secrets: a clear refusal, exit 2, for the server and the CLI.
    wrong = ServerProcess(data, **{**srv.env, "WAMUX_SECRET_KEY": create_key()})
    with pytest.raises(RuntimeError, match="exited with 2") as info:
        wrong.start()
    assert "WAMUX_SECRET_KEY does not decrypt" in str(info.value) and "Traceback" not in str(info.value)
    out = wrong.cli("events", "export", "--instance", iid)
    assert out.returncode == 2 and "WAMUX_SECRET_KEY" in out.stderr and "Traceback" not in out.stderr


async def test_a_second_server_on_the_same_data_dir_exits_2(server_factory, tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = server_factory(data)
    assert first.proc is not None
    with pytest.raises(RuntimeError, match="exited with 2") as info:
        server_factory(data)
    assert f"DATA_DIR {data} is in use by another wamux server (pid {first.proc.pid})" in str(info.value)

    async with Api(first.url, token=first.admin_token()) as api:
        iid = await api.connected_instance("Still here")
        for n in range(3):
            r = await api.post(f"/api/whatsapp/{iid}/send", json={"phone": "79001234567", "message": f"m{n}"})
            assert r.status_code == 200, r.text

    # Writers are refused while the server runs; readers run beside it.
    out = first.cli("user", "add", "late@example.com", "password-1")
    assert out.returncode == 1 and "server is running" in out.stderr and f"pid {first.proc.pid}" in out.stderr
    out = first.cli("rebuild")
    assert out.returncode == 1 and "server is running" in out.stderr
    out = first.cli("instance", "list")
    assert out.returncode == 0 and iid in out.stdout, out.stderr
    out = first.cli("user", "list")
    assert out.returncode == 0 and "admin@example.com" in out.stdout, out.stderr


@pytest.mark.store_matters  # every store as the source and as the target
async def test_a_store_switch_keeps_secrets_encrypted(server_factory, switch_body, tmp_path) -> None:
    data = tmp_path / "data"
    switch = switch_body(f"secrets_{id(data)}")
    target, target_url = switch["provider"], switch.get("url")
    srv = server_factory(data)
    with Receiver() as rx:
        url = rx.on("/vault")
        async with Api(srv.url, token=srv.admin_token()) as api:
            iid = await api.connected_instance(
                "Vault", webhookUrl=url, webhookEnabled=True, webhookSecret=SECRET_A, retryInterval=100
            )
            await signed_send(api, rx, iid, SECRET_A, "before the switch")
            r = await api.post(
                "/api/db/switch", json={"provider": target, **({"url": target_url} if target_url else {})}
            )
            assert r.status_code == 200, r.text
            await signed_send(api, rx, iid, SECRET_A, "after the switch")
    srv.stop()
    raw = raw_log(data, target_url)
    assert b"Vault" in raw and SECRET_A.encode() not in raw
