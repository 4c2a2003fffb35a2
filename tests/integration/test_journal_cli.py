"""The journal through the CLI on the real Docker daemon: ``apply`` records, ``history`` and
``why`` read, and a damaged, read-only journal never stops a pass.

Each test keeps its state (journal, ledger, host key) in a folder of its own
(``DOCKWRIGHT_STATE_DIR``); a read-only one is a tmpfs remounted read-only.
Neighbours: ``controller.commands.history``, ``controller.execution.journal``,
``controller.execution.explain``; ``tests/integration/conftest.py`` (projects, CLI).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .conftest import IMAGE, Project, loop_container, run_cli

pytestmark = pytest.mark.docker


def _git(cwd: Path, *args: str, author: str = "Alice") -> str:
    return subprocess.run(["git", "-c", f"user.name={author}", "-c",
                           f"user.email={author.lower()}@example.invalid", *args],
                          cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def _commit(p: Project, message: str, author: str) -> str:
    _git(p.dir, "add", "-A")
    _git(p.dir, "commit", "-qm", message, author=author)
    return _git(p.dir, "rev-parse", "HEAD")


class Cli:
    """The CLI with this test's state folder."""

    def __init__(self, p: Project, state: Path) -> None:
        self.p, self.env = p, {"DOCKWRIGHT_STATE_DIR": str(state)}

    def __call__(self, *args: str) -> Any:
        return run_cli(["--project", self.p.name, *args], env=self.env)

    def json(self, *args: str) -> Any:
        run = self(*args, "--output", "json")
        assert run.code == 0, str(run)
        return json.loads(run.out)


def test_apply_then_history_shows_each_action_with_cause_changes_and_revision(
        project: Project, tmp_path: Path) -> None:
    p = project
    cli = Cli(p, tmp_path / "state")
    web = p.n("web")
    p.write("pw", "first-secret-value")
    p.write("web.toml", loop_container(web, env='{ N = "1", PW = { file = "pw" } }'))
    _git(p.dir, "init", "-q")
    _commit(p, "add web", "Alice")
    assert cli("apply", str(p.dir)).code == 0
    p.write("pw", "second-secret-value")
    p.write("web.toml", loop_container(web, env='{ N = "2", PW = { file = "pw" } }'))
    head = _commit(p, "N is 2", "Bob")
    assert cli("apply", str(p.dir)).code == 0
    assert cli("apply", str(p.dir)).code == 0  # a no-op pass: recorded, no entry

    out = cli.json("history", str(p.dir))
    assert out["project"] == p.name
    rows = [(e["resource"], e["action"], e["cause"], e["outcome"]) for e in out["entries"]]
    assert rows == [(web, "recreate", "spec", "ok"), (web, "create", "new", "ok"),
                    (f"{p.name}_default", "create-network", "new", "ok")]
    newest = out["entries"][0]
    assert {c["field"]: (c["old"], c["new"]) for c in newest["changes"]} == {
        "env.N": ("1", "2"), "env.PW": ("***", "***"), "secret[pw]": ("***", "***")}, \
        "secrets masked as in diff"
    assert newest["revision"] == {"commit": head, "dirty": False,
                                  "author": "Bob <bob@example.invalid>",
                                  "date": newest["revision"]["date"], "subject": "N is 2"}
    assert newest["triggers"] == ["cli"] and newest["source"] == "apply"
    journal = (tmp_path / "state" / "journal.db").read_bytes()
    assert b"secret-value" not in journal

    text = cli("history", str(p.dir), web)
    assert text.code == 0, str(text)
    lines = text.out.splitlines()
    assert lines[0].split()[:3] == ["WHEN", "(UTC)", "PROJECT"]
    assert "recreate" in lines[1] and " spec " in lines[1] and head[:12] in lines[1]
    assert lines[1].rstrip().endswith("ok") and len(lines) == 3
    assert len(cli.json("history", "--limit", "1")["entries"]) == 1
    assert cli.json("history", p.dir.as_posix(), "--since", "2099-01-01")["entries"] == []
    assert len(cli.json("history", "--since", "1h")["entries"]) == 3
    bad = cli("history", "--since", "yesterday")
    assert bad.code == 1 and "--since" in bad.err


def test_a_corrupt_journal_is_moved_aside_and_the_pass_succeeds(project: Project,
                                                                 tmp_path: Path) -> None:
    p = project
    state = tmp_path / "state"
    state.mkdir()
    (state / "journal.db").write_bytes(b"not a database at all\n" * 64)
    cli = Cli(p, state)
    p.write("web.toml", loop_container(p.n("web")))
    run = cli("apply", str(p.dir))
    assert run.code == 0, str(run)
    assert "was damaged" in run.err and "a new journal was started" in run.err
    moved = [f for f in state.iterdir() if f.name.startswith("journal.db.corrupt-")
             and not f.name.endswith(("-wal", "-shm"))]
    assert len(moved) == 1 and moved[0].read_bytes().startswith(b"not a database")
    assert p.exists("web")
    assert [e["action"] for e in cli.json("history")["entries"]][:1] == ["create"]
    status = cli.json("status", str(p.dir))
    assert status["journal"]["moved_aside"] == [str(moved[0])] and status["journal"]["ok"]
    assert "damaged journal(s) moved aside" in cli("status", str(p.dir)).out


