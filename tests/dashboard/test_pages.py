"""The dashboard's pages over plain HTTP (no JavaScript), on a real watch service and real
containers: each page answers HTML with the right headers, shows what the service and the
journal know, escapes what it shows, never shows a secret, and changes nothing.

Neighbours: ``controller.service.dashboard`` (what runs), ``conftest.py`` (``live_dashboard``),
``test_browser.py`` (the same service in headless Chromium).
"""

from __future__ import annotations

import html
import re
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from controller.service.dashboard.routes import MAX_STREAMS
from controller.service.dashboard.views import parse_since
from tests.conftest import wait_for
from tests.dashboard.conftest import Live
from tests.watch.helpers import container_toml, get

pytestmark = pytest.mark.docker

SECRET = "s3cr3t-Value-9f1c"


def _text(page: str) -> str:
    """The visible text of a page (tags, script and style dropped, entities decoded)."""
    page = re.sub(r"(?s)<(script|style)>.*?</\1>", "", page)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def _row(page: str, name: str) -> str:
    """The text of the resources table row of ``name``."""
    match = re.search(rf'(?s)<tr data-name="{re.escape(name)}".*?</tr>', page)
    assert match, f"no row for {name}"
    return _text(match.group(0))


def _specs(root: Path, web: str, api: str) -> None:
    (root / "token").write_text(SECRET + "\n")
    (root / "web.toml").write_text(container_toml(web, extra=(
        'ports = ["127.0.0.1::8080"]\n'
        'env = { PLAIN = "visible-1", TOKEN = { file = "token" } }\n')))
    (root / "api.toml").write_text(container_toml(api))


def test_every_page_answers_html_and_shows_the_project(
        spec_dir: Path, project_name: str, live_dashboard: Callable[..., Live]) -> None:
    web, api = f"{project_name}-web", f"{project_name}-api"
    _specs(spec_dir, web, api)
    live = live_dashboard(spec_dir, project_name)
    wait_for(lambda: live.service.last_result and live.service.last_result.ok, "a clean pass")

    overview = live.get("/")
    assert overview.status == 200
    assert overview.headers["content-type"] == "text/html; charset=utf-8"
    assert overview.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in overview.headers["content-security-policy"]
    assert overview.headers["x-content-type-options"] == "nosniff"
    text = _text(overview.body)
    assert project_name in text and "in sync" in text and "watched live" in text
    assert "last pass" in text and "quarantined none" in text

    project = live.wait_page(f"/p/{project_name}", lambda b: "running" in _row(b, web),
                             "web running on the project page")
    row = _row(project, web)
    assert "in sync" in row and "dockwright-test/busybox:latest" in row
    assert "127.0.0.1:*->8080/tcp" in row and "create (new) ok" in row
    assert "running running" in row  # desired, actual
    assert "in sync" in _row(project, api)
    assert f'data-name="{project_name}_default"' in project  # the project's network

    resource = live.get(f"/p/{project_name}/r/{web}")
    assert resource.status == 200
    why = _text(resource.body)
    assert f"web.toml:1 container.{web}" in why and "in sync (running)" in why
    assert "no differences between the spec and what runs" in why
    assert "create new not found" in why  # its history
    checked = _text(live.get(f"/p/{project_name}/r/{web}?check=1").body)  # as `why` does
    assert "checked against the runtime just now" in checked
    assert f"web.toml:1 container.{web}" in checked and "in sync (running)" in checked

    journal = live.get(f"/journal?project={project_name}&resource={web}")
    assert journal.status == 200
    assert len(re.findall(r"<tr data-entry=", journal.body)) == 1
    assert live.get(f"/journal?project={project_name}&outcome=failed").body.count(
        "<tr data-entry=") == 0

    fragment = live.get(f"/p/{project_name}", headers={"X-Dockwright-Fragment": "1"})
    assert fragment.status == 200 and "<html" not in fragment.body
    assert f'data-name="{web}"' in fragment.body

    for missing in ("/p/nope-nope", f"/p/{project_name}/r/nope-nope", "/p/x/y"):
        reply = live.get(missing)
        assert reply.status == 404 and reply.headers["content-type"].startswith("text/html")


