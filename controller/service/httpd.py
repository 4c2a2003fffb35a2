"""The watch service's HTTP endpoint: its routes, on the hardened server.

Role: ``--listen 127.0.0.1:PORT`` serves, through ``controller.service.httpserver``
(bounded sizes, deadlines, a connection cap, safe headers, 405/404 for the rest):
- ``GET /healthz``: 200 while the service runs;
- ``GET /readyz``: 200 after the first successful pass while the runtime answers;
  503 with the reason before, and while the runtime is unreachable
  (``controller.service.readiness``);
- ``GET /status``: the JSON of ``dockwright status --output json`` (the runtime
  view's: ``controller.service.runtimeview`` / ``swarmview``) plus a ``watch``
  object: applied revision, quarantined files, spec errors, backoffs, crash loops,
  last pass, refused webhooks;
- ``GET /metrics``: the Prometheus exposition (``controller.service.metrics``, in the
  format the scraper's ``Accept`` asks for), with the project's containers (Swarm:
  services) by state counted at scrape time;
- ``POST /hooks/git``: fetch the git source now (202; 404 without one); with a
  webhook secret only a call signed the GitHub or GitLab way
  (``controller.service.webhook``), else 401 (counted in ``dockwright_errors_total
  {kind="webhook_rejected"}``; the first from each address is logged and journaled
  with the next pass as ``webhook-rejected``). The pass it causes is journaled with
  the trigger ``webhook``. GitHub's ``ping`` event is answered 200 without a fetch.
GETs read only. The web dashboard (``/``, ``/p/...``, ``/journal``, ``/events``:
``controller.service.dashboard.routes``) is mounted on :attr:`StatusServer.router` here.
It serves any ``controller.service.watched.Watched`` service: ``WatchService``
(Docker, native) or ``controller.service.swarmwatch.SwarmWatch``, with the matching
``RuntimeView``. Neighbours: ``controller.commands.watch`` (starts and stops it).
"""

from __future__ import annotations

from typing import Any

import structlog

from controller.execution.journal.values import EventKind, Note, Outcome
from controller.service.httpserver import HTTPServer, Router
from controller.service.httpwire import Limits, Request, Response, json_response
from controller.service.runtimeview import RuntimeView
from controller.service.watched import Watched
from controller.service.webhook import Rejections, verify
from runtime.types import LABEL_RESOURCE

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
    """The watch service's HTTP endpoint, bound to one watch service; ``view``: its
    runtime's side (default: Docker and native, through ``service.handle``)."""

    def __init__(self, service: Watched, host: str, port: int, *,
                 webhook_secret: bytes | None = None, limits: Limits | None = None,
                 view: RuntimeView | None = None) -> None:
        if view is None:
            from controller.service.loop import WatchService
            from controller.service.runtimeview import DockerView

            assert isinstance(service, WatchService), "a Swarm service needs its SwarmView"
            view = DockerView(service)
        self.service, self.view = service, view
        self.webhook_secret = webhook_secret
        self.rejections = Rejections()
        self.router = _routes(self)
        from controller.service.dashboard.routes import mount

        self.dashboard = mount(self.router, service, view)  # /, /p/..., /journal, /events
        self.httpd = HTTPServer(host, port, self.router, limits=limits)
        self.address = self.httpd.address
        service.metrics.count_resources(self._resources_by_state)

    def start(self) -> None:
        self.httpd.start()
        log.info("http_listening", address=f"{self.address[0]}:{self.address[1]}",
                 webhook_signed=self.webhook_secret is not None)

    def stop(self) -> None:
        self.dashboard.close()  # ends the event streams
        self.httpd.stop()

    def git_hook(self, request: Request) -> Response:
        """``POST /hooks/git``: the signature first (nothing else is told to a stranger)."""
        service = self.service
        scheme = "none"
        if self.webhook_secret is not None:
            verdict = verify(self.webhook_secret, request.headers, request.body)
            if not verdict.ok:
                if self.rejections.note(request.client, verdict, service.project) \
                        and service.journal is not None:
                    service.journal.note(Note(
                        "webhook", "webhook", EventKind.WEBHOOK_REJECTED.value,
                        Outcome.REFUSED, f"POST /hooks/git from {request.client} refused "
                        f"(further calls from there are only counted): {verdict.reason}",
                        name=request.client))
                service.metrics.errors.labels(kind="webhook_rejected").inc()
                return json_response(401, {"error": verdict.reason})
            scheme = verdict.scheme
        git = service.git
        if git is None:
            return json_response(404, {"error": "this service has no git source (start it "
                                                "with --git)"})
        if request.headers.get("X-GitHub-Event") == "ping":
            return json_response(200, {"pong": True, "revision": git.revision})
        log.info("webhook", project=service.project, client=request.client, signed=scheme)
        git.trigger()
        return json_response(202, {"accepted": True, "revision": git.revision})

    # views ---------------------------------------------------------------------------
    def _resources_by_state(self) -> list[tuple[str, float]]:
        try:
            return self.view.states()
        except Exception as exc:  # the runtime may be down; metrics still answer
            log.debug("metrics_list_failed", error=str(exc))
            return []

    def status(self) -> tuple[int, dict[str, Any]]:
        service = self.service
        watch = service.watch_status()
        body: dict[str, Any] = {}
        code = 200
        try:
            body = self.view.status()
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
        body["webhook"] = {"signed": self.webhook_secret is not None,
                           **self.rejections.to_json()}
        return code, body


def _resource_entries(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-resource dicts of a status JSON, whatever its exact layout."""
    found = body.get("resources") or body.get("containers") or []
    if isinstance(found, dict):
        return [v for v in found.values() if isinstance(v, dict)]
    return [v for v in found if isinstance(v, dict)]


def _routes(server: StatusServer) -> Router:
    """The service's own routes (read-only GETs, the one POST)."""
    service = server.service
    router = Router()

    def healthz(_request: Request) -> Response:
        return json_response(200, {"ok": True})

    def readyz(_request: Request) -> Response:
        ready, reason = service.readiness.check()
        return json_response(200 if ready else 503, {"ready": ready, "reason": reason})

    def status_view(_request: Request) -> Response:
        code, body = server.status()
        return json_response(code, body)

    def metrics(request: Request) -> Response:
        data, content_type = service.metrics.exposition(request.headers.get("Accept"))
        return Response(200, data, content_type)

    router.get("/healthz", healthz)
    router.get("/readyz", readyz)
    router.get("/status", status_view)
    router.get("/metrics", metrics)
    router.post("/hooks/git", server.git_hook)
    return router
