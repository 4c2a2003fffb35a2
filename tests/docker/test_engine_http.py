"""The unix-socket HTTP client (``runtime.docker.http``) against a small real HTTP server.

The real daemon (the contract suite) keeps connections open and answers in
one style; this server, on a unix socket of the test's own, also closes kept
-alive connections after each answer, splits answers into many chunks and
sends error statuses, so that those paths of the client are exercised through
the Docker driver: reconnecting (a GET whose kept-alive connection was closed
is sent again once), chunked bodies, error mapping, streams (an event stream that
stays open until ``close()`` from another thread, progress lines split inside a
JSON value, an uploaded archive sent with its length) and the stream decoders
(multiplexed frames split anywhere). Neighbours:
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
from runtime.docker.transport import EngineUnreachable, demultiplexed, json_lines
from runtime.errors import Conflict, NotFound, Unavailable


class Server:
    """HTTP/1.1 on a unix socket; ``close_after`` closes each connection after one answer."""

    def __init__(self, path: Path, *, close_after: bool) -> None:
        self.path, self.close_after = path, close_after
        self.connections = 0
        self.requests: list[str] = []
        self.bodies: list[bytes] = []
        self.hang_up = threading.Event()  # ends the event stream
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
                self.bodies.append(reader.read(length))
                self.requests.append(f"{method} {target}")
                if target.startswith("/v1.41/events"):
                    event = json.dumps({"Type": "container", "Action": "start", "id": "c1",
                                        "Actor": {"ID": "c1", "Attributes": {"k": "v"}}})
                    body = (event + "\n").encode()
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Transfer-Encoding: chunked\r\n\r\n"
                                 + b"%x\r\n%s\r\n" % (len(body), body))
                    self.hang_up.wait(30)  # the stream stays open: the client closes it
                    return
                conn.sendall(self._answer(target.split("?")[0]))
                if self.close_after or target.startswith("/v1.41/images/load"):
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
        if path == "/v1.41/images/load":  # read to close, a JSON value split in two
            return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n"
                    b'{"stream": "Loaded ima' b'ge: x/y:latest\\n"}\r\n{"status": "ok"}')
        if path == "/v1.41/images/x/y:latest/json":
            return _plain(200, {"Id": "sha256:1", "Config": {}})
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


def test_streams_upload_and_close(tmp_path: Path) -> None:
    server = Server(tmp_path / "d.sock", close_after=False)
    driver = DockerDriver(base_url=f"unix://{server.path}", timeout=5)
    archive = tmp_path / "a.tar"
    archive.write_bytes(b"\x00archive\r\n" * 1000)
    assert driver.load_image(archive) == ["x/y:latest"]
    assert server.bodies[server.requests.index("POST /v1.41/images/load?quiet=0")] == \
        archive.read_bytes()
    stream = driver.events({"k": "v"})
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(e.container_id for e in stream))
    reader.start()
    reader.join(0.5)
    assert reader.is_alive(), "the stream stays open"
    stream.close()  # from another thread: the blocked read returns
    reader.join(10)
    assert not reader.is_alive() and seen == ["c1"]
    server.hang_up.set()
    driver.close()
    server.close()


def test_decoders_split_anywhere() -> None:
    frames = (b"\x01\x00\x00\x00\x00\x00\x00\x04out\n" b"\x02\x00\x00\x00\x00\x00\x00\x04err\n"
              b"\x01\x00\x00\x00\x00\x00\x00\x00")
    for cut in range(1, len(frames)):
        pieces = iter([frames[:cut], frames[cut:]])
        assert b"".join(demultiplexed(pieces)) == b"out\nerr\n"
    with pytest.raises(EngineUnreachable, match="inside a frame"):
        list(demultiplexed(iter([frames[:5]])))
    lines = b'{"a": 1}\n{"b": "x\\ny"}{"c": []}\r\n'
    for cut in range(1, len(lines)):
        assert list(json_lines(iter([lines[:cut], lines[cut:]]))) == [
            {"a": 1}, {"b": "x\ny"}, {"c": []}]
    with pytest.raises(EngineUnreachable, match="inside a JSON value"):
        list(json_lines(iter([b'{"a": '])))
