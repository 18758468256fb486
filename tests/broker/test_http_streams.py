"""The SDK's HTTP pool with the cheap server-closed check (``broker/http_streams.py``): an idle
connection the gateway closed is still noticed and never reused; one it kept open is reused."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest
from broker_harness import wait_until

from deskguard.broker.http_streams import _Backend, _Stream
from deskguard.broker.projectx import ProjectXBroker
from deskguard.simulator import Simulator

MakeBroker = Callable[..., ProjectXBroker]


class _Inner:
    """A network stream as httpcore's backends make them: it knows its socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def get_extra_info(self, info: str) -> Any:
        return {"socket": self.sock, "ssl_object": "tls"}.get(info)


def test_readable_only_once_the_peer_sent_or_closed() -> None:
    ours, peer = socket.socketpair()
    try:
        stream = _Stream(_Inner(ours))  # type: ignore[arg-type]
        assert stream.get_extra_info("is_readable") is False  # idle, open
        assert stream.get_extra_info("ssl_object") == "tls"  # other questions go to the wrapped stream
        peer.close()
        assert stream.get_extra_info("is_readable") is True  # the b"" of a closed connection waits
        ours.close()
        assert stream.get_extra_info("is_readable") is True  # a socket that is gone counts as readable
    finally:
        ours.close()
        peer.close()


@pytest.mark.integration
@pytest.mark.asyncio
@pytest.mark.timeout(30)
async def test_an_idle_connection_the_gateway_closed_is_replaced_and_one_it_kept_is_reused(
        sim: Simulator, make_broker: MakeBroker) -> None:
    broker = make_broker()
    await broker.connect()
    pool = broker._session.client()._client._transport._pool
    assert isinstance(pool._network_backend, _Backend)  # every connection of the pool gets the check

    await broker.open_orders(1001)
    kept = list(pool.connections)
    await broker.open_orders(1001)
    assert pool.connections == kept  # idle and open: reused, not dropped by the check
    assert not any(c.has_expired() for c in kept)

    assert sim._runner is not None and sim._runner.server is not None
    for handler in list(sim._runner.server.connections):  # the gateway closes its idle connections
        handler.force_close()
        if handler.transport is not None:
            handler.transport.close()
    await wait_until(lambda: all(c.has_expired() for c in kept))  # noticed through the cheap check
    await broker.open_orders(1001)  # answered, on a new connection
    assert not set(map(id, pool.connections)) & set(map(id, kept))
