"""End-to-end tests of ``dockwright watch --runtime native``: the real service (a
subprocess) on the daemonless runtime, with its own state folder, asserting on
what the native runtime shows (``dockwright ps``/``exec`` on the same state
folder, the container records) and on the service's JSON log events.

The image comes from a ``docker save`` archive written by
``scripts/make_busybox_archive.py`` (no Docker needed), referenced by the spec
as ``image = { ref, archive }``. ``--resync 0`` turns the periodic pass off, so
only the trigger under test (a file change, a runtime event) can converge.
Neighbours: ``tests/watch/helpers.py`` (``Service``), ``tests/watch/test_service.py``
(the same scenarios on Docker), ``tests/native/conftest.py`` (``leaks``),
``runtime.native`` (records under ``<state>/containers``, names under ``<state>/names``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_for
from tests.native.conftest import leaks
from tests.ports import free_port
from tests.watch.helpers import LOOP_CMD, ROOT, Service

pytestmark = pytest.mark.native

IMAGE_REF = "dockwright-test/native-watch-busybox:latest"
DEADLINE = 60.0


@pytest.fixture(scope="module")
def watch_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The busybox image as a ``docker save`` archive tagged ``IMAGE_REF``."""
    out = tmp_path_factory.mktemp("native-watch-image") / "busybox.tar"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_busybox_archive.py"),
                    str(out), "--tag", IMAGE_REF], check=True, capture_output=True)
    return out


@dataclass
class NativeWatch:
    """One project on a private state folder, and the ``watch`` service running it."""

    project: str
    state: Path
    specs: Path
    archive: Path
    env: dict[str, str]
    service: Service | None = None
    seen_ids: set[str] = field(default_factory=set)

    def name(self, short: str) -> str:
        return f"{self.project}-{short}"

    def write(self, short: str, env: dict[str, str]) -> None:
        pairs = ", ".join(f'{k} = "{v}"' for k, v in env.items())
        (self.specs / f"{short}.toml").write_text(
            f"[container.{self.name(short)}]\n"
            f'image = {{ ref = "{IMAGE_REF}", archive = "{self.archive}" }}\n'
            f"command = {LOOP_CMD}\n"
            'stop_timeout = "1s"\n'
            f"env = {{ {pairs} }}\n")

    def global_args(self) -> list[str]:
        return ["--runtime", "native", "--state-dir", str(self.state), "--project", self.project]

    def start(self) -> Service:
        port = free_port()
        self.service = Service([*self.global_args(), "watch", str(self.specs), "--resync", "0",
                                "--listen", f"127.0.0.1:{port}"], env=self.env, port=port)
        return self.service

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ)
        env.pop("DOCKWRIGHT_RUNTIME", None)
        env.update(self.env)
        proc = subprocess.run([sys.executable, "-m", "controller.cli", *self.global_args(),
                               *args], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=120, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"dockwright {' '.join(args)} exited {proc.returncode}:\n"
                                 f"{proc.stdout}{proc.stderr}")
        return proc

    def ps(self, short: str) -> dict[str, Any] | None:
        """The ``dockwright ps`` row of the container (refreshed by the runtime), or None."""
        rows = json.loads(self.cli("ps", "--output", "json").stdout)
        return next((r for r in rows if r["name"] == self.name(short)), None)

    def record(self, short: str) -> dict[str, Any] | None:
        """The native runtime's record of the container, or None (e.g. mid-recreate)."""
        try:
            cid = (self.state / "names" / self.name(short)).read_text().strip()
            rec: dict[str, Any] = json.loads(
                (self.state / "containers" / cid / "record.json").read_text())
        except (OSError, ValueError):
            return None
        self.seen_ids.add(rec["id"])
        return rec


def _alive(pid: int | None) -> bool:
    """A live, non-zombie process."""
    if not pid:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def running(nw: NativeWatch, short: str, pred: Callable[[dict[str, Any]], bool] = lambda r: True,
            ) -> dict[str, Any] | None:
    """The record of ``short`` if ps shows it running, its process lives and ``pred`` holds."""
    row = nw.ps(short)
    rec = nw.record(short)
    if row is None or rec is None or row["state"] != "running" or not rec["id"].startswith(
            row["id"]):
        return None
    return rec if _alive(rec["pid"]) and pred(rec) else None


