"""The unix-socket HTTP client (``runtime.docker.http``) against a small real HTTP server.

The real daemon (the contract suite) keeps connections open and answers in
one style; this server, on a unix socket of the test's own, also closes kept
-alive connections after each answer, splits answers into many chunks and
sends error statuses, so that those paths of the client are exercised through
the Docker driver: reconnecting (a GET whose kept-alive connection was closed
is sent again once), chunked bodies, error mapping. Neighbours:
``runtime.docker.http``, ``runtime.docker.errors``, ``runtime.docker.driver``.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.docker.driver import DockerDriver
from runtime.errors import Conflict, NotFound, Unavailable


class Server:
    """HTTP/1.1 on a unix socket; ``close_after`` closes each connection after one answer."""

    def __init__(self, path: Path, *, close_after: bool) -> None:
        self.path, self.close_after = path, close_after
        self.connections = 0
        self.requests: list[str] = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(8)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        with conn, reader:
            while line := reader.readline():
                method, target, _ = line.decode().split(" ", 2)
                length = 0
                while (header := reader.readline()) not in (b"\r\n", b""):
                    name, _, value = header.decode().partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                reader.read(length)
                self.requests.append(f"{method} {target}")
                conn.sendall(self._answer(target.split("?")[0]))
                if self.close_after:
                    return

    def _answer(self, path: str) -> bytes:
        if path == "/version":
            return _plain(200, {"ApiVersion": "1.41"})
        if path == "/v1.41/networks":
            return _plain(200, [])
        if path == "/v1.41/containers/json":  # chunked, in pieces
            body = json.dumps([]).encode()
            pieces = b"".join(b"%x;ext=1\r\n%s\r\n" % (1, body[i:i + 1])
                              for i in range(len(body)))
            return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n" + pieces + b"0\r\nX-Trailer: 1\r\n\r\n")
        if path == "/v1.41/containers/busy/rename":
            return _plain(409, {"message": "Conflict. The container name is already in use"})
        return _plain(404, {"message": f"No such container: {path.split('/')[3]}"})

    def close(self) -> None:
        self.sock.close()


def _plain(status: int, data: object) -> bytes:
    body = json.dumps(data).encode()
    return (f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


@pytest.fixture(params=[False, True], ids=["kept-alive", "closed-after-each"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "d.sock", close_after=request.param)
    yield srv
    srv.close()


def test_calls_through_kept_alive_and_closed_connections(server: Server) -> None:
    driver = DockerDriver(base_url=f"unix://{server.path}", timeout=5)
    for _ in range(3):
        assert driver.list_networks() == []
        assert driver.list_containers() == []  # a chunked answer with a trailer
    assert server.requests[0] == "GET /version"
    assert len(server.requests) == 7
    assert server.connections == (7 if server.close_after else 1)
    driver.close()


def test_error_statuses_map_like_the_sdk(tmp_path: Path) -> None:
    server = Server(tmp_path / "d.sock", close_after=False)  # a POST is never sent twice
    driver = DockerDriver(base_url=f"unix://{server.path}", timeout=5)
    with pytest.raises(NotFound, match="inspect container nothere: No such container: nothere"):
        driver.inspect_container("nothere")
    with pytest.raises(Conflict, match="already in use"):
        driver.rename_container("busy", "other")
    assert driver.list_networks() == []  # the connection is still usable after errors
    driver.close()
    server.close()


def test_a_socket_nobody_listens_on_is_unavailable(tmp_path: Path) -> None:
    driver = DockerDriver(base_url=f"unix://{tmp_path / 'none.sock'}", timeout=5)
    with pytest.raises(Unavailable, match="cannot connect to the Docker daemon at unix://"):
        driver.list_networks()
