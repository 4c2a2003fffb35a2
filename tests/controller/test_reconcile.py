"""One pass end to end on the fake driver: the typed PassResult (kind as performed, cause,
changes, classified failures, triggers), events, dry run, skip, status."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from controller.execution.reconcile import Options, reconcile
from controller.execution.result import ActionResult, ErrorKind, PassResult, Trigger
from controller.execution.status import status
from controller.planning.actions import Cause, Kind
from runtime.errors import ImageError, InvalidRequest, Transient, Unavailable
from tests.controller.helpers import container, fake, write

FILES = {"a.toml": container("aa") + container("bb", 'env = { K = "1" }'),
         "bad.toml": container("cc", 'ports = ["nope"]')}


def test_pass_result_and_events(tmp_path: Path) -> None:
    root = write(tmp_path, FILES)
    driver = fake()
    events: list[dict[str, Any]] = []
    result = reconcile(root, driver, project="t", revision="r", on_event=events.append)
    assert result.project == "t" and result.revision == "r" and result.changed
    assert [e.file for e in result.spec_errors] == ["bad.toml"]
    assert ("container", "cc") in result.frozen
    assert not result.ok and result.failed == {}
    assert {o.action.name for o in result.outcomes if o.ok} >= {"aa", "bb", "t_default"}
    kinds = [e["event"] for e in events]
    assert kinds[0] == "plan" and kinds[-1] == "pass"
    done = [e for e in events if e.get("phase") == "done"]
    assert {e["name"] for e in done} >= {"aa", "bb"}
    assert all(e["reconcile_id"] == result.reconcile_id for e in events)
    json.dumps(result.to_json())  # JSON-able
    again = reconcile(root, driver, project="t", revision="r")
    assert not again.changed and again.outcomes == ()


def test_dry_run_and_skip_change_nothing(tmp_path: Path) -> None:
    root = write(tmp_path, FILES)
    driver = fake()
    dry = reconcile(root, driver, project="t", options=Options(dry_run=True))
    assert dry.plan.has_changes and dry.outcomes == () and not driver.containers
    result = reconcile(root, driver, project="t", options=Options(skip=frozenset({"bb"})))
    assert {c.config.name for c in driver.containers.values()} == {"aa"}
    assert "bb" not in {o.action.name for o in result.outcomes}


def test_failures_are_in_the_result(tmp_path: Path) -> None:
    root = write(tmp_path, FILES)
    driver = fake()
    driver.fail("create_container", "bb", InvalidRequest("bad config"))
    result = reconcile(root, driver, project="t")
    assert "bad config" in result.failed["bb"]
    assert {c.config.name for c in driver.containers.values()} == {"aa"}


def test_unreachable_runtime_raises(tmp_path: Path) -> None:
    root = write(tmp_path, FILES)
    driver = fake()
    driver.fail("list_containers", "", Unavailable("daemon down"))
    with pytest.raises(Unavailable):
        reconcile(root, driver, project="t")


def test_status_reports_desired_vs_actual(tmp_path: Path) -> None:
    root = write(tmp_path, FILES)
    driver = fake()
    reconcile(root, driver, project="t", revision="r1")
    report = status(root, driver, project="t")
    by_name = {r["name"]: r for r in report["resources"]}
    assert by_name["aa"]["in_sync"] and by_name["aa"]["actual"] == "running"
    assert by_name["aa"]["revision"] == "r1"
    assert by_name["cc"]["desired"] == "frozen" and not by_name["cc"]["in_sync"]
    assert report["invalid_files"] == ["bad.toml"] and not report["in_sync"]
    driver.stop_container("bb")
    report = status(root, driver, project="t")
    b = {r["name"]: r for r in report["resources"]}["bb"]
    assert not b["in_sync"] and b["reason"].startswith("not running")
    json.dumps(report)


def _container(result: PassResult, name: str) -> ActionResult:
    return next(o for o in result.outcomes if o.action.object == "container"
                and o.action.name == name)


def test_results_are_typed_kind_cause_changes_and_classified_failures(tmp_path: Path) -> None:
    """What the watch loop, metrics and status read: no word of a message is needed."""
    root = write(tmp_path, {"a.toml": '[container.aa]\nimage = "app:1"\npull = "always"\n'})
    driver = fake()
    driver.pull_ids["app:1"] = "sha256:v1"
    first = reconcile(root, driver, project="t")
    a = _container(first, "aa")
    assert (a.kind, a.cause, a.changed, a.drift) == (Kind.CREATE, Cause.NEW, True, False)
    assert first.triggers == frozenset({Trigger.CLI})
    same = reconcile(root, driver, project="t")  # a routine pull of the same image
    assert not same.changed and [o.kind for o in same.acted] == [Kind.PULL]
    driver.pull_ids["app:1"] = "sha256:v2"
    moved = reconcile(root, driver, project="t", triggers=frozenset({Trigger.RESYNC}))
    a = _container(moved, "aa")
    assert a.action.kind is Kind.NOOP and a.kind is Kind.RECREATE  # as performed
    assert a.cause is Cause.IMAGE and a.changed and moved.changed
    assert [(c.field, c.old, c.new) for c in a.changes] == [
        ("image_id", "sha256:v1", "sha256:v2")]
    assert moved.to_json()["triggers"] == ["resync"]
    # a container in sync before that has to be created again was removed behind our back
    driver.remove_container("aa")
    healed = reconcile(root, driver, project="t", in_sync_before=moved.in_sync())
    a = _container(healed, "aa")
    assert (a.kind, a.cause, a.drift) == (Kind.CREATE, Cause.DRIFT, True)


def test_failures_are_classified(tmp_path: Path) -> None:
    root = write(tmp_path, {"a.toml": container("aa") + container("bb")
                            + '[container.cc]\nimage = "app:1"\npull = "always"\n'})
    driver = fake()
    driver.fail("create_container", "aa", Transient("daemon busy", retry_after=3.0))
    driver.fail("create_container", "bb", InvalidRequest("bad config"))
    driver.fail("pull_image", "app:1", ImageError("no such image"))
    result = reconcile(root, driver, project="t")
    by = {f.resource: f.failure for f in result.failures}
    assert (by["aa"].kind, by["aa"].retry_after) == (ErrorKind.TRANSIENT, 3.0)
    assert (by["bb"].kind, by["bb"].retry_after) == (ErrorKind.PERMANENT, None)
    assert by["cc"].kind is ErrorKind.PERMANENT  # its image: the first failure of c
    blocked = _container(result, "cc").failure
    assert blocked is not None
    assert (blocked.kind, blocked.blocked_by) == (ErrorKind.BLOCKED, "image:app:1")
    assert not result.ok and not result.in_sync() & {"aa", "bb", "cc"}