def test_secrets_are_never_shown(spec_dir: Path, project_name: str, dclient: Any,
                                 live_dashboard: Callable[..., Live]) -> None:
    web, api = f"{project_name}-web", f"{project_name}-api"
    _specs(spec_dir, web, api)
    live = live_dashboard(spec_dir, project_name)
    wait_for(lambda: get(dclient, web), "web created")
    passes = len(live.results)
    (spec_dir / "token").write_text(SECRET + "-rotated\n")  # a secret change: a recreate
    (spec_dir / "web.toml").write_text((spec_dir / "web.toml").read_text().replace(
        "visible-1", "visible-2"))
    wait_for(lambda: any(o.resource == web and o.ok for r in live.results[passes:]
                         for o in r.acted), "web recreated", timeout=60)
    pages = ["/", f"/p/{project_name}", f"/p/{project_name}/r/{web}",
             f"/journal?project={project_name}", f"/journal?resource={web}"]
    seen = {path: live.get(path).body for path in pages}
    for path, body in seen.items():
        assert SECRET not in body, f"{path} shows the secret"
    history = _text(seen[f"/journal?resource={web}"])
    assert "env.TOKEN : *** → ***" in history  # the change is there, masked
    assert "env.PLAIN : visible-1 → visible-2" in history  # a plain value is not a secret


def test_quarantined_file_and_escaping(spec_dir: Path, project_name: str,
                                       live_dashboard: Callable[..., Live]) -> None:
    web = f"{project_name}-web"
    (spec_dir / "web.toml").write_text(container_toml(web))
    (spec_dir / "bad.toml").write_text(
        '[container.bad1]\nimage = "x"\n"<b>bogus</b>" = "<script>alert(1)</script>"\n')
    live = live_dashboard(spec_dir, project_name)
    overview = live.get("/")
    text = _text(overview.body)
    assert "quarantined" in text and "bad.toml:3" in text
    assert "<b>bogus</b>" not in overview.body and "<script>alert(1)" not in overview.body
    assert "&lt;b&gt;bogus&lt;/b&gt;" in overview.body  # shown, escaped
    project = live.get(f"/p/{project_name}").body
    assert "Invalid spec files (quarantined)" in _text(project)
    assert "<b>bogus</b>" not in project
    reflected = live.get("/journal?resource=%3Cscript%3Ex%3C%2Fscript%3E&since=nonsense")
    assert reflected.status == 200
    assert "<script>x</script>" not in reflected.body
    assert 'value="&lt;script&gt;x&lt;/script&gt;"' in reflected.body
    assert "since 'nonsense' is neither an age" in _text(reflected.body)
    entries = live.get(f"/journal?project={project_name}&outcome=frozen").body
    assert "quarantine" in _text(entries) and "bad.toml" in _text(entries)
    file_page = live.get(f"/p/{project_name}/r/bad.toml")  # linked from the timeline
    assert file_page.status == 200
    assert "quarantine (cause none, by watch)" in _text(file_page.body)


def test_a_killed_container_shows_healed_and_the_pages_change_nothing(
        spec_dir: Path, project_name: str, dclient: Any,
        live_dashboard: Callable[..., Live]) -> None:
    web = f"{project_name}-web"
    (spec_dir / "web.toml").write_text(container_toml(web))
    live = live_dashboard(spec_dir, project_name)
    old = wait_for(lambda: (c := get(dclient, web)) and c.status == "running" and c, "web up")
    before = old.attrs["State"]["StartedAt"]
    for method in ("POST", "PUT", "DELETE"):  # read-only: no method but GET does anything
        assert live.get("/", method=method).status in (404, 405, 501)
    for path in ("/", f"/p/{project_name}", f"/p/{project_name}/r/{web}", "/journal"):
        live.get(path)
    old.reload()
    assert old.attrs["State"]["StartedAt"] == before and old.status == "running"

    old.kill()
    page = live.wait_page(f"/p/{project_name}", lambda b: "healed" in _row(b, web),
                          "web healed on the project page")
    assert "drift corrected" in _row(page, web) and "exit code 137" in _row(page, web)
    assert "start (drift) ok" in _row(page, web)


