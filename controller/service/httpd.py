"""The watch service's HTTP endpoint (stdlib ``http.server`` in a thread).

Role: ``--listen 127.0.0.1:PORT`` serves
- ``GET /healthz``: 200 while the service runs;
- ``GET /readyz``: 200 after the first successful pass while the runtime answers;
  503 with the reason before, and while the runtime is unreachable
  (``controller.service.readiness``);
- ``GET /status``: the JSON of ``dockwright status --output json``
  (``controller.execution.status.status``) plus a ``watch`` object: applied revision,
  quarantined files, spec errors, backoffs, crash loops, last pass;
- ``GET /metrics``: the Prometheus exposition (``controller.service.metrics``, in the
  format the scraper's ``Accept`` asks for), with the project's containers by state
  counted at scrape time (one list call);
- ``POST /hooks/git``: fetch the git source now (202), 404 without one.
Neighbours: ``controller.service.loop.WatchService`` (the state it shows),
``controller.commands.watch`` (starts and stops it).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import structlog

from controller.execution.result import Trigger
from controller.service.loop import WatchService
from runtime.types import LABEL_PROJECT, LABEL_RESOURCE

log = structlog.get_logger("dockwright.watch")


def parse_listen(text: str) -> tuple[str, int]:
    """``"127.0.0.1:8080"``, ``":8080"`` or ``"8080"`` -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", text
    try:
        number = int(port)
    except ValueError as exc:
        raise ValueError(f"invalid --listen {text!r}: expected HOST:PORT, e.g. "
                         "127.0.0.1:9180") from exc
    return (host.strip("[]") or "127.0.0.1"), number


class StatusServer:
    """A threaded HTTP server bound to one ``WatchService``."""

    def __init__(self, service: WatchService, host: str, port: int) -> None:
        self.service = service
        handler = _handler_for(self)
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.address = (str(self.httpd.server_address[0]), int(self.httpd.server_address[1]))
        self._thread = threading.Thread(target=self.httpd.serve_forever,
                                        kwargs={"poll_interval": 0.5}, name="dw-httpd",
                                        daemon=True)
        service.metrics.count_resources(self._resources_by_state)

    def start(self) -> None:
        self._thread.start()
        log.info("http_listening", address=f"{self.address[0]}:{self.address[1]}")

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=2)

    # views ---------------------------------------------------------------------------
    def _resources_by_state(self) -> list[tuple[str, float]]:
        states: Counter[str] = Counter()
        try:
            driver = self.service.handle.get()
            for c in driver.list_containers(labels={LABEL_PROJECT: self.service.project}):
                states[c.state.value] += 1
        except Exception as exc:  # the runtime may be down; metrics still answer
            log.debug("metrics_list_failed", error=str(exc))
            return []
        looping = self.service.crash_loops.looping()
        if looping:
            states["crash_looping"] = len(looping)
        return [(s, float(n)) for s, n in sorted(states.items())]

    def status(self) -> tuple[int, dict[str, Any]]:
        service = self.service
        watch = service.watch_status()
        body: dict[str, Any] = {}
        code = 200
        try:
            from controller.execution.status import status

            body = dict(status(service.root, service.handle.get(), project=service.project))
        except Exception as exc:  # runtime down or spec dir missing: still show the watch state
            body = {"project": service.project, "error": f"{type(exc).__name__}: {exc}"}
            code = 503
        looping = set(watch["crash_loops"])
        backoffs = watch["backoffs"]
        for entry in _resource_entries(body):
            name = str(entry.get("name") or entry.get("resource") or "")
            base = str(entry.get("labels", {}).get(LABEL_RESOURCE, "")) if isinstance(
                entry.get("labels"), dict) else ""
            keys = {name, base} - {""}
            if keys & looping:
                entry["crash_looping"] = True
            hit = next((backoffs[k] for k in keys if k in backoffs), None)
            if hit is not None:
                entry["backoff"] = hit
        body["watch"] = watch
        body.setdefault("revision", watch["revision"])
        body["quarantined_files"] = watch["quarantined_files"]
        body["backoffs"] = backoffs
        body["crash_loops"] = watch["crash_loops"]
        return code, body


def _resource_entries(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-resource dicts of a status JSON, whatever its exact layout."""
    found = body.get("resources") or body.get("containers") or []
    if isinstance(found, dict):
        return [v for v in found.values() if isinstance(v, dict)]
    return [v for v in found if isinstance(v, dict)]


def _handler_for(server: StatusServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "dockwright"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("http_request", path=self.path, detail=format % args)

        def _send(self, code: int, body: str | bytes, content_type: str) -> None:
            data = body.encode() if isinstance(body, str) else body
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _json(self, code: int, body: Any) -> None:
            text = json.dumps(body, indent=2, sort_keys=True, default=str)
            self._send(code, text + "\n", "application/json")

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            service = server.service
            if path == "/healthz":
                self._json(200, {"ok": True})
            elif path == "/readyz":
                ready, reason = service.readiness.check()
                self._json(200 if ready else 503, {"ready": ready, "reason": reason})
            elif path == "/status":
                code, body = server.status()
                self._json(code, body)
            elif path == "/metrics":
                data, content_type = service.metrics.exposition(self.headers.get("Accept"))
                self._send(200, data, content_type)
            else:
                self._json(404, {"error": f"no such endpoint {path}",
                                 "endpoints": ["/healthz", "/readyz", "/status", "/metrics",
                                               "POST /hooks/git"]})

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(min(length, 1 << 20))
            git = server.service.git
            if path != "/hooks/git":
                self._json(404, {"error": f"no such endpoint {path}"})
            elif git is None:
                self._json(404, {"error": "this service has no git source (start it with --git)"})
            else:
                server.service.metrics.triggers.labels(source=Trigger.GIT_HOOK.value).inc()
                log.info("git_hook", project=server.service.project)
                git.trigger()
                self._json(202, {"accepted": True, "revision": git.revision})

    return Handler