def test_a_read_only_state_folder_does_not_stop_apply(project: Project, tmp_path: Path) -> None:
    p = project
    state = tmp_path / "state"
    state.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(state)], check=True)
    try:
        cli = Cli(p, state)
        p.write("web.toml", loop_container(p.n("web"), env='{ N = "1" }'))
        assert cli("apply", str(p.dir)).code == 0  # host key, ledger and journal written
        subprocess.run(["mount", "-o", "remount,ro", str(state)], check=True)
        p.write("web.toml", loop_container(p.n("web"), env='{ N = "2" }'))
        run = cli("apply", str(p.dir))
        assert run.code == 0, str(run)
        assert "N=2" in p.container("web").attrs["Config"]["Env"]
        warnings = [line for line in run.err.splitlines() if "warning" in line]
        assert len(warnings) == 1 and "journal" in warnings[0] and "read" in warnings[0], run.err
        status = cli("status", str(p.dir))
        assert "!! journal:" in status.out and "not writable" in status.out, str(status)
        entries = cli.json("history")["entries"]  # still readable
        assert [e["action"] for e in entries] == ["create", "create-network"]
    finally:
        subprocess.run(["umount", "-l", str(state)], check=False)


def test_why_for_owned_frozen_compose_owned_other_projects_and_foreign_containers(
        project: Project, tmp_path: Path) -> None:
    p = project
    cli = Cli(p, tmp_path / "state")
    web, frozen, foreign, compose = p.n("web"), p.n("frozen"), p.n("foreign"), p.n("compose")
    p.write("web.toml", "# the web tier\n\n" + loop_container(web))
    p.write("frozen.toml", loop_container(frozen))
    p.write("data.toml", f"[volume.{p.n('data')}]\n")
    _git(p.dir, "init", "-q")
    head = _commit(p, "web and frozen", "Alice")
    assert cli("apply", str(p.dir)).code == 0

    owned = cli.json("why", web)  # no spec folder given: the journal knows the last one
    assert owned["ownership"] == "owned" and owned["project"] == p.name
    assert owned["declaration"]["file"] == "web.toml" and owned["declaration"]["line"] == 3
    assert owned["spec_change"]["commit"] == head
    assert owned["spec_change"]["subject"] == "web and frozen"
    assert owned["last_action"]["action"] == "create" and owned["last_action"]["cause"] == "new"
    assert owned["state"]["kind"] == "in-sync"
    text = cli("why", web)
    assert text.code == 0 and "web.toml:3" in text.out and "in sync" in text.out, str(text)
    volume = cli.json("why", p.n("data"))  # a volume: its project found in the journal
    assert volume["kind"] == "volume" and volume["declaration"]["file"] == "data.toml"
    assert volume["state"]["kind"] == "in-sync"
    assert volume["last_action"]["action"] == "create-volume"

    p.write("frozen.toml", loop_container(frozen, bogus="1"))
    assert cli("apply", str(p.dir)).code == 1
    frozen_why = cli.json("why", str(p.dir), frozen)
    assert frozen_why["state"]["kind"] == "frozen"
    assert frozen_why["declaration"]["file"] == "frozen.toml"
    assert frozen_why["declaration"]["frozen"] and frozen_why["declaration"]["errors"]
    assert "frozen.toml is invalid" in frozen_why["state"]["summary"]
    assert frozen_why["last_action"]["action"] == "quarantine"
    assert frozen_why["container"]["state"] == "running", "left as it runs"

    p.client.containers.run(IMAGE, ["sleep", "300"], name=compose, detach=True, labels={
        "com.docker.compose.project": "shop", "com.docker.compose.service": "db"})
    by_compose = cli.json("why", compose)
    assert by_compose["ownership"] == "compose" and by_compose["owner"] == "shop"
    assert "com.docker.compose.project" in by_compose["left_alone"]
    assert "never changes" in by_compose["left_alone"]

    p.client.containers.run(IMAGE, ["sleep", "300"], name=foreign, detach=True)
    p.write("foreign.toml", loop_container(foreign))
    assert cli("apply", str(p.dir)).code == 1  # the name is taken: an error, left alone
    nobody = cli.json("why", str(p.dir), foreign)
    assert nobody["ownership"] == "foreign" and nobody["owner"] is None
    assert "the name is taken" in nobody["left_alone"]
    assert nobody["declaration"]["file"] == "foreign.toml"
    assert nobody["state"]["kind"] == "error"
    assert nobody["last_action"]["action"] == "plan-error"

    other, theirs = p.n("other"), p.n("theirs")  # another dockwright project's container
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    (other_dir / "a.toml").write_text(loop_container(theirs))
    assert run_cli(["--project", other, "apply", str(other_dir)], env=cli.env).code == 0
    by_other = cli.json("why", theirs)  # asked as project p.name
    assert by_other["ownership"] == "other-project" and by_other["owner"] == other
    assert f"dockwright project {other}" in by_other["left_alone"]

    missing = cli("why", p.n("nothing"))
    assert missing.code == 1 and "nothing is known" in missing.err
