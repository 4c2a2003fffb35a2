"""The hardened endpoint's rules, on the real server over loopback sockets.

Sizes (414 request line, 431 header line / count / total, 413 body by length and by
chunks), framing (both lengths, bad chunks, unknown codings, absurd lengths), paths
(``..`` plain and percent-encoded, backslashes, NUL: 400; a static folder is not left
through a symlink), methods (405 with ``Allow``, HEAD without body, GETs change
nothing), content types and the safe headers on every answer, 404 listing the
endpoints. Neighbours: ``controller.service.httpserver``, ``controller.service.httpwire``;
``tests/httpd/wire.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from controller.service.gitsource import GitSource
from controller.service.httpd import StatusServer
from controller.service.httpguard import is_loopback
from controller.service.httpserver import HTTPServer, Router, static_files
from controller.service.httpwire import Limits, Request, Response
from tests.conftest import wait_for
from tests.httpd.wire import raw, request

Start = Callable[..., StatusServer]
SAFE = {"x-content-type-options": "nosniff", "x-frame-options": "DENY",
        "cache-control": "no-store"}


def test_every_answer_has_its_type_length_and_the_safe_headers(endpoint: Start) -> None:
    server = endpoint()
    for path, kind in (("/healthz", "application/json"), ("/metrics", "text/plain"),
                       ("/nope", "application/json")):
        answer = request(server.address, "GET", path)
        assert answer.headers["content-type"].startswith(kind), (path, answer.headers)
        assert int(answer.headers["content-length"]) == len(answer.body)
        assert {k: answer.headers.get(k) for k in SAFE} == SAFE, path
        assert answer.headers["connection"] == "close"
    missing = request(server.address, "GET", "/nope")
    assert missing.status == 404 and "GET /healthz" in missing.json()["endpoints"]
    assert request(server.address, "GET", "/healthz").json() == {"ok": True}


def test_sizes_are_bounded(endpoint: Start) -> None:
    server = endpoint(limits=Limits(body=1000))
    at = server.address
    assert raw(at, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n").status == 414
    assert raw(at, b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"b" * 9000
               + b"\r\n\r\n").status == 431
    many = b"".join(b"X-%d: 1\r\n" % i for i in range(65))
    assert raw(at, b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n" + many + b"\r\n").status == 431
    total = b"".join(b"X-%d: %s\r\n" % (i, b"c" * 4000) for i in range(10))
    assert raw(at, b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n" + total + b"\r\n").status == 431
    most = b"".join(b"X-%d: 1\r\n" % i for i in range(63))  # with Host: the 64 allowed
    assert raw(at, b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n" + most + b"\r\n").status == 200
    big = request(at, "POST", "/hooks/git", body=b"x" * 1001)
    assert big.status == 413 and "1000 bytes" in big.json()["error"]
    chunked = (b"POST /hooks/git HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
               + (b"200\r\n" + b"y" * 512 + b"\r\n") * 2 + b"0\r\n\r\n")
    assert raw(at, chunked).status == 413
    absurd = (b"POST /hooks/git HTTP/1.1\r\nHost: localhost\r\n"
              b"Content-Length: 99999999999999999\r\n\r\n")
    assert raw(at, absurd).status == 413


@pytest.mark.parametrize(("framing", "status"), [
    (b"Content-Length: 5\r\nTransfer-Encoding: chunked", 400),
    (b"Content-Length: 5\r\nContent-Length: 6", 400),
    (b"Content-Length: -1", 400),
    (b"Content-Length: 0x10", 400),
    (b"Content-Length: 1e3", 400),
    (b"Transfer-Encoding: gzip", 501),
    (b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0", 400),
    (b"Transfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0", 400),
    (b"Transfer-Encoding: chunked\r\n\r\n" + b"f" * 40 + b"\r\n", 400),
])
def test_bad_framing_is_refused(endpoint: Start, framing: bytes, status: int) -> None:
    server = endpoint()
    data = b"POST /hooks/git HTTP/1.1\r\nHost: localhost\r\n" + framing + b"\r\n\r\n"
    assert raw(server.address, data).status == status


def test_chunked_body_within_bounds_is_read(endpoint: Start) -> None:
    server = endpoint()
    data = (b"POST /hooks/git HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n")
    answer = raw(server.address, data)
    assert answer.status == 404 and "no git source" in answer.json()["error"]


@pytest.mark.parametrize("path", [
    "/../etc/passwd", "/%2e%2e/etc/passwd", "/static/%2E%2E/%2e%2e/etc/passwd",
    "/static/..%2fsecret", "/static/.", "/a%5c..%5csecret", "/a%00b", "/%ff%fe",
])
def test_paths_that_walk_or_hide_are_refused(endpoint: Start, path: str) -> None:
    assert request(endpoint().address, "GET", path).status == 400


def test_a_static_folder_is_never_left(tmp_path: Path) -> None:
    folder = tmp_path / "static"
    folder.mkdir()
    (folder / "site.css").write_text("body{}")
    (folder / ".hidden").write_text("no")
    (tmp_path / "secret.txt").write_text("SECRET")
    (folder / "link.txt").symlink_to(tmp_path / "secret.txt")
    (folder / "sub").symlink_to(tmp_path)
    router = Router()
    router.get("/static/", static_files(folder, "/static/"), prefix=True)
    server = HTTPServer("127.0.0.1", 0, router)
    server.start()
    try:
        css = request(server.address, "GET", "/static/site.css")
        assert css.status == 200 and css.body == b"body{}"
        assert css.headers["content-type"] == "text/css; charset=utf-8"
        assert css.headers["x-content-type-options"] == "nosniff"
        for path in ("/static/link.txt", "/static/sub/secret.txt", "/static/.hidden",
                     "/static/", "/static/nope.css", "/static//etc/passwd"):
            answer = request(server.address, "GET", path)
            assert answer.status == 404 and b"SECRET" not in answer.body, path
    finally:
        server.stop()


def test_methods(endpoint: Start) -> None:
    server = endpoint()
    for method in ("PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "BREW"):
        answer = request(server.address, method, "/healthz")
        assert answer.status == 405 and answer.headers["allow"] == "GET, HEAD", method
    head = request(server.address, "HEAD", "/healthz")
    assert head.status == 200 and head.body == b"" and int(head.headers["content-length"]) > 0
    post = request(server.address, "POST", "/status")
    assert post.status == 405 and post.headers["allow"] == "GET, HEAD"


def test_gets_change_nothing(endpoint: Start,
                            git_source: tuple[GitSource, list[str]]) -> None:
    git, enqueued = git_source
    server = endpoint(git=git)
    for method in ("GET", "HEAD"):
        answer = request(server.address, method, "/hooks/git")
        assert answer.status == 405 and answer.headers["allow"] == "POST"
    assert git.hooks == 0
    assert request(server.address, "POST", "/hooks/git").status == 202
    assert git.hooks == 1
    wait_for(lambda: "webhook" in enqueued, "the pass the webhook asked for")
    assert enqueued == ["git", "webhook"]


def test_http_versions_and_host(endpoint: Start) -> None:
    at = endpoint().address
    assert raw(at, b"GET /healthz HTTP/1.0\r\n\r\n").status == 200
    assert raw(at, b"GET /healthz HTTP/1.1\r\n\r\n").status == 400  # no Host
    assert raw(at, b"GET /healthz HTTP/2.0\r\nHost: localhost\r\n\r\n").status == 505
    assert raw(at, b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n Folded: y\r\n\r\n").status == 400
    assert raw(at, b"GET http://evil/healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").status == 400


def test_a_route_set_mounted_later_gets_the_same_rules(endpoint: Start) -> None:
    """What the dashboard does: mount its own routes on the service's router."""
    server = endpoint()

    def stream(_request: Request) -> Response:
        chunks = iter([b"data: 1\n\n", b"data: 2\n\n"])
        return Response(200, chunks, "text/event-stream; charset=utf-8",
                        (("Cache-Control", "no-cache"),))

    server.router.get("/test/stream", stream)
    server.router.get("/test/empty", lambda _r: Response(204))
    events = request(server.address, "GET", "/test/stream")
    assert events.status == 200 and events.body == b"data: 1\n\ndata: 2\n\n"
    assert "content-length" not in events.headers
    assert events.headers["cache-control"] == "no-cache"  # the route's own, not twice
    assert events.headers["x-content-type-options"] == "nosniff"
    empty = request(server.address, "GET", "/test/empty")
    assert empty.status == 204 and empty.body == b"" and "content-length" not in empty.headers
    assert request(server.address, "POST", "/test/stream").headers["allow"] == "GET, HEAD"
    assert request(server.address, "GET", "/test/../healthz").status == 400