def test_events_stream_pushes_actions_and_passes(
        spec_dir: Path, project_name: str, live_dashboard: Callable[..., Live]) -> None:
    web = f"{project_name}-web"
    (spec_dir / "web.toml").write_text(container_toml(web))
    live = live_dashboard(spec_dir, project_name)
    port = live.server.address[1]
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"GET /events HTTP/1.1\r\nHost: [::1]\r\nAccept: text/event-stream\r\n\r\n")
        received = b""
        while b"retry:" not in received:
            received += sock.recv(4096)
        assert b"Content-Type: text/event-stream; charset=utf-8" in received
        (spec_dir / "web.toml").write_text(container_toml(web, env={"FOO": "2"}))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and b"event: pass" not in received.partition(
                b"event: action")[2]:
            received += sock.recv(4096)
    text = received.decode()
    assert re.search(r"id: \d+\nevent: action\ndata: \{.*\"label\": \"changing\"", text), text
    assert "event: pass" in text.partition("event: action")[2], text


def test_pages_without_a_journal(spec_dir: Path, project_name: str,
                                 live_dashboard: Callable[..., Live]) -> None:
    web = f"{project_name}-web"
    (spec_dir / "web.toml").write_text(container_toml(web))
    live = live_dashboard(spec_dir, project_name, journal_on=False)
    assert "in sync" in _row(live.wait_page(
        f"/p/{project_name}", lambda b: f'data-name="{web}"' in b, "web listed"), web)
    assert "the journal is off" in _text(live.get("/").body)
    assert "the journal is off" in _text(live.get("/journal").body)
    resource = live.get(f"/p/{project_name}/r/{web}")
    assert resource.status == 200 and "in sync (running)" in _text(resource.body)


def test_event_streams_are_bounded_and_a_failing_listener_stops_no_pass(
        spec_dir: Path, project_name: str, live_dashboard: Callable[..., Live]) -> None:
    web = f"{project_name}-web"
    (spec_dir / "web.toml").write_text(container_toml(web))
    live = live_dashboard(spec_dir, project_name)
    port = live.server.address[1]
    request = b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    streams = []
    try:
        for _ in range(MAX_STREAMS):
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            streams.append(sock)
            sock.sendall(request)
            received = b""
            while b"retry:" not in received:
                received += sock.recv(4096)
        one_more = live.get("/events", headers={"Host": "127.0.0.1"})
        assert one_more.status == 503 and "too many event streams" in one_more.body
    finally:
        for sock in streams:
            sock.close()

    class Broken:
        def progress(self, event: dict[str, Any]) -> None:
            raise RuntimeError("a listener's bug")

        def finished(self, result: Any) -> None:
            raise RuntimeError("a listener's bug")

    live.service.listeners.add(Broken())
    passes = len(live.results)
    (spec_dir / "web.toml").write_text(container_toml(web, env={"FOO": "2"}))
    wait_for(lambda: any(o.resource == web and o.ok for r in live.results[passes:]
                         for o in r.acted), "web recreated despite the broken listener")
    page = live.wait_page("/journal?resource=" + web, lambda b: "env.FOO" in b,
                          "the recreate in the journal")
    assert "recreate" in _text(page)
    older = live.get(f"/journal?project={project_name}&limit=1")  # paging
    assert older.body.count("<tr data-entry=") == 1 and 'class="older"' in older.body


def test_since_accepts_ages_and_times() -> None:
    now = 1_000_000.0
    assert parse_since("2h", now) == now - 7200
    assert parse_since("3d", now) == now - 3 * 86400
    assert parse_since("1970-01-02T00:00", now) == 86400.0
    with pytest.raises(ValueError, match="neither an age"):
        parse_since("yesterday", now)
