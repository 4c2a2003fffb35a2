"""The dashboard's routes on the watch service's router, and the ``/events`` stream.

Role: :func:`mount` adds the dashboard to the ``controller.service.httpserver.Router``
of ``controller.service.httpd.StatusServer`` (so it gets that server's bounds, deadlines,
safe headers and HEAD/405 handling), all GETs, none changing anything:
- ``/``: the overview; ``/p/PROJECT``: a project; ``/p/PROJECT/r/NAME``: a resource
  (as of the last pass; ``?check=1``: checked against the runtime now, as ``why`` does);
  ``/journal?project=&resource=&outcome=&cause=&since=&before=&limit=``: the timeline;
- ``/events``: Server-Sent Events (``text/event-stream``): ``action`` (an action
  started; ``label`` says drifted or changing), ``pass`` (a pass ended) and
  ``change`` (a pass failed, the runtime went away), each with an ``id``; a comment
  every ``KEEPALIVE`` seconds; at most ``MAX_STREAMS`` at once (503 beyond); they end
  when the server stops (:meth:`Dashboard.close`).
A page is HTML (``text/html; charset=utf-8``) rendered by
``controller.service.dashboard.render``; with the ``X-Dockwright-Fragment: 1``
header only its live part (what the inline script swaps in). Every page carries a
Content-Security-Policy that allows nothing from elsewhere. Neighbours: ``views``
(the view models) and ``feed`` (the live side).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import structlog

from controller.service.dashboard.feed import Feed
from controller.service.dashboard.render import CSP, render
from controller.service.dashboard.views import Views
from controller.service.httpserver import Router
from controller.service.httpwire import Request, Response
from controller.service.runtimeview import RuntimeView
from controller.service.watched import Watched

log = structlog.get_logger("dockwright.watch")

KEEPALIVE = 15.0
MAX_STREAMS = 16
HTML = "text/html; charset=utf-8"
HEADERS = (("Content-Security-Policy", CSP), ("Vary", "X-Dockwright-Fragment"))


class Dashboard:
    """The pages and the event stream of one watch service."""

    def __init__(self, service: Watched, view: RuntimeView, *,
                 journal: Path | None = None) -> None:
        if journal is None and service.journal is not None:
            journal = service.journal.journal.path
        self.feed = Feed(service, view)
        self.views = Views(service, self.feed, journal)
        self._streams = 0
        self._lock = threading.Lock()

    def mount(self, router: Router) -> None:
        router.get("/", self.serve)
        router.get("/journal", self.serve)
        router.get("/p/", self.serve, prefix=True)
        router.get("/events", self.events)
        router.get("/favicon.ico", lambda _request: Response(204))

    def close(self) -> None:
        self.feed.close()

    # pages ----------------------------------------------------------------------------
    def page(self, path: str, query: str = "", *, fragment: bool = False) -> Response:
        """The answer to ``GET path?query`` (``path`` percent-decoded)."""
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        parts = path.split("/")[1:]
        if path == "/":
            return _html(200, render("overview.html", fragment=fragment,
                                     view=self.views.overview()))
        if path == "/journal":
            return _html(200, render("journal.html", fragment=fragment,
                                     view=self.views.timeline(params)))
        if len(parts) == 2 and parts[0] == "p" and parts[1]:
            view = self.views.project(parts[1])
            if view is None:
                return _missing(f"no project {parts[1]!r}: this service watches "
                                f"{self.views.service.project!r} and the journal knows "
                                "no other of that name", fragment)
            return _html(200, render("project.html", fragment=fragment, view=view))
        if len(parts) == 4 and parts[0] == "p" and parts[2] == "r" and parts[1] and parts[3]:
            found = self.views.resource(parts[1], parts[3], check=params.get("check") == "1")
            if found is None:
                return _missing(f"nothing is known about {parts[3]!r} in project "
                                f"{parts[1]!r}: no container, no declaration, no journal "
                                "entry", fragment)
            return _html(200, render("resource.html", fragment=fragment, view=found))
        return _missing(f"no page {path!r}", fragment)

    def serve(self, request: Request) -> Response:
        """A page (a route handler)."""
        fragment = request.headers.get("X-Dockwright-Fragment") == "1"
        try:
            return self.page(request.path, request.query, fragment=fragment)
        except Exception as exc:  # a bug or a runtime failure: a page that says so
            log.error("dashboard_failed", path=request.path, error=str(exc), exc_info=True)
            return _html(500, render("notfound.html", fragment=fragment,
                                     message=f"this page failed: {type(exc).__name__}: {exc}"))

    # /events --------------------------------------------------------------------------
    def events(self, request: Request) -> Response:
        with self._lock:
            full = self._streams >= MAX_STREAMS
        if full:
            return Response(503, f"too many event streams (at most {MAX_STREAMS}): close "
                                 "some dashboard tabs\n".encode(), headers=(("Retry-After", "5"),))
        last = request.headers.get("Last-Event-ID", "") or ""
        return Response(200, self._stream(int(last) if last.isdigit() else None),
                        "text/event-stream; charset=utf-8", HEADERS)

    def _stream(self, last: int | None) -> Iterator[bytes]:
        with self._lock:
            self._streams += 1
        try:
            version = self.feed.version
            yield b"retry: 2000\n\n"
            if last is not None and last != version:  # missed something (or a new service)
                yield f"id: {version}\nevent: pass\ndata: {{}}\n\n".encode()
            while True:
                messages, closed = self.feed.wait(version, KEEPALIVE)
                if closed:
                    return
                if not messages:
                    yield b": keepalive\n\n"
                for message in messages:
                    version = message.version
                yield b"".join(m.encode() for m in messages)
        finally:
            with self._lock:
                self._streams -= 1


def mount(router: Router, service: Watched, view: RuntimeView) -> Dashboard:
    """Add the dashboard of ``service`` to ``router``; close it before the server stops."""
    dashboard = Dashboard(service, view)
    dashboard.mount(router)
    return dashboard


def _html(status: int, text: str) -> Response:
    return Response(status, text.encode(), HTML, HEADERS)


def _missing(message: str, fragment: bool) -> Response:
    return _html(404, render("notfound.html", fragment=fragment, message=message))
