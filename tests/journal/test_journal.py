"""The journal on real SQLite files: what is written, what is read, and its bad days.

Real files and real processes: a journal in ``tmp_path``, garbage and damaged pages
written into it, another connection holding the write lock, a read-only and a full
tmpfs mounted for the test, and four writer processes at once. No Docker needed.
Neighbours: ``controller.execution.journal`` (``writer``, ``store``, ``query``,
``rows``), ``tests/journal/passes.py`` (typed pass results).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.execution.journal.query import Filter, JournalUnreadable, Reader
from controller.execution.journal.values import Outcome, ProblemKind, probe
from controller.execution.journal.writer import Journal
from controller.execution.result import ErrorKind
from controller.planning.actions import Cause, Kind, PlanError
from controller.planning.diff import FieldChange
from specs.result import SpecError
from tests.journal.passes import action, done, failure, passed

ROOT = Path(__file__).resolve().parents[2]


class Events:
    """A journal's ``report`` sink."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, event: str, fields: dict[str, Any]) -> None:
        self.seen.append((event, fields))

    def names(self) -> list[str]:
        return [e for e, _ in self.seen]


def _git(cwd: Path, *args: str, author: str = "Alice") -> str:
    return subprocess.run(["git", "-c", f"user.name={author}", "-c",
                           f"user.email={author.lower()}@example.invalid", *args],
                          cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def test_actions_are_recorded_with_cause_changes_revision_and_masked_secrets(
        tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "a.toml").write_text("[volume.v]\n")
    _git(specs, "init", "-q")
    _git(specs, "add", "-A")
    _git(specs, "commit", "-qm", "raise the limit", author="Alice")
    head = _git(specs, "rev-parse", "HEAD")
    path = tmp_path / "state" / "journal.db"
    journal = Journal(path)
    web = action("web", Kind.RECREATE, Cause.SPEC, reason="env.PW changed, env.N changed",
                 changes=(FieldChange("env.PW", "old-secret", "new-secret", secret=True),
                          FieldChange("env.N", "1", "2")))
    pulled = action("img", Kind.PULL, Cause.SPEC, obj="image", refresh=True)  # same image
    blocked = action("app", Kind.CREATE, Cause.NEW)
    first = journal.record(passed("shop", done(web), done(pulled),
                                  done(blocked, failure(ErrorKind.BLOCKED))), runtime="docker",
                           source="apply", root=specs)
    drift = action("db", Kind.START, Cause.DRIFT, reason="stopped")
    second = journal.record(passed("shop", done(drift), revision=f"{head}-dirty"),
                            runtime="docker", source="watch", root=specs)
    journal.record(passed("other", done(action("x", Kind.REMOVE, Cause.PRUNE))),
                   runtime="native", source="apply")
    assert first and second and second > first
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    with Reader(path) as reader:
        shop = reader.entries(Filter(project="shop"))
        assert [(e.resource, e.action, e.cause, e.outcome) for e in shop] == [
            ("db", "start", "drift", Outcome.OK),  # newest first
            ("app", "create", "new", Outcome.BLOCKED),
            ("web", "recreate", "spec", Outcome.OK),
        ], "a routine pull that found the same image is not history"
        web_entry = shop[2]
        assert [(c.field, c.old, c.new) for c in web_entry.changes] == [
            ("env.PW", "***", "***"), ("env.N", "1", "2")]
        assert "secret" not in path.read_bytes().decode("latin-1")
        assert shop[0].revision is not None and shop[0].revision.commit == head
        assert shop[0].revision.dirty and shop[0].revision.author == \
            "Alice <alice@example.invalid>" and shop[0].revision.subject == "raise the limit"
        assert shop[0].source == "watch" and shop[0].triggers == ("cli",)
        assert [e.resource for e in reader.entries(Filter(causes=frozenset({"drift"})))] == ["db"]
        assert [e.resource for e in reader.entries(
            Filter(outcomes=frozenset({"blocked"})))] == ["app"]
        assert [e.project for e in reader.entries(Filter(runtime="native"))] == ["other"]
        assert [e.resource for e in reader.entries(Filter(limit=1))] == ["x"]
        assert [e.resource for e in reader.entries(
            Filter(project="shop", before_id=shop[0].id, limit=1))] == ["app"]
        assert reader.entries(Filter(since=time.time() + 60)) == ()
        assert [p.project for p in reader.passes()] == ["other", "shop", "shop"]
        assert {(s.project, s.runtime, s.passes) for s in reader.projects()} == {
            ("shop", "docker", 2), ("other", "native", 1)}
        last = reader.last_pass("shop")
        assert last is not None and last.root == str(specs) and last.source == "watch"


def test_problems_are_entries_when_they_start_and_when_they_end(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    journal = Journal(path)
    bad = (SpecError("b.toml", 3, "container.web.image", "wrong type"),)
    frozen = frozenset({("container", "web")})
    refused = PlanError("(plan)", "would remove 3 of 3 containers", "--allow-mass-delete")
    clash = (PlanError("db", "container db exists but is not managed by dockwright"),)
    for _ in range(2):  # the second, identical pass adds nothing
        journal.record(passed("p", spec_errors=bad, frozen=frozen, refused=refused,
                              errors=clash), runtime="docker", source="watch")
    journal.record(passed("p"), runtime="docker", source="watch")
    entries = Reader(path).entries()
    by_pass: dict[int, set[tuple[str, str, Outcome]]] = {}
    for e in entries:
        by_pass.setdefault(e.pass_id, set()).add((e.resource, e.action, e.outcome))
    assert [by_pass[k] for k in sorted(by_pass)] == [
        {("(plan)", "refused", Outcome.REFUSED), ("db", "plan-error", Outcome.ERROR),
         ("web", "quarantine", Outcome.FROZEN), ("b.toml", "quarantine", Outcome.FROZEN)},
        {("(plan)", "refused", Outcome.RESOLVED), ("db", "plan-error", Outcome.RESOLVED),
         ("web", "quarantine", Outcome.RESOLVED), ("b.toml", "quarantine", Outcome.RESOLVED)},
    ], "the second, identical pass added nothing"


def _damage(path: Path, how: str) -> None:
    if how == "garbage":
        path.write_bytes(b"this is not a database\n" * 100)
        return
    journal = Journal(path)
    for i in range(30):
        journal.record(passed("p", done(action(f"c{i}", reason="x" * 300))), runtime="docker",
                       source="apply")
    journal.close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    page = 4096
    for offset in range(page, len(data), page):  # every page but the header's: scrambled
        data[offset:offset + 64] = os.urandom(64)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["garbage", "damaged-pages"])
def test_a_corrupt_journal_is_moved_aside_and_a_new_one_started(tmp_path: Path,
                                                                 how: str) -> None:
    path = tmp_path / "journal.db"
    _damage(path, how)
    damaged = path.read_bytes()
    events = Events()
    journal = Journal(path, report=events)
    pass_id = journal.record(passed("p", done(action("web"))), runtime="docker", source="apply")
    assert pass_id is not None, events.seen
    aside = sorted(tmp_path.glob("journal.db.corrupt-*"))
    aside = [p for p in aside if not p.name.endswith(("-wal", "-shm"))]
    assert len(aside) == 1 and aside[0].read_bytes() == damaged, "kept as it was, renamed"
    assert events.names() == ["journal_moved_aside"]
    assert [e.resource for e in Reader(path).entries()] == ["web"]
    health = journal.health()
    assert health.ok and health.moved_aside == (str(aside[0]),)
    assert probe(path).moved_aside == (str(aside[0]),)


def test_a_journal_of_a_newer_schema_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    Journal(path).record(passed("p"), runtime="docker", source="apply")
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_version VALUES (99, 0)")
    events = Events()
    assert Journal(path, report=events).record(passed("p"), runtime="docker",
                                               source="apply") is None
    assert events.names() == ["journal_problem"]
    assert events.seen[0][1]["kind"] == ProblemKind.NEWER.value
    assert not list(tmp_path.glob("*.corrupt-*")), "a newer journal is not damaged"


def test_a_locked_journal_is_skipped_reported_once_and_used_again(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    Journal(path).record(passed("p"), runtime="docker", source="apply")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    events = Events()
    journal = Journal(path, report=events)
    try:
        assert journal.record(passed("p"), runtime="docker", source="apply") is None
        assert journal.record(passed("p"), runtime="docker", source="apply") is None
        health = journal.health()
        assert not health.ok and health.problem is not None
        assert health.problem.kind is ProblemKind.LOCKED
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert journal.record(passed("p"), runtime="docker", source="apply") is not None
    assert events.names() == ["journal_problem", "journal_recovered"], "logged once"
    assert journal.health().ok


@contextlib.contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                    str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_read_only_state_folder_is_a_problem_not_a_failure(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "state", "4m") as state:
        path = state / "journal.db"
        first = Journal(path)
        assert first.record(passed("p"), runtime="docker", source="apply")
        first.close()  # nothing open: the folder can be made read-only
        subprocess.run(["mount", "-o", "remount,ro", str(state)], check=True)
        events = Events()
        journal = Journal(path, report=events)
        for _ in range(3):
            assert journal.record(passed("p", done(action("web"))), runtime="docker",
                                  source="apply") is None
        assert events.names() == ["journal_problem"]
        assert events.seen[0][1]["kind"] == ProblemKind.READ_ONLY.value
        checked = probe(path)
        assert checked.problem is not None and checked.problem.kind is ProblemKind.READ_ONLY
        assert [e.resource for e in Reader(path).entries()] == [], "still readable"


def test_a_full_disk_is_a_problem_and_the_journal_recovers(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "state", "1m") as state:
        path = state / "journal.db"
        events = Events()
        journal = Journal(path, report=events)
        assert journal.record(passed("p"), runtime="docker", source="apply")
        filler = state / "filler"
        with open(filler, "wb") as f, contextlib.suppress(OSError):
            while True:
                f.write(b"\0" * 65536)
        big = tuple(done(action(f"c{i}", reason="y" * 2000)) for i in range(50))
        assert journal.record(passed("p", *big), runtime="docker", source="apply") is None
        assert [(e, f["kind"]) for e, f in events.seen] == [("journal_problem", "full")]
        filler.unlink()
        assert journal.record(passed("p", done(action("web"))), runtime="docker",
                              source="apply") is not None
        assert events.names()[-1] == "journal_recovered"


def test_retention_by_age_and_by_size(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    journal = Journal(path, max_age=3600, max_bytes=10**9, prune_every=0)
    journal.record(passed("p", done(action("old"))), runtime="docker", source="apply")
    with sqlite3.connect(path) as conn:  # as if written two hours ago
        conn.execute("UPDATE passes SET started = started - 7200, finished = finished - 7200")
        conn.execute("UPDATE entries SET at = at - 7200")
    journal.record(passed("p", done(action("new"))), runtime="docker", source="apply")
    assert [e.resource for e in Reader(path).entries()] == ["new"]

    small = Journal(path, max_age=10**9, max_bytes=256 * 1024, prune_every=0)
    for i in range(400):
        small.record(passed("p", *(done(action(f"c{i}-{j}", reason="z" * 400))
                                   for j in range(4))), runtime="docker", source="apply")
    with sqlite3.connect(path) as conn:
        count = conn.execute("SELECT count(*) FROM passes").fetchone()[0]
    assert 0 < count < 400, "the oldest passes were dropped"
    assert Reader(path).entries(Filter(limit=1))[0].resource == "c399-3", "the newest kept"
    assert path.stat().st_size < 1024 * 1024, "free pages are given back"


def test_several_processes_write_at_once(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-m", "tests.journal.passes", str(path),
                               f"p{n}", "150"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for n in range(4)]
    results = [p.communicate(timeout=300) for p in procs]
    for (out, err), proc in zip(results, procs, strict=True):
        assert proc.returncode == 0, err
        assert out.strip() == "150" and err == "", err
    with Reader(path) as reader:
        for n in range(4):
            assert len(reader.passes(Filter(project=f"p{n}", limit=1000))) == 150
            assert len(reader.entries(Filter(project=f"p{n}", limit=1000))) == 300
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reading_a_missing_or_damaged_journal(tmp_path: Path) -> None:
    assert Reader(tmp_path / "none.db").entries() == ()
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"garbage" * 1000)
    with pytest.raises(JournalUnreadable, match="moves it aside"):
        Reader(bad).entries()


def test_a_journal_is_migrated_to_a_newer_schema_keeping_its_rows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from controller.execution.journal import store

    path = tmp_path / "journal.db"
    Journal(path).record(passed("p", done(action("web"))), runtime="docker", source="apply")
    monkeypatch.setattr(store, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(store.MIGRATIONS, 2, "ALTER TABLE passes ADD COLUMN host TEXT;"
                                             "CREATE INDEX passes_host ON passes (host)")
    journal = Journal(path)
    assert journal.record(passed("p", done(action("db"))), runtime="docker", source="apply")
    with sqlite3.connect(path) as conn:
        assert [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY 1")] \
            == [1, 2]
        assert "host" in [r[1] for r in conn.execute("PRAGMA table_info(passes)")]
    assert [e.resource for e in Reader(path).entries()] == ["db", "web"]
