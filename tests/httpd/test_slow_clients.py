"""Slow and idle clients cannot hold the endpoint (slowloris), on the real server.

Many connections (from 127.0.0.2 and 127.0.0.3) that drip a request one byte at a
time stay open while a normal request still answers; each of them is cut off (408,
then closed) once its headers have not arrived within ``header_timeout``; a slow
body is cut off the same way; one address at its own cap is refused 503 while
another is served; request bodies being read at once are bounded (503 past the
budget, given back once answered); at the connection cap one more connection is
answered 503 at once, and once the idle ones are cut off the endpoint serves again.
Neighbours: ``controller.service.httpserver`` (threads, the caps),
``controller.service.httpwire`` (deadlines, the body budget).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from controller.service.httpd import StatusServer
from controller.service.httpwire import Limits
from tests.conftest import wait_for
from tests.httpd.wire import connect, parse, raw, read_all, request

Start = Callable[..., StatusServer]


class Dripper:
    """Connections that each send a request's first bytes, then one byte a second."""

    def __init__(self, address: tuple[str, int], count: int, sources: list[str]) -> None:
        self.socks = [connect(address, sources[i % len(sources)]) for i in range(count)]
        for s in self.socks:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        self.stop = threading.Event()
        self.cut = 0  # connections the server ended
        self.answers: list[bytes] = []
        self._thread = threading.Thread(target=self._drip, daemon=True)
        self._thread.start()

    def _drip(self) -> None:
        open_ = list(self.socks)
        while open_ and not self.stop.wait(1.0):
            for s in list(open_):
                try:
                    s.sendall(b"X")
                except OSError:
                    open_.remove(s)
                    self._collect(s)

    def _collect(self, s: socket.socket) -> None:
        self.answers.append(read_all(s, timeout=5))
        self.cut += 1

    def close(self) -> None:
        self.stop.set()
        self._thread.join(5)
        for s in self.socks:
            s.close()


@contextmanager
def dripping(address: tuple[str, int], count: int,
             sources: tuple[str, ...] = ("127.0.0.2", "127.0.0.3")) -> Iterator[Dripper]:
    dripper = Dripper(address, count, list(sources))
    try:
        yield dripper
    finally:
        dripper.close()


def test_many_slow_clients_do_not_stop_a_normal_request(endpoint: Start) -> None:
    server = endpoint(limits=Limits(header_timeout=8.0))
    with dripping(server.address, 60) as slow:
        wait_for(lambda: server.httpd.open_connections() == 60, "sixty slow clients served")
        time.sleep(1.5)  # every slow connection has sent more than once
        assert slow.cut == 0
        for _ in range(3):
            answer = request(server.address, "GET", "/healthz")
            assert answer.status == 200 and answer.json() == {"ok": True}
        wait_for(lambda: slow.cut == 60, "the slow clients cut off", timeout=30)
    assert {parse(a).status for a in slow.answers} <= {408, 0}
    assert any(parse(a).status == 408 for a in slow.answers)
    assert request(server.address, "GET", "/healthz").status == 200


def test_a_slow_body_is_cut_off(endpoint: Start) -> None:
    server = endpoint(limits=Limits(body_timeout=2.0))
    with socket.create_connection(server.address, timeout=30) as s:
        s.sendall(b"POST /hooks/git HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\nab")
        answer = parse(read_all(s, timeout=30))  # no more bytes sent: the server ends it
    assert answer.status == 408


def test_one_address_cannot_shut_the_others_out(endpoint: Start) -> None:
    server = endpoint(limits=Limits(per_client=6, header_timeout=8.0))
    with dripping(server.address, 6, ("127.0.0.2",)) as slow:
        wait_for(lambda: server.httpd.open_connections("127.0.0.2") == 6, "six accepted")
        refused = request(server.address, "GET", "/healthz", source="127.0.0.2")
        assert refused.status == 503
        assert request(server.address, "GET", "/healthz").status == 200  # from 127.0.0.1
        assert slow.cut == 0
        wait_for(lambda: slow.cut == 6, "the slow clients cut off", timeout=30)
    assert request(server.address, "GET", "/healthz", source="127.0.0.2").status == 200


def test_bodies_in_flight_are_bounded(endpoint: Start) -> None:
    server = endpoint(limits=Limits(body=800, bodies=1000))
    head = b"POST /hooks/git HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n"
    with connect(server.address) as holder:
        holder.sendall(head % 800 + b"a" * 100)  # 800 bytes taken, 100 of them sent
        wait_for(lambda: server.httpd.bodies_in_flight == 800, "the first body's bytes taken")
        busy = raw(server.address, head % 500 + b"b" * 500)
        assert busy.status == 503 and "at once" in busy.json()["error"]
        holder.sendall(b"a" * 700)
        assert parse(read_all(holder)).status == 404  # no git source: read and answered
    wait_for(lambda: server.httpd.bodies_in_flight == 0, "the first body's bytes given back")
    assert raw(server.address, head % 500 + b"b" * 500).status == 404  # given back


def test_at_the_connection_cap_one_more_is_refused_at_once(endpoint: Start) -> None:
    server = endpoint(limits=Limits(connections=8, header_timeout=3.0))
    idle = [connect(server.address, f"127.0.0.{2 + i % 3}") for i in range(8)]
    try:
        wait_for(lambda: server.httpd.open_connections() == 8, "eight accepted")
        busy = request(server.address, "GET", "/healthz")
        assert busy.status == 503 and busy.headers["retry-after"] == "1"
        assert server.httpd.refused >= 1
        wait_for(lambda: request(server.address, "GET", "/healthz").status == 200,
                 "the endpoint free again once the idle connections are cut off", timeout=30)
    finally:
        for s in idle:
            s.close()