def test_every_mounted_route_gets_the_rules(endpoint: Start) -> None:
    """All routes on the service's router, the dashboard's included: typed, nosniff,
    405 with Allow for a method they do not take, no walking out of a prefix."""
    server = endpoint()
    routes = [e.split(" ", 1) for e in server.router.endpoints()]
    assert len(routes) > 5
    for method, path in routes:
        path = path.replace("*", "x")
        if method == "GET":
            answer = request(server.address, "HEAD", path)
            assert answer.body == b"" and answer.status != 500, (path, answer.raw[:300])
            if answer.status != 204:
                assert "content-type" in answer.headers, path
            assert answer.headers["x-content-type-options"] == "nosniff", path
            refused = request(server.address, "DELETE", path)
            assert refused.status == 405 and "GET" in refused.headers["allow"], path
        assert request(server.address, method, path.rstrip("/x") + "/../healthz").status == 400


def test_a_header_with_a_line_break_is_never_sent(endpoint: Start) -> None:
    server = endpoint()
    server.router.get("/test/inject", lambda _r: Response(
        200, b"x", headers=(("X-Name", "a\r\nSet-Cookie: evil=1"),)))
    answer = request(server.address, "GET", "/test/inject")
    assert answer.status == 500 and "set-cookie" not in answer.headers


