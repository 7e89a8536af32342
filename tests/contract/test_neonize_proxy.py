"""The instance's proxy reaches neonize: `NeonizeSession.connect` dials `NewClient.connect(proxy_settings)`.

Runs against the recording stand-in of `test_neonize_session` (neonize's signatures, no Go side), with
`connect` recording the `ProxySettings` it was given.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import trio
from neonize.client import NewClient, ProxySettings

from tests.contract.test_neonize_session import RecordingClient
from tests.contract.test_neonize_transport import Recorder
from wamux.adapters.whatsapp.neonize_session import NeonizeSession

PROXY = "socks5://alice:s3cret%40x@proxy.example.com:1080"
OTHER = "http://10.1.2.3:3128"


class ProxyRecordingClient(RecordingClient):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.proxies: list[Any] = []

    def connect(self, proxy_settings: Any = None) -> None:
        self.proxies.append(proxy_settings)
        super().connect(proxy_settings)


def test_the_recording_connect_keeps_neonizes_signature() -> None:
    def shape(function: Any) -> list[tuple[str, Any, Any]]:
        return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]

    assert shape(ProxyRecordingClient.connect) == shape(NewClient.connect)


async def test_connect_goes_through_the_proxy_set_before_it(tmp_path: Path) -> None:
    made: list[ProxyRecordingClient] = []

    def new_client(name: str) -> ProxyRecordingClient:
        made.append(ProxyRecordingClient(name))
        return made[-1]

    session = NeonizeSession("inst-proxy", tmp_path / "inst-proxy", new_client=new_client)
    session.set_proxy(PROXY)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(session.connect, Recorder())
        with trio.fail_after(10):
            while not (made and made[0].dialled.is_set()):
                await trio.sleep(0.005)
        nursery.cancel_scope.cancel()
    [client] = made
    [first] = client.proxies
    assert isinstance(first, ProxySettings)
    assert (first.proxy_address, first.no_websocket, first.only_login, first.no_media) == (PROXY, False, False, False)

    # A changed proxy is used by the next connect (the stopped stand-in ends it at once), none connects directly.
    session.set_proxy(OTHER)
    with trio.fail_after(10):
        await session.connect(Recorder())
    session.set_proxy(None)
    with trio.fail_after(10):
        await session.connect(Recorder())
    assert len(made) == 1 and len(client.proxies) == 3
    assert client.proxies[1].proxy_address == OTHER
    assert client.proxies[2] is None
