"""The processes of ``wuye serve --workers N`` share one socket: the one holding fewer connections accepts the next
(admin.serving). Two event loops on two threads stand for two processes; they wait on one socket as uvicorn's
processes do."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

from admin.serving import MAX_ACCEPT_WAIT, LeastConnectionsLoop


class Held(asyncio.Protocol):
    """A kept-alive connection: counted while open, echoes what it is sent."""

    def __init__(self, open_: set) -> None:
        self.open = open_

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.open.add(self)

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.open.discard(self)


class Process:
    """One event loop serving the shared socket on a thread of its own."""

    def __init__(self, sock: socket.socket) -> None:
        self.loop = LeastConnectionsLoop()
        self.open: set[Held] = set()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(
            self.loop.create_server(lambda: Held(self.open), sock=sock, backlog=50), self.loop).result(5)

    def stop(self) -> None:
        async def close() -> None:
            self.server.close()
            for held in list(self.open):
                held.transport.close()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


def wait_until(condition, seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not accepted in time"
        time.sleep(0.005)


def test_the_process_holding_fewer_connections_accepts_the_next() -> None:
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))  # bound, not yet listening: as uvicorn hands the socket to its processes
    address = listening.getsockname()
    busy = Process(listening.dup())
    clients = []
    try:
        for _ in range(20):  # alone, the first process takes them all
            clients.append(socket.create_connection(address))
        wait_until(lambda: len(busy.open) == 20)
        idle = Process(listening.dup())
        try:
            for n in range(1, 7):  # one at a time, as logins come: each goes to the process holding fewer
                time.sleep(MAX_ACCEPT_WAIT)  # (connections closer together than the wait may not: admin.serving)
                clients.append(socket.create_connection(address))
                wait_until(lambda n=n: len(busy.open) + len(idle.open) == 20 + n)
            assert (len(busy.open), len(idle.open)) == (20, 6)
            clients[-1].sendall(b"ping")  # and each is served
            assert clients[-1].recv(4) == b"ping"

            for client in clients[:20]:  # the first process's clients leave: it takes the next connections again
                client.close()
            wait_until(lambda: len(busy.open) == 0)
            time.sleep(MAX_ACCEPT_WAIT)
            clients.append(socket.create_connection(address))
            wait_until(lambda: len(busy.open) == 1)
            assert len(idle.open) == 6
        finally:
            idle.stop()
    finally:
        busy.stop()
        for client in clients:
            client.close()
        listening.close()