@pytest.fixture
def native_watch(tmp_path: Path, watch_archive: Path) -> Iterator[NativeWatch]:
    specs = tmp_path / "specs"
    specs.mkdir()
    (tmp_path / "locks").mkdir()
    nw = NativeWatch(project=f"dwt-{uuid.uuid4().hex[:8]}", state=tmp_path / "state",
                     specs=specs, archive=watch_archive,
                     env={"DOCKWRIGHT_LOCK_DIR": str(tmp_path / "locks")})
    (specs / "project.toml").write_text(  # the image archive lives outside the spec folder
        f'[project]\nname = "{nw.project}"\nallow_host_paths = ["{watch_archive.parent}"]\n')
    try:
        yield nw
    finally:
        if nw.service is not None:
            nw.service.close()  # kills it if the test did not stop it
        if nw.state.exists():
            for short in [p.stem for p in specs.glob("*.toml")]:
                nw.record(short)
            down = nw.cli("down", str(specs), "--volumes", check=False)
            from runtime.native.driver import NativeDriver

            NativeDriver(state_dir=nw.state).close()
            assert down.returncode == 0, f"down failed:\n{down.stdout}{down.stderr}"
            left = leaks(nw.state, nw.seen_ids)
            assert not left, f"down left: {left}"


def _start_web(nw: NativeWatch) -> tuple[Service, dict[str, Any]]:
    """Container ``web`` with A=1, the service started; (service, its running row)."""
    nw.write("web", {"A": "1"})
    svc = nw.start()
    svc.wait_ready(timeout=DEADLINE)
    return svc, wait_for(lambda: running(nw, "web"), "web running", timeout=DEADLINE, step=0.3)


def test_native_watch_recreates_on_spec_edit(native_watch: NativeWatch) -> None:
    nw = native_watch
    web = nw.name("web")
    svc, first = _start_web(nw)
    assert "A=1" in nw.cli("exec", web, "--", "env").stdout
    svc.wait_event("action", resource=web, object="container", action="create")

    mark = svc.count("pass")
    nw.write("web", {"A": "2"})
    second = wait_for(lambda: running(nw, "web", lambda r: r["id"] != first["id"]),
                      "web recreated", timeout=DEADLINE, step=0.3)
    env = nw.cli("exec", web, "--", "env").stdout.splitlines()
    assert "A=2" in env and "A=1" not in env, env
    action = svc.wait_event("action", resource=web, object="container", action="recreate")
    assert action["ok"] is True and "env.A" in action["reason"] and action["reconcile_id"]
    passes = svc.logged("pass")[mark:]
    assert any("files" in p["triggers"] for p in passes), passes
    assert not _alive(first["pid"])  # the old container is gone, not left running

    assert svc.terminate() == 0
    assert svc.logged("watch_stopped", clean=True)
    still = running(nw, "web")  # SIGTERM leaves containers running
    assert still is not None and still["id"] == second["id"]


def test_native_watch_restarts_a_killed_container(native_watch: NativeWatch) -> None:
    nw = native_watch
    web = nw.name("web")
    svc, before = _start_web(nw)
    svc.wait_event("pass", pred=lambda e: e["changed"] and e["failed"] == 0)
    # the pid is the container's init, inside the container's own pid namespace
    assert os.readlink(f"/proc/{before['pid']}/ns/pid") != os.readlink("/proc/self/ns/pid")

    mark = svc.count("pass")
    os.kill(before["pid"], signal.SIGKILL)
    healed = wait_for(lambda: running(nw, "web", lambda r: r["pid"] != before["pid"]),
                      "killed container running again", timeout=DEADLINE, step=0.3)
    assert healed["id"] == before["id"]  # started again, not recreated
    assert healed["started_at"] != before["started_at"]
    drift = svc.wait_event("drift_corrected", resource=web, action="start")
    assert "137" in drift["reason"] and drift["reconcile_id"]
    heal_pass = svc.wait_event("pass", since=mark, reconcile_id=drift["reconcile_id"])
    assert "runtime" in heal_pass["triggers"] and heal_pass["failed"] == 0
    assert "A=1" in nw.cli("exec", web, "--", "env").stdout

    assert svc.terminate() == 0
    assert svc.logged("watch_stopped", clean=True)


def test_native_apply_down_history_and_why(native_watch: NativeWatch) -> None:
    """The journal on the native runtime, from the CLI: ``apply`` and ``down`` are passes
    whose actions ``history`` lists (newest first) and ``why`` explains; the journal is in
    the state folder ``--state-dir`` names."""
    nw = native_watch
    web = nw.name("web")
    nw.write("web", {"A": "1"})
    nw.cli("apply", str(nw.specs))
    nw.write("web", {"A": "2"})
    nw.cli("apply", str(nw.specs))
    assert (nw.state / "journal.db").is_file()
    why = nw.cli("why", str(nw.specs), web).stdout
    assert "web.toml" in why and "recreate" in why and "env.A" in why, why
    assert "in sync" in why, why
    nw.cli("down", str(nw.specs))
    rows = json.loads(nw.cli("history", str(nw.specs), web, "--output", "json").stdout)[
        "entries"]
    assert [(r["action"], r["outcome"]) for r in rows][:3] == [
        ("remove", "ok"), ("recreate", "ok"), ("create", "ok")], rows
    assert {r["runtime"] for r in rows} == {"native"}, rows
    assert "env.A" in json.dumps(rows[1]), rows[1]