def test_loopback_addresses() -> None:
    for host in ("127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1", "localhost"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "10.0.0.1", "192.168.1.2", "::ffff:10.0.0.1", "fe80::1"):
        assert not is_loopback(host), host


def test_a_web_page_cannot_use_a_browser_against_it(endpoint: Start) -> None:
    """DNS rebinding (a page's own name resolved to 127.0.0.1) and cross-site POSTs."""
    server = endpoint()
    port = server.address[1]
    for host in ("localhost", f"localhost:{port}", f"127.0.0.1:{port}", "127.0.0.9",
                 f"[::1]:{port}", "dash.localhost"):
        answer = request(server.address, "GET", "/healthz", headers={"Host": host})
        assert answer.status == 200, host
    for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.nip.io", "10.0.0.1",
                 f"0.0.0.0:{port}"):
        answer = request(server.address, "GET", "/status", headers={"Host": host})
        assert answer.status == 421 and "127.0.0.1" in answer.json()["error"], host
    cross = request(server.address, "POST", "/hooks/git",
                    headers={"Host": f"127.0.0.1:{port}", "Origin": "https://evil.example"})
    assert cross.status == 403
    same = request(server.address, "POST", "/hooks/git",
                   headers={"Host": f"127.0.0.1:{port}", "Origin": f"http://127.0.0.1:{port}"})
    assert same.status == 404  # past the guard: this service has no git source
    assert raw(server.address, b"GET /healthz HTTP/1.0\r\n\r\n").status == 200  # no Host


def test_beyond_loopback_any_host_is_answered() -> None:
    router = Router()
    router.get("/healthz", lambda _r: Response(200, b"ok"))
    server = HTTPServer("0.0.0.0", 0, router)
    server.start()
    try:
        at = ("127.0.0.1", server.address[1])
        assert request(at, "GET", "/healthz", headers={"Host": "dockwright.example"}).status \
            == 200
        assert request(at, "POST", "/healthz", headers={
            "Host": "dockwright.example", "Origin": "https://evil.example"}).status == 403
    finally:
        server.stop()
