"""Readiness of the watch service: a first pass done, and the runtime answering.

Role: ``GET /readyz`` (``controller.service.httpd``) asks :meth:`Readiness.check`,
which says "not ready", with the reason, before the first pass, while the
runtime does not answer a ping, and after a runtime call failed with
``Unavailable`` until a ping succeeds again. The ping goes through the service's
``RuntimeHandle`` (a fresh driver after an outage), runs in its own thread so that
a hung daemon makes the probe answer 503 within ``PING_WAIT`` instead of hanging
it, and its answer is reused for ``FRESH`` seconds so that frequent probes put
no load on the daemon. Neighbours: ``controller.service.loop.WatchService`` (owns
one; reports runtime failures and finished passes), ``controller.service.httpd``,
``controller.service.metrics`` (the ready gauge, through ``on_change``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol

PING_WAIT = 3.0  # seconds a probe waits for the runtime's answer
FRESH = 1.0  # seconds a ping's answer is reused


class _Pingable(Protocol):
    def ping(self) -> None: ...


class _Handle(Protocol):
    """A ``RuntimeHandle`` (Docker, native), or the Swarm watch's own driver."""

    def get(self) -> _Pingable: ...

    def invalidate(self, driver: Any, exc: BaseException) -> None: ...


class Readiness:
    """``check()`` -> (ready, reason); ``failed(reason)`` and ``passed()`` from the loop."""

    def __init__(self, handle: _Handle, first_pass: threading.Event,
                 on_change: Callable[[bool], None] | None = None) -> None:
        self._handle, self._first_pass, self._on_change = handle, first_pass, on_change
        self._lock = threading.Lock()
        self._down: str | None = None  # why the runtime is taken as unreachable
        self._answer: tuple[float, str | None] | None = None  # (monotonic time, error)
        self._ping: Future[str | None] | None = None

    def failed(self, reason: str) -> None:
        """A runtime call failed with ``Unavailable``: not ready until a ping succeeds."""
        with self._lock:
            self._down, self._answer = reason, None
        self._changed(False)

    def passed(self) -> None:
        """A pass went through: the runtime answered."""
        with self._lock:
            self._down, self._answer = None, (time.monotonic(), None)
        self._changed(True)

    def check(self) -> tuple[bool, str | None]:
        """Whether the service is ready, and why not."""
        if not self._first_pass.is_set():
            return False, "no pass has finished yet"
        error = self._runtime_error()
        with self._lock:
            self._down = error
        self._changed(error is None)
        if error is not None:
            return False, f"the container runtime is unreachable: {error}"
        return True, None

    def _runtime_error(self) -> str | None:
        with self._lock:
            if self._answer is not None and time.monotonic() - self._answer[0] < FRESH:
                return self._answer[1]
            if self._ping is None or self._ping.done():  # a hung ping is waited on, not stacked
                self._ping = Future()
                threading.Thread(target=self._run_ping, args=(self._ping,),
                                 name="dw-readyz-ping", daemon=True).start()
            ping = self._ping
        try:
            error = ping.result(timeout=PING_WAIT)
        except TimeoutError:
            error = f"no answer to a ping within {PING_WAIT:g}s"
        with self._lock:
            self._answer = (time.monotonic(), error)
        return error

    def _run_ping(self, future: Future[str | None]) -> None:
        driver: _Pingable | None = None
        try:
            driver = self._handle.get()
            driver.ping()
        except Exception as exc:  # Unavailable, or a driver that cannot even be made
            if driver is not None:  # the next user re-creates it (a fresh connection)
                self._handle.invalidate(driver, exc)
            future.set_result(str(exc) or type(exc).__name__)
            return
        future.set_result(None)

    def _changed(self, ready: bool) -> None:
        if self._on_change is not None and self._first_pass.is_set():
            self._on_change(ready)
