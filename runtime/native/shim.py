"""Per-container monitor: exit handling, restart policy, health checks, events.

Role: carried out by dockwright itself, outside the controller, in two modes of
``python -m runtime.native.shim <state_dir> <id> <mode>``:

- ``exit``: conmon's ``--exit-command``, run once the container has exited
  (so no resident process is needed for it): records the exit code and OOM
  flag, appends ``oom``/``die`` events, and applies the restart policy
  (always, unless-stopped, on-failure[:max]) with Docker-like backoff
  (100 ms doubling up to 1 min, reset after 10 s of running) unless the
  container was stopped by the user; a restart launches a new conmon whose
  exit command is again this mode.
- ``health``: a small detached process, started with the container when it
  has a healthcheck (and re-adopted by ``gc`` after a controller restart):
  runs the test with ``exec`` on its interval, timeout, retries and start
  period, writes the health into the record and ``health_status`` events;
  it ends when the container is stopped for good or removed.

Every launch (a start, a restart) first names in the bundle the pid and IPC
namespaces of a ``container:NAME`` mode as NAME's process has them then
(:func:`join_namespaces`).
Neighbours: ``supervise`` (launch, exit status), ``oci`` (exec), ``records``,
``events``; spawned by ``containers`` and ``gc``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sys
import time
from pathlib import Path

import runtime
from runtime.errors import InvalidRequest, NotFound, RuntimeError_
from runtime.native import events, supervise
from runtime.native.oci import OciRuntime
from runtime.native.records import READY, Layout, Record, RecordStore, now_iso
from runtime.types import HealthSpec

POLL = 0.05
PROJECT_ROOT = str(Path(runtime.__file__).resolve().parent.parent)


def exit_command(state_dir: Path, cid: str, token: str) -> list[str]:
    """The argv conmon runs when the container exits (conmon passes no environment).

    ``token`` names the run: an exit handler of an earlier run that runs late (after
    a stop and a new start) must not mark the new run as exited.
    """
    return [
        "/usr/bin/env", f"PYTHONPATH={PROJECT_ROOT}",
        sys.executable, "-m", "runtime.native.shim", str(state_dir), cid, "exit", token,
    ]  # fmt: skip


def new_run_token() -> str:
    return secrets.token_hex(8)


def shim_env() -> dict[str, str]:
    return {"PYTHONPATH": PROJECT_ROOT}


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


def launch(
    oci: OciRuntime, state_dir: Path, lay: Layout, rec: Record, token: str
) -> tuple[int, int]:
    """Start the container's process under conmon with the exit mode as its exit command."""
    join_namespaces(state_dir, lay, rec)
    return supervise.launch(
        oci, lay, name=rec.config.name, tty=rec.config.tty, stdin=rec.config.stdin_open,
        exit_command=exit_command(state_dir, rec.id, token), env=shim_env(),
    )  # fmt: skip


def join_namespaces(state_dir: Path, lay: Layout, rec: Record) -> None:
    """``pid``/``ipc = "container:NAME"``: the bundle names NAME's namespaces, by its
    process as it runs now (a restart of NAME gives it a new one); NAME must run."""
    joins = {kind: mode[len("container:"):] for kind, mode in
             (("pid", rec.config.pid_mode), ("ipc", rec.config.ipc_mode))
             if mode is not None and mode.startswith("container:")}
    if not joins:
        return
    records = RecordStore(state_dir)
    spec = json.loads(lay.config.read_text())
    for kind, name in joins.items():
        try:
            target = records.read(records.resolve(name))
        except NotFound as exc:
            raise InvalidRequest(f"{kind} = \"container:{name}\": {name} does not exist",
                                 hint="create and start it first") from exc
        if target.state != "running" or not target.pid or not os.path.exists(
                f"/proc/{target.pid}/ns/{kind}"):
            raise InvalidRequest(f"{kind} = \"container:{name}\": {name} is not running",
                                 hint=f"start {name} first (dockwright orders it so)")
        spec["linux"]["namespaces"] = [
            {"type": kind, "path": f"/proc/{target.pid}/ns/{kind}"} if n["type"] == kind else n
            for n in spec["linux"]["namespaces"]]
    tmp = lay.config.with_suffix(".tmp")
    tmp.write_text(json.dumps(spec))
    tmp.replace(lay.config)


