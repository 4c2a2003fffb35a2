"""The fault campaign's bench: one private daemon, one project, faults and the checks after.

Role: a :class:`Bench` owns a private ``dockerd`` (``tests/dockerd.py``), a
:class:`~tests.faults.proxy.KillProxy` in front of it and a spec directory
with two services: ``web`` (stop-first, a host port, a named and an anonymous
volume) and ``api`` (start-first, a healthcheck, stateless). It runs the CLI
through the proxy (to be killed at request N) or straight to the daemon (the
recovery pass), writes checksum files into the volumes, polls which copies
run (the longest time with none of a service running) and checks the
invariants after each fault. :data:`TALLY` collects one :class:`Row` per
fault kind for the table (``tests/faults/conftest.py``, ``report.py``).
Neighbours: ``tests/faults/test_*.py`` (the cases).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.types import LABEL_PROJECT
from tests.dockerd import PrivateDockerd
from tests.faults.proxy import KillProxy
from tests.integration.conftest import IMAGE, ROOT, Run, run_cli

LOOP = '["sh", "-c", "trap \'exit 0\' TERM; while :; do sleep 1; done"]'
POINTS = int(os.environ.get("DW_FAULT_POINTS", "3"))  # kill points per sweep and mode


@dataclass
class Row:
    """One fault kind's totals."""

    injected: int = 0
    survived: int = 0
    sums_checked: int = 0
    sums_kept: int = 0
    max_gap: float = 0.0
    failures: list[str] = field(default_factory=list)


TALLY: dict[str, Row] = {}


def row(kind: str) -> Row:
    return TALLY.setdefault(kind, Row())


def points(total: int) -> list[int]:
    """``POINTS`` request numbers spread over ``1..total`` (all when ``POINTS`` >= total)."""
    if total <= 0:
        return []
    if total <= POINTS:
        return list(range(1, total + 1))
    return sorted({1 + round(i * (total - 1) / max(POINTS - 1, 1)) for i in range(POINTS)})


class Downtime:
    """Polls ``up()`` every 50 ms while open; ``longest`` is the longest stretch in which
    it answered False."""

    def __init__(self, up: Callable[[], bool]) -> None:
        self._up_now = up
        self.longest = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> Downtime:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _poll(self) -> None:
        down_since: float | None = None
        while not self._stop.is_set():
            up = self._up_now()
            now = time.monotonic()
            if up:
                down_since = None
            else:
                down_since = now if down_since is None else down_since
                self.longest = max(self.longest, now - down_since)
            self._stop.wait(0.05)


class Gap(Downtime):
    """Polls the daemon (straight, not through the proxy) for running copies of
    ``service`` (its name, or its renamed ``_dw-old-`` copy); ``longest`` is the
    longest stretch with none running (an unreachable daemon counts as none)."""

    def __init__(self, daemon: PrivateDockerd, project: str, service: str) -> None:
        self.daemon, self.project, self.service = daemon, project, service
        self._client: Any = None
        super().__init__(self._running)

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        if self._client is not None:
            self._client.close()
            self._client = None

    def _running(self) -> bool:
        if self._client is None:
            try:
                self._client = self.daemon.client()
            except Exception:
                return False
        try:
            rows = self._client.api.containers(
                filters={"label": f"{LABEL_PROJECT}={self.project}", "status": "running"})
        except Exception:
            self._client.close()
            self._client = None
            return False
        names = [str(c["Names"][0]).lstrip("/") for c in rows]
        return any(n == self.service or n.startswith(f"{self.service}_dw-old-") for n in names)


