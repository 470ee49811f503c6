"""How the processes of ``wuye serve --workers N`` share their one listening socket: the process holding the fewest
connections accepts the next one.

uvicorn's processes all wait on the same socket and the kernel wakes them all for a new connection; whichever gets
there first takes it, so it is chance which process a client lands on — and a keep-alive client (a browser, or
nginx's upstream ``keepalive`` pool) stays there for as long as it keeps the connection. Measured with
``bench/load.py`` (32 clients, 4 processes on 2 cores), the 32 connections were held 3 / 7 / 10 / 12: every process
answered about as many requests per second (the cores are shared evenly between processes, not between clients),
so the clients of the process holding 12 waited three times as long (p50 1.66 s against 0.51 s) and made the p95.
One socket per process with SO_REUSEPORT spreads no better (the kernel hashes the addresses: 4 / 7 / 10 / 11 in
the same test).

So each process, before accepting, waits a moment in proportion to the connections it already holds: the least
busy one gets there first and the others then find nothing to accept. No process needs to know the others'
counts; a process too busy to run its event loop in time is passed over, which is what is wanted. The wait is
capped, so a process holding many idle browser connections still accepts within :data:`MAX_ACCEPT_WAIT` seconds
when the others are as full. A process cannot tell one waiting connection from the next: when connections come
closer together than its wait, the one waiting when its wait ends may be a newer one, taken from a less busy
process — the spread is then only nearly even.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

# Seconds of wait per connection held: above the few milliseconds an idle process needs to wake, so the order of
# the counts decides who accepts. The cap bounds what a new connection can wait.
ACCEPT_WAIT_PER_CONNECTION = 0.002
MAX_ACCEPT_WAIT = 0.05
# After a failed accept (out of descriptors or memory), the wait before trying again — asyncio's own.
RETRY_SECONDS = 1.0

logger = logging.getLogger("uvicorn.error")


class LeastConnectionsLoop(asyncio.SelectorEventLoop):
    """The event loop of each process of ``wuye serve --workers N`` (uvicorn's ``loop`` setting). A socket handed
    to ``create_server(sock=…)`` is served by a :class:`PacedListener`; everything else is the standard loop."""

    async def create_server(self, protocol_factory: Any, host: Any = None, port: Any = None, *,
                            sock: socket.socket | None = None, **kwargs: Any) -> asyncio.Server:
        if sock is None:
            return await super().create_server(protocol_factory, host, port, **kwargs)
        # The asyncio Server still owns the socket (uvicorn closes it through it at shutdown, which also removes
        # the listener's reader); it only does not accept on it itself.
        server = await super().create_server(protocol_factory, sock=sock, **{**kwargs, "start_serving": False})
        sock.listen(kwargs.get("backlog", 100))  # what the Server's own start would do (100: asyncio's default)
        PacedListener(self, sock, protocol_factory, kwargs.get("ssl")).listen()
        return server


class PacedListener:
    """Accepts on a shared socket after waiting in proportion to the connections this process holds."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket, protocol_factory: Any,
                 ssl: Any) -> None:
        self.loop, self.sock, self.protocol_factory, self.ssl = loop, sock, protocol_factory, ssl
        self.held: set[asyncio.BaseTransport] = set()
        self.opening: set[asyncio.Task[Any]] = set()  # the loop keeps only weak references to its tasks

    def listen(self) -> None:
        if self.sock.fileno() != -1:  # else closed by the server's shutdown meanwhile
            self.loop.add_reader(self.sock.fileno(), self.ready)

    def holding(self) -> int:
        """Connections of this process still open."""
        self.held = {transport for transport in self.held if not transport.is_closing()}
        return len(self.held)

    def ready(self) -> None:
        self.loop.remove_reader(self.sock.fileno())
        self.loop.call_later(min(self.holding() * ACCEPT_WAIT_PER_CONNECTION, MAX_ACCEPT_WAIT), self.accept)

    def accept(self) -> None:
        if self.sock.fileno() == -1:
            return
        retry = 0.0
        try:
            conn, _address = self.sock.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            pass  # a less busy process took it, or the client gave up
        except OSError as exc:
            logger.error("接受连接失败（%s），%s 秒后重试", exc, RETRY_SECONDS)
            retry = RETRY_SECONDS
        else:
            conn.setblocking(False)
            task = self.loop.create_task(self.open(conn))
            self.opening.add(task)
            task.add_done_callback(self.opening.discard)
        self.loop.call_later(retry, self.listen)

    async def open(self, conn: socket.socket) -> None:
        try:
            transport, _protocol = await self.loop.connect_accepted_socket(self.protocol_factory, conn, ssl=self.ssl)
        except OSError:  # the client left (or failed its TLS handshake) before it was served: nothing to hold
            conn.close()
            return
        self.held.add(transport)
