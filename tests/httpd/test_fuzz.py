"""Malformed requests against the real endpoint on loopback (hypothesis).

Random bytes, broken request lines, huge and many headers, bad chunked bodies,
invalid UTF-8 and absurd ``Content-Length`` values: for every one the server answers
a well-formed HTTP/1.1 response (with its content type and ``nosniff``) or closes the
connection, never logs a failed connection or handler, and still serves ``/healthz``
afterwards. The server has a webhook secret, so signature headers of any value are
checked too. Neighbours: ``controller.service.httpwire`` (what parses them),
``controller.service.httpserver``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.service.httpd import StatusServer
from controller.service.httpwire import Limits
from tests.httpd.wire import Answer, raw, request

Start = Callable[..., StatusServer]
FAILED = ("http_connection_failed", "http_handler_failed")

methods = st.sampled_from(["GET", "POST", "HEAD", "PUT", "get", "G\x00T", "", "GET GET",
                           "\xff", "X" * 40])
paths = st.one_of(
    st.sampled_from(["/healthz", "/readyz", "/metrics", "/hooks/git", "/", "*", "",
                     "/%", "/%zz", "/%c3%28", "/%ed%a0%80", "/..", "/a/../b", "/?%ff=%fe",
                     "http://x/", "/" + "a" * 9000]),
    st.text(max_size=80).map(lambda t: "/" + t))
versions = st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/2", "HTTP/1.1 x", "HTTP/1.", "",
                            "http/1.1", "HTTP/9.9", "HTTP/1.1\r"])
header_names = st.one_of(st.sampled_from(["Host", "Content-Length", "Transfer-Encoding",
                                          "X-Hub-Signature-256", "X-Gitlab-Token", "Accept"]),
                         st.text(max_size=20))
header_values = st.one_of(st.text(max_size=60),
                          st.sampled_from(["chunked", "gzip, chunked", "-1", "99999999999999999"
                                           "9999999", "1e9", " 5", "5 , 6", "\xff\xfe"]),
                          st.integers(0, 10_000).map(lambda n: "v" * n))


def _line(parts: tuple[str, str, str]) -> bytes:
    return " ".join(parts).encode("utf-8", "surrogatepass")


@st.composite
def structured(draw: Any) -> bytes:
    line = _line((draw(methods), draw(paths), draw(versions)))
    headers = draw(st.lists(st.tuples(header_names, header_values), max_size=8))
    if draw(st.booleans()):
        headers.insert(0, ("Host", "localhost"))
    head = b"".join(f"{k}: {v}".encode("utf-8", "surrogatepass") + draw(
        st.sampled_from([b"\r\n", b"\n", b"\r"])) for k, v in headers)
    body = draw(st.binary(max_size=300))
    return line + b"\r\n" + head + b"\r\n" + body


@st.composite
def chunked(draw: Any) -> bytes:
    parts = draw(st.lists(st.one_of(
        st.binary(max_size=20).map(lambda b: b"%x\r\n%s\r\n" % (len(b), b)),
        st.sampled_from([b"0\r\n\r\n", b"-1\r\n", b"ffffffffffffffffff\r\n", b"5\r\nab\r\n",
                         b"3;;;\r\nabc\r\n", b"\r\n", b"0\r\nTrailer: x\r\n", b"7fffffff\r\n"]),
        st.binary(max_size=30)), max_size=6))
    return (b"POST /hooks/git HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"".join(parts))


huge = st.sampled_from([
    b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX: " + b"a" * 200_000 + b"\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n" + b"X: y\r\n" * 5000 + b"\r\n",
    b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\n\r\n",
    b"\r\n" * 10_000,
    b"POST /hooks/git HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3000000\r\n\r\n"
    + b"z" * 65536,
])
absurd_length = st.one_of(st.integers(-(10 ** 30), 10 ** 30).map(str),
                          st.text(max_size=30)).map(
    lambda n: b"POST /hooks/git HTTP/1.1\r\nHost: localhost\r\nContent-Length: "
    + n.encode("utf-8", "surrogatepass") + b"\r\n\r\nabc")
payloads = st.one_of(st.binary(max_size=2048), structured(), chunked(), huge, absurd_length)


def well_formed(answer: Answer) -> bool:
    if answer.status == 0:
        return True  # closed without an answer: allowed
    if answer.status == 503:
        return True  # the connection cap's short answer
    return (100 <= answer.status < 600 and "content-type" in answer.headers
            and answer.headers.get("x-content-type-options") == "nosniff"
            and ("content-length" not in answer.headers
                 or int(answer.headers["content-length"]) == len(answer.body)
                 or answer.status == 200))  # HEAD: a length, no body


def test_malformed_requests_never_break_the_server(endpoint: Start) -> None:
    server = endpoint(limits=Limits(header_timeout=2.0, body_timeout=2.0, body=1 << 20),
                      secret=b"fuzz")  # signature headers with any value are checked
    with structlog.testing.capture_logs() as logs:
        @settings(max_examples=400, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(payloads)
        def one(data: bytes) -> None:
            answer = raw(server.address, data, timeout=15)
            assert well_formed(answer), answer.raw[:300]

        one()
        assert request(server.address, "GET", "/healthz").json() == {"ok": True}
    failed = [e for e in logs if e["event"] in FAILED]
    assert not failed, failed[:5]
