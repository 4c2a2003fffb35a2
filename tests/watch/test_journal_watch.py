"""The journal of a running ``dockwright watch`` (a real subprocess, the real daemon).

A killed container healed by the service is a ``drift`` entry; a crash-looping
one has ``crash-loop`` and ``backoff`` entries and ``why`` says it is
crash-looping; a CLI ``apply`` of another project writes to the same journal
while the service writes its passes; ``/status`` shows the journal's health, and a
read-only state folder is one ``journal_problem`` event however many passes run.
Neighbours: ``controller.service.journalfeed``, ``controller.commands.history``;
``tests/watch/helpers.py`` (``Service``), ``tests/integration/conftest.py``
(``run_cli``).
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import cleanup_project, wait_for
from tests.integration.conftest import run_cli
from tests.watch.helpers import Service, container_toml

pytestmark = pytest.mark.docker


def _history(state: Path, *args: str) -> list[dict[str, Any]]:
    run = run_cli(["history", *args, "--output", "json", "--limit", "500"],
                  env={"DOCKWRIGHT_STATE_DIR": str(state)})
    assert run.code == 0, str(run)
    entries: list[dict[str, Any]] = json.loads(run.out)["entries"]
    return entries


def test_watch_records_drift_crash_loops_and_shares_the_journal_with_apply(
        spec_dir: Path, project_name: str, dclient: Any, tmp_path: Path,
        docker_driver: Any, start_service: Callable[..., Service]) -> None:
    state = tmp_path / "state"
    env = {"DOCKWRIGHT_STATE_DIR": str(state)}
    web, crash = f"{project_name}-web", f"{project_name}-crash"
    (spec_dir / "web.toml").write_text(container_toml(web))
    svc = start_service(["--project", project_name, "watch", str(spec_dir), "--resync", "2s"],
                        env=env)
    svc.wait_ready()
    wait_for(lambda: any(e["resource"] == web and e["action"] == "create"
                         for e in _history(state, "--project", project_name)), "create entry")

    dclient.containers.get(web).kill()
    drift = wait_for(lambda: [e for e in _history(state, "--project", project_name, web)
                              if e["cause"] == "drift"], "a drift entry", timeout=60)
    assert drift[0]["action"] == "start" and drift[0]["outcome"] == "ok"
    assert drift[0]["source"] == "watch" and "runtime" in drift[0]["triggers"]

    # another project applied from the CLI while the service keeps writing its passes
    other = f"dwt-{uuid.uuid4().hex[:8]}"
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    try:
        for value in ("1", "2", "3"):
            (other_dir / "a.toml").write_text(container_toml(f"{other}-a", env={"V": value}))
            run = run_cli(["--project", other, "apply", str(other_dir)], env=env)
            assert run.code == 0 and "warning" not in run.err, str(run)
        mine = _history(state, "--project", other)
        assert [e["action"] for e in mine][:3] == ["recreate", "recreate", "create"]
    finally:
        cleanup_project(docker_driver, other)

    (spec_dir / "crash.toml").write_text(container_toml(crash, command='["sh", "-c", "exit 3"]'))
    loops = wait_for(lambda: [e for e in _history(state, "--project", project_name, crash)
                              if e["action"] == "crash-loop"], "a crash-loop entry", timeout=60)
    assert loops[-1]["outcome"] == "crash-loop"
    backoff = wait_for(lambda: [e for e in _history(state, "--project", project_name, crash)
                                if e["action"] == "backoff"], "a backoff entry")
    assert backoff[0]["outcome"] == "backoff" and backoff[0]["retry_after"] >= 1
    why = run_cli(["why", crash, "--output", "json"], env=env)
    assert why.code == 0, str(why)
    assert json.loads(why.out)["state"]["kind"] == "crash-looping"

    status = svc.json("/status")
    assert status["watch"]["journal"]["ok"] is True, status["watch"]["journal"]
    assert svc.count("journal_problem") == 0
    assert svc.terminate() == 0
    with sqlite3.connect(state / "journal.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        sources = {r[0] for r in conn.execute("SELECT DISTINCT source FROM passes")}
    assert sources == {"watch", "apply"}


def test_a_read_only_journal_is_logged_once_and_shown_in_status(
        spec_dir: Path, project_name: str, dclient: Any, tmp_path: Path,
        start_service: Callable[..., Service]) -> None:
    import subprocess

    state = tmp_path / "state"
    state.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(state)], check=True)
    try:
        env = {"DOCKWRIGHT_STATE_DIR": str(state)}
        web = f"{project_name}-web"
        (spec_dir / "web.toml").write_text(container_toml(web))
        run = run_cli(["--project", project_name, "apply", str(spec_dir)], env=env)
        assert run.code == 0, str(run)  # the host key and the journal exist
        subprocess.run(["mount", "-o", "remount,ro", str(state)], check=True)
        svc = start_service(["--project", project_name, "watch", str(spec_dir), "--resync",
                             "1s"], env=env)
        svc.wait_ready()
        dclient.containers.get(web).kill()
        wait_for(lambda: svc.logged("drift_corrected", resource=web), "the kill healed")
        mark = svc.json("/status")["watch"]["passes"]
        wait_for(lambda: svc.json("/status")["watch"]["passes"] >= mark + 2 or None,
                 "two more passes (resync)")
        assert svc.count("journal_problem") == 1, svc.output()
        problem = svc.logged("journal_problem")[0]
        assert problem["kind"] == "read-only" and "--state-dir" in problem["hint"]
        journal = svc.json("/status")["watch"]["journal"]
        assert journal["ok"] is False and journal["problem"]["kind"] == "read-only"
        assert svc.terminate() == 0
    finally:
        subprocess.run(["umount", "-l", str(state)], check=False)