class Bench:
    """A project on a private daemon, driven through a counting proxy."""

    def __init__(self, daemon: PrivateDockerd, spec_dir: Path, project: str) -> None:
        self.daemon, self.dir, self.project = daemon, spec_dir, project
        self.proxy = KillProxy(daemon.sock, daemon.base / "proxy.sock")
        self.versions = {"web": 0, "api": 0}
        self.proc: subprocess.Popen[bytes] | None = None

    # -- specs -------------------------------------------------------------------------------
    def write(self, *bump: str) -> None:
        """Both services; those named in ``bump`` get a new env (the next pass recreates them)."""
        for service in bump:
            self.versions[service] += 1
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "app.toml").write_text(textwrap.dedent(f"""\
            [project]
            name = "{self.project}"

            [volume.data]

            [container.web]
            image = "{IMAGE}"
            command = {LOOP}
            ports = ["127.0.0.1:18080:80"]
            volumes = ["data:/data", "/anon"]
            stop_timeout = "1s"
            env = {{ V = "{self.versions['web']}" }}

            [container.api]
            image = "{IMAGE}"
            command = {LOOP}
            update_order = "start-first"
            healthcheck = {{ test = ["CMD", "true"], interval = "1s" }}
            stop_timeout = "1s"
            env = {{ V = "{self.versions['api']}" }}
            """))

    # -- the CLI -----------------------------------------------------------------------------
    def env(self, through_proxy: bool) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT)
        env.pop("DOCKWRIGHT_RUNTIME", None)
        env["DOCKER_HOST"] = self.proxy.url if through_proxy else self.daemon.url
        return env

    def start_cli(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """The CLI through the proxy (``env``: more variables)."""
        with (self.daemon.base / "cli.log").open("ab") as log:  # the last runs, for a failure
            self.proc = subprocess.Popen([sys.executable, "-m", "controller.cli", *args],
                                         env={**self.env(True), **(env or {})},
                                         stdout=log, stderr=log)
        return self.proc

    def kill_cli(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()

    def cli(self, *args: str, env: dict[str, str] | None = None) -> Run:
        """The CLI straight to the daemon (a plain pass)."""
        return run_cli(list(args), env={"DOCKER_HOST": self.daemon.url, **(env or {})})

    def _wait(self, proc: subprocess.Popen[bytes], timeout: float) -> None:
        """Until ``proc`` exits, the armed fault fires, or it idles (a converged ``watch``:
        no request for 3 s), then SIGKILL it if it still runs."""
        deadline = time.monotonic() + timeout
        seen, since = -1, time.monotonic()
        while proc.poll() is None and not self.proxy.fired and time.monotonic() < deadline:
            if self.proxy.count != seen:
                seen, since = self.proxy.count, time.monotonic()
            elif time.monotonic() - since > 3:
                break
            time.sleep(0.02)
        if proc.poll() is None:
            proc.kill()
        proc.wait(60)

    def count(self, *args: str) -> int:
        """Requests of one unkilled pass of ``args`` (through the proxy; a watch is
        stopped once idle)."""
        self.proxy.arm(None)
        self._wait(self.start_cli(*args), 180)
        return self.proxy.count

    def killed_at(self, n: int, mode: str, *args: str, timeout: float = 120) -> bool:
        """Run ``args`` through the proxy, SIGKILLed at request ``n``; True if it was."""
        self.proxy.arm(n, mode, self.kill_cli)
        self._wait(self.start_cli(*args), timeout)
        return self.proxy.fired

    # -- state and checks --------------------------------------------------------------------
    def states(self) -> dict[str, str]:
        client = self.daemon.client()
        try:
            rows = client.api.containers(all=True,
                                         filters={"label": f"{LABEL_PROJECT}={self.project}"})
            return {str(c["Names"][0]).lstrip("/"): str(c["State"]) for c in rows}
        finally:
            client.close()

    def exec(self, name: str, script: str) -> tuple[int, str]:
        client = self.daemon.client()
        try:
            code, out = client.containers.get(name).exec_run(["sh", "-c", script])
            return int(code), out.decode(errors="replace")
        finally:
            client.close()

    def seed(self, paths: tuple[str, ...] = ("/data", "/anon")) -> None:
        """Random data and its checksum file in each of ``web``'s volumes."""
        for path in paths:
            code, out = self.exec("web", f"head -c 65536 /dev/urandom > {path}/blob && "
                                         f"cd {path} && md5sum blob > sum")
            assert code == 0, out

    def sums(self, paths: tuple[str, ...] = ("/data", "/anon")) -> tuple[int, int]:
        """(checked, kept) checksum files in ``web``'s volumes."""
        kept = sum(self.exec("web", f"cd {p} && md5sum -c sum")[0] == 0 for p in paths)
        return len(paths), kept

    def converged(self, expected: frozenset[str]) -> list[str]:
        """What is wrong once the recovery pass ended (empty: nothing)."""
        wrong = []
        diff = self.cli("diff", str(self.dir))
        if diff.code != 0:
            wrong.append(f"diff after recovery: exit {diff.code}: {diff.out[-400:]}")
        states = self.states()
        if set(states) != expected:
            wrong.append(f"containers {sorted(states)} (expected {sorted(expected)})")
        stuck = {n: s for n, s in states.items() if s != "running"}
        if stuck:
            wrong.append(f"not running: {stuck}")
        return wrong

    def outcome(self, kind: str, case: str, gap: float, recovery: Run,
                sums: tuple[str, ...] = ("/data", "/anon"), wrong: list[str] | None = None,
                expected: frozenset[str] = frozenset({"web", "api"})) -> None:
        """Check and record one injected fault of ``kind`` (``wrong``: found earlier)."""
        r = row(kind)
        r.injected += 1
        r.max_gap = max(r.max_gap, gap)
        wrong = list(wrong or [])
        if recovery.code != 0:
            wrong.append(f"recovery pass: exit {recovery.code}: {recovery.text[-600:]}")
        wrong += self.converged(expected)
        if "web" in expected and sums:
            checked, kept = self.sums(sums)
            r.sums_checked += checked
            r.sums_kept += kept
            if kept != checked:
                wrong.append(f"checksums kept {kept}/{checked}")
        if wrong:
            r.failures.append(f"{case}: " + "; ".join(wrong))
        else:
            r.survived += 1
