"""Per-container monitor: restart policy, health checks and events, outside the controller.

Role: ``python -m runtime.native.shim <state_dir> <id>`` is started detached
(own session) by the driver each time it starts a container and survives the
controller. It waits for conmon's exit file, records the exit code / OOM flag
and appends ``die``/``oom`` events; applies the restart policy (always,
unless-stopped, on-failure[:max]) with Docker-like backoff (100 ms doubling
up to 1 min, reset after 10 s of running) unless the container was stopped by
the user; runs the healthcheck (``exec`` in the container) on its interval,
timeout, retries and start period in a thread, writing the health into the
record and ``health_status`` events. It exits when the container is stopped
for good or its record goes away. Neighbours: ``supervise`` (launch, exit
status), ``oci`` (exec), ``records``, ``events``; started by ``driver``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from pathlib import Path

from runtime.errors import NotFound, RuntimeError_
from runtime.native import events, supervise
from runtime.native.oci import OciRuntime
from runtime.native.records import READY, Record, RecordStore, now_iso
from runtime.types import HealthSpec

POLL = 0.05


def should_restart(rec: Record, code: int) -> bool:
    policy = rec.config.restart
    if rec.stopped_by_user or policy.name == "no":
        return False
    if policy.name in ("always", "unless-stopped"):
        return True
    if policy.name == "on-failure":
        return code != 0 and (policy.max_retries <= 0 or rec.restart_count < policy.max_retries)
    return False


def backoff(attempt: int) -> float:
    return float(min(0.1 * (2**attempt), 60.0))


class Shim:
    def __init__(self, state_dir: Path, cid: str) -> None:
        self.state_dir = state_dir
        self.cid = cid
        self.records = RecordStore(state_dir)
        self.oci = OciRuntime(state_dir)
        self.lay = self.records.layout(cid)
        self.log_path = state_dir / "events.log"
        self.run_id = 0  # bumped at each (re)start; the health thread follows it
        self.stop = threading.Event()

    def emit(self, rec: Record, action: str, detail: str = "") -> None:
        events.append(self.log_path, action, rec.id, rec.config.name, rec.config.labels, detail)

    def current(self) -> Record | None:
        try:
            rec = self.records.read(self.cid)
        except NotFound:
            return None
        return rec if rec.phase == READY else None

    # main loop --------------------------------------------------------------
    def run(self) -> None:
        threading.Thread(target=self.health_loop, daemon=True).start()
        attempt = 0
        while True:
            status = supervise.exit_status(self.lay)
            if status is None:
                if self.current() is None:
                    return
                time.sleep(POLL)
                continue
            code, oom = status
            for _ in range(10):  # conmon may write the oom file just after the exit file
                if oom or code != 137:
                    break
                time.sleep(0.03)
                oom = (supervise.exit_status(self.lay) or (code, False))[1]
            self.run_id += 1
            rec = self.record_exit(code, oom)
            if rec is None or not should_restart(rec, code):
                return
            ran = time.time() - rec.last_start
            attempt = 0 if ran > 10 else attempt + 1
            if not self.wait_backoff(backoff(attempt)):
                return
            if not self.restart():
                return

    def record_exit(self, code: int, oom: bool) -> Record | None:
        def change(r: Record) -> None:
            if r.state in ("running", "restarting"):
                r.finished_at = now_iso()
            r.state, r.exit_code, r.oom, r.pid = "exited", code, oom, None

        try:
            rec = self.records.update(self.cid, change)
        except NotFound:
            return None
        if oom:
            self.emit(rec, "oom")
        self.emit(rec, "die", str(code))
        return rec if rec.phase == READY else None

    def wait_backoff(self, delay: float) -> bool:
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline:
            rec = self.current()
            if rec is None or rec.stopped_by_user or rec.state == "running":
                return False
            time.sleep(min(POLL, max(0.0, deadline - time.monotonic())))
        return True

    def restart(self) -> bool:
        rec = self.current()
        if rec is None or rec.stopped_by_user:
            return False
        self.records.update(self.cid, lambda r: setattr(r, "state", "restarting"))
        try:
            pid, conmon_pid = supervise.launch(
                self.oci, self.lay, name=rec.config.name, tty=rec.config.tty
            )
        except RuntimeError_ as exc:
            print(f"restart of {self.cid[:12]} failed: {exc}", file=sys.stderr, flush=True)
            self.records.update(self.cid, lambda r: setattr(r, "state", "exited"))
            return False

        def change(r: Record) -> None:
            r.state, r.pid, r.conmon_pid = "running", pid, conmon_pid
            r.exit_code, r.oom, r.restart_count = None, False, r.restart_count + 1
            r.started_at, r.last_start = now_iso(), time.time()
            r.health = "starting" if r.health_spec() else "none"
            r.failing_streak = 0

        rec = self.records.update(self.cid, change)
        self.emit(rec, "start")
        return True

    # health -----------------------------------------------------------------
    def health_loop(self) -> None:
        while True:
            rec = self.current()
            if rec is None:
                return
            spec = rec.health_spec()
            if spec is None:
                return
            run_id, started = self.run_id, time.time()
            interval = spec.interval or 30.0
            time.sleep(min(interval, 0.5) if rec.health == "starting" else interval)
            while self.run_id == run_id and supervise.exit_status(self.lay) is None:
                self.probe(spec, started)
                time.sleep(interval)
            time.sleep(POLL)

    def probe(self, spec: HealthSpec, started: float) -> None:
        kind, *rest = spec.test
        args = ["/bin/sh", "-c", " ".join(rest)] if kind == "CMD-SHELL" else list(rest)
        try:
            process = json.loads(self.lay.config.read_text())["process"]
        except (OSError, ValueError, KeyError):
            return
        process = {**process, "args": args, "terminal": False}
        try:
            result = self.oci.exec(self.cid, process, timeout=spec.timeout or 30.0)
            ok = result.exit_code == 0
        except RuntimeError_:
            ok = False
        in_start_period = time.time() - started < (spec.start_period or 0.0)
        retries = spec.retries or 3
        before: list[str] = []

        def change(r: Record) -> None:
            before.append(r.health)
            if ok:
                r.health, r.failing_streak = "healthy", 0
            elif not (in_start_period and r.health == "starting"):
                r.failing_streak += 1
                if r.failing_streak >= retries:
                    r.health = "unhealthy"

        with contextlib.suppress(NotFound):
            rec = self.records.update(self.cid, change)
            if before and before[0] != rec.health:
                self.emit(rec, "health_status", rec.health)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m runtime.native.shim STATE_DIR CONTAINER_ID", file=sys.stderr)
        return 2
    with contextlib.suppress(OSError):
        os.setsid()
    Shim(Path(argv[0]), argv[1]).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
