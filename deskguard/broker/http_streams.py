"""The SDK's HTTP connections, with a cheap "has the server closed it?" check.

httpcore's pool cleans itself up on every request it takes and every response it ends: for each
idle connection it asks the network stream whether the socket is readable (an idle HTTP/1.1
connection with bytes to read was closed by the server). Through anyio that question builds the
stream's whole table of attributes first (its local and remote address among them, a
``getpeername`` system call), 4 µs a connection on loopback and more through TLS, whose stream
merges its transport's table into its own. With the idle connections the broker keeps
(``session.MAX_IDLE_CONNECTIONS``), that came to ~0.1 ms per request and response, 2.4 ms of a
flatten's eight requests, most of it between a reply and the next phase's requests leaving.

:func:`cheap_readability_checks` wraps the pool's network backend so each stream remembers its
socket when it is opened and answers the same question with one ``poll``, as httpcore itself
does once it has the socket. Everything else goes to the wrapped stream unchanged.
"""

from __future__ import annotations

import logging
import select
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore

log = logging.getLogger(__name__)


def _readable(sock: socket.socket | None) -> bool:
    """Whether a read would return at once (data, or the b"" of a closed connection), without
    reading; a socket that is gone counts as readable, as httpcore counts it."""
    fd = sock.fileno() if sock is not None else -1
    if fd < 0:
        return True
    if not hasattr(select, "poll"):  # Windows
        ready, _, _ = select.select([fd], [], [], 0)
        return bool(ready)
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


class _Stream(httpcore.AsyncNetworkStream):
    """A network stream that knows its socket."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._sock: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable" and self._sock is not None:
            return _readable(self._sock)
        return self._inner.get_extra_info(info)


class _Backend(httpcore.AsyncNetworkBackend):
    """Opens connections through the pool's own backend and wraps each stream."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def cheap_readability_checks(pool: Any) -> None:
    """Wrap an httpcore ``AsyncConnectionPool``'s network backend (once; before its first
    connection, so every connection it opens gets the cheap check)."""
    backend = getattr(pool, "_network_backend", None)
    if not isinstance(backend, httpcore.AsyncNetworkBackend):
        log.debug("the SDK's HTTP pool has no httpcore network backend as expected; its checks stay as they are")
        return
    if not isinstance(backend, _Backend):
        pool._network_backend = _Backend(backend)