class Shim:
    def __init__(self, state_dir: Path, cid: str) -> None:
        self.state_dir = state_dir
        self.cid = cid
        self.records = RecordStore(state_dir)
        self.oci = OciRuntime(state_dir)
        self.lay = self.records.layout(cid)
        self.log_path = state_dir / "events.log"

    def emit(self, rec: Record, action: str, detail: str = "") -> None:
        events.append(self.log_path, action, rec.id, rec.config.name, rec.config.labels, detail)

    def current(self) -> Record | None:
        try:
            rec = self.records.read(self.cid)
        except NotFound:
            return None
        return rec if rec.phase == READY else None

    # exit mode ----------------------------------------------------------------
    def on_exit(self, token: str = "") -> None:
        status = supervise.exit_status(self.lay)
        if status is None or not self.lay.record.exists():
            return
        code, oom = status
        for _ in range(10):  # conmon may write the oom file just after the exit file
            if oom or code != 137:
                break
            time.sleep(0.03)
            oom = (supervise.exit_status(self.lay) or (code, False))[1]
        # under the operation lock: a start that is still recording "running" goes first
        with self.records.hold(self.cid):
            current = self.current()
            if current is not None and token and current.run_token not in ("", token):
                return  # the exit of an earlier run, handled late: a new run is live
            rec = self.record_exit(code, oom)
            if rec is None or not should_restart(rec, code):
                return
            self.records.update(self.cid, lambda r: setattr(r, "state", "restarting"))
        ran = time.time() - rec.last_start
        attempt = 0 if ran > 10 else rec.restart_count  # consecutive quick deaths
        if self.wait_backoff(backoff(attempt)):
            self.restart()
        else:
            with contextlib.suppress(NotFound):
                self.records.update(self.cid, _settle_exited)

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

    def restart(self) -> None:
        def change(r: Record) -> None:
            r.state, r.pid, r.conmon_pid, r.run_token = "running", pid, conmon_pid, token
            r.exit_code, r.oom, r.restart_count = None, False, r.restart_count + 1
            r.started_at, r.last_start = now_iso(), time.time()
            r.health = "starting" if r.health_spec() else "none"
            r.failing_streak = 0

        # under the operation lock: a remove or start cannot interleave with this launch
        with self.records.hold(self.cid):
            rec = self.current()
            if rec is None or rec.stopped_by_user or rec.state != "restarting":
                return
            token = new_run_token()
            try:
                pid, conmon_pid = launch(self.oci, self.state_dir, self.lay, rec, token)
            except RuntimeError_ as exc:
                print(f"restart of {self.cid[:12]} failed: {exc}", file=sys.stderr, flush=True)
                self.records.update(self.cid, _settle_exited)
                return
            rec = self.records.update(self.cid, change)
        self.emit(rec, "start")

    # health mode --------------------------------------------------------------
    def health_loop(self) -> None:
        """Probe while the container runs; follow restarts; end when it is gone for good."""
        started_seen = ""
        next_probe = 0.0
        while True:
            rec = self.current()
            if rec is None or rec.health_spec() is None:
                return
            spec = rec.health_spec()
            assert spec is not None
            if rec.state == "exited" and (rec.stopped_by_user or not should_restart(
                rec, rec.exit_code or 0)):  # fmt: skip
                return
            running = rec.state == "running" and supervise.exit_status(self.lay) is None
            if not running:
                time.sleep(POLL * 2)
                continue
            if rec.started_at != started_seen:  # a new run: first probe soon
                started_seen = rec.started_at
                next_probe = time.monotonic() + min(spec.interval or 30.0, 0.5)
            if time.monotonic() >= next_probe:
                self.probe(spec, rec)
                next_probe = time.monotonic() + (spec.interval or 30.0)
            time.sleep(min(POLL * 2, max(0.0, next_probe - time.monotonic())))

    def probe(self, spec: HealthSpec, rec: Record) -> None:
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
        if supervise.exit_status(self.lay) is not None:
            return  # the container died meanwhile: not a health verdict
        in_start_period = time.time() - rec.last_start < (spec.start_period or 0.0)
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
            new = self.records.update(self.cid, change)
            if before and before[0] != new.health:
                self.emit(new, "health_status", new.health)


def _settle_exited(r: Record) -> None:
    if r.state == "restarting":
        r.state = "exited"


def main(argv: list[str]) -> int:
    if len(argv) not in (3, 4) or argv[2] not in ("exit", "health"):
        print("usage: python -m runtime.native.shim STATE_DIR ID exit [TOKEN] | health",
              file=sys.stderr)
        return 2
    with contextlib.suppress(OSError):
        os.setsid()
    shim = Shim(Path(argv[0]), argv[1])
    with contextlib.suppress(OSError):  # conmon gives its exit command no stdio
        fd = os.open(shim.lay.shim_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(fd, 2)
        os.close(fd)
    if argv[2] == "exit":
        shim.on_exit(argv[3] if len(argv) == 4 else "")
    else:
        shim.health_loop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
