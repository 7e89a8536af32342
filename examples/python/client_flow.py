#!/usr/bin/env python3
"""A wamux client, start to finish: log in, create an instance, link it, send, and follow incoming messages.

It needs httpx: run it with the project's interpreter, which has it (`./scripts/serve` made it),
or `pip install httpx` into your own:

    WAMUX_URL=http://127.0.0.1:3000 WAMUX_EMAIL=admin@example.com WAMUX_PASSWORD=admin123 \\
        .venv/bin/python examples/python/client_flow.py [--simulate] [--to 79001234567] \\
        [--webhook-url URL --webhook-secret S]

Authentication: WAMUX_API_KEY (sent as `x-api-key`), else WAMUX_EMAIL + WAMUX_PASSWORD (a JWT from
/api/auth/login). Without --simulate, scan the printed QR code with WhatsApp on your phone
(Settings → Linked devices), then the script sends one message and prints every incoming message
until Ctrl-C. With --simulate (server started with WHATSAPP_TRANSPORT=simulator, admin user), the
simulator "scans" the code and injects one incoming message, and the script exits after seeing it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, NoReturn

try:
    import httpx
except ImportError:  # the system Python: say how to run it instead of a traceback
    sys.exit("client_flow.py needs httpx: run it with .venv/bin/python (it has httpx), or pip install httpx")


def fail(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(1)


def expect(r: httpx.Response, *codes: int) -> Any:
    """The JSON body if the status is one of `codes`; else stop with the API's own error text."""
    if r.status_code not in codes:
        try:
            error = r.json()
            reason = f"{error.get('code')}: {error.get('error')}"
        except ValueError:
            reason = r.text[:200]
        fail(f"{r.request.method} {r.request.url.path} -> {r.status_code} {reason}")
    return r.json()


def connect(base_url: str) -> httpx.Client:
    """An HTTP client that authenticates every request."""
    api_key = os.environ.get("WAMUX_API_KEY")
    if api_key:
        print("authenticating with an API key")
        return httpx.Client(base_url=base_url, headers={"x-api-key": api_key}, timeout=30)
    email, password = os.environ.get("WAMUX_EMAIL"), os.environ.get("WAMUX_PASSWORD")
    if not (email and password):
        fail("set WAMUX_API_KEY, or WAMUX_EMAIL and WAMUX_PASSWORD")
    login = expect(httpx.post(f"{base_url}/api/auth/login", json={"email": email, "password": password}), 200)
    print(f"logged in as {login['user']['email']}")
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {login['token']}"}, timeout=30)


def create_instance(api: httpx.Client, name: str, webhook_url: str | None, secret: str | None) -> str:
    body: dict[str, Any] = {"name": name, "description": "created by examples/python/client_flow.py"}
    if webhook_url:
        body.update(
            webhookUrl=webhook_url,
            webhookEnabled=True,
            notifyReceived=True,
            notifySent=True,
            notifyDelivery=True,
            notifyRead=False,
            maxRetries=3,
            retryInterval=5000,
            headers={"X-Source": "wamux-example"},
        )
        if secret:
            body["webhookSecret"] = secret
    instance = expect(api.post("/api/instances", json=body), 201)
    print(f"instance {instance['id']} created (status {instance['status']})")
    return str(instance["id"])


def wait_for_qr(api: httpx.Client, instance_id: str, timeout: float) -> str:
    """Poll /qr: 202 while the code is generated, then 200 with the string to render as a QR code."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = api.get(f"/api/instances/{instance_id}/qr")
        if r.status_code == 200:
            qr: str = r.json()["qrCode"]
            print(f"QR code: {qr}")
            print(f"  (as an image: GET /api/instances/{instance_id}/qr?format=png)")
            return qr
        expect(r, 202)
        time.sleep(0.5)
    fail("no QR code in time")


def wait_until_ready(api: httpx.Client, instance_id: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = expect(api.get(f"/api/whatsapp/{instance_id}/status"), 200)
        if status["ready"]:
            print(f"connected: status {status['status']}")
            return
        time.sleep(0.5)
    fail("the instance did not connect in time")


def latest_timestamp(api: httpx.Client, instance_id: str) -> str | None:
    """Where to start following: the newest event now (so old ones are not printed again)."""
    page = expect(api.get(f"/api/instances/{instance_id}/events", params={"limit": 1}), 200)
    since: str | None = page["latestTimestamp"]
    return since


def follow(api: httpx.Client, instance_id: str, since: str | None, stop_after: int | None) -> None:
    """Poll /events with since=latestTimestamp: every event exactly once, in order."""
    seen = 0
    while stop_after is None or seen < stop_after:
        params: dict[str, Any] = {"types": "message_received", "limit": 100}
        if since:
            params["since"] = since
        page = expect(api.get(f"/api/instances/{instance_id}/events", params=params), 200)
        for event in page["events"]:
            message = event["data"]
            print(f"incoming from {message['from']}: {message['body']}", flush=True)
            seen += 1
        since = page["latestTimestamp"] or since
        if not page["hasMore"]:
            time.sleep(1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("WAMUX_URL", "http://127.0.0.1:3000"))
    parser.add_argument("--name", default="Example instance")
    parser.add_argument("--to", default="79001234567", help="who receives the test message")
    parser.add_argument("--webhook-url", default=os.environ.get("WAMUX_WEBHOOK_URL"))
    parser.add_argument("--webhook-secret", default=os.environ.get("WAMUX_WEBHOOK_SECRET"))
    parser.add_argument("--simulate", action="store_true", help="link and receive through the simulator")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the QR scan")
    args = parser.parse_args()

    with connect(args.url.rstrip("/")) as api:
        instance_id = create_instance(api, args.name, args.webhook_url, args.webhook_secret)
        wait_for_qr(api, instance_id, timeout=30)
        if args.simulate:
            expect(api.post(f"/api/simulator/instances/{instance_id}/scan", json={"pushName": "Example"}), 200)
            print("scanned with the simulator")
        else:
            print("scan it with WhatsApp: Settings → Linked devices → Link a device")
        wait_until_ready(api, instance_id, timeout=args.timeout)

        sent = expect(api.post(f"/api/whatsapp/{instance_id}/send", json={"phone": args.to, "message": "Hello!"}), 200)
        print(f"sent message {sent['id']}")

        since = latest_timestamp(api, instance_id)
        if args.simulate:
            incoming = {"from": "79005554433", "body": "Hello from the simulator", "pushName": "Sim"}
            expect(api.post(f"/api/simulator/instances/{instance_id}/incoming", json=incoming), 200)
            follow(api, instance_id, since, stop_after=1)
            print("done")
        else:
            print("waiting for incoming messages (Ctrl-C to stop)")
            try:
                follow(api, instance_id, since, stop_after=None)
            except KeyboardInterrupt:
                pass


if __name__ == "__main__":
    main()
