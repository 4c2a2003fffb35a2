"""Contract: resuming a recreate that an earlier pass left half done, on every driver.

The interrupted state is built exactly as a recreate killed after its rename
leaves it (``controller.execution.replace``): the old container renamed
``NAME_dw-old-<id>`` and still running (it ignores SIGTERM, so a stop takes its
whole grace period), and the new copy created under ``NAME`` by the executor
itself (``create_new``: the old one's anonymous volumes mounted) or not created
yet. The next pass must keep the order of a normal stop-first recreate: never
both running (polled while the pass runs), the old one removed only once the new
one runs, the old one put back under its name and running when the new one
fails; anonymous and named volume data survive. Neighbours:
``tests/contract/test_update_order.py`` (``Ctl``), ``controller.planning.recovery``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.execution.apply import Executor
from controller.execution.reconcile import prepare
from controller.planning.actions import Cause, Kind
from runtime.driver import Driver
from runtime.types import LABEL_PROJECT, State
from tests.conftest import cleanup_project
from tests.contract.test_update_order import Ctl

STUBBORN = "[\"sh\", \"-c\", \"trap '' TERM; while :; do sleep 1; done\"]"  # ignores SIGTERM


class Half(Ctl):
    def spec(self, version: str, order: str = "stop-first", command: str = STUBBORN) -> None:
        self.root.mkdir(exist_ok=True)
        (self.root / "a.toml").write_text(
            f"[volume.{self.name}-data]\n\n"
            f"[container.{self.name}-web]\nimage = \"{self.image}\"\ncommand = {command}\n"
            f"stop_timeout = \"3s\"\nenv = {{ V = \"{version}\" }}\n"
            f"volumes = [\"{self.name}-data:/data\", \"/anon\"]\n")

    @property
    def web(self) -> str:
        return f"{self.name}-web"

    def interrupt(self, *, create_new: bool) -> tuple[str, str | None]:
        """Leave the recreate of the next plan as a SIGKILL after its rename (and, with
        ``create_new``, after the create) leaves it; returns (old id, new id)."""
        plan = prepare(self.root, self.driver, project=self.name).plan
        (action,) = [a for a in plan.actions if a.kind is Kind.RECREATE]
        assert action.observed_id is not None and action.container is not None
        old = action.observed_id
        live = self.driver.inspect_container(old)
        self.driver.rename_container(old, f"{self.web}_dw-old-{old[:12]}")
        new = Executor(self.driver, plan).create_new(action.container, live) \
            if create_new else None
        return old, new

    def names(self) -> dict[str, State]:
        rows = self.driver.list_containers({LABEL_PROJECT: self.name})
        return {r.name.lstrip("/"): r.state for r in rows}

    def exec_ok(self, ref: str, script: str) -> bytes:
        result = self.driver.exec_in(ref, ["sh", "-c", script])
        assert result.exit_code == 0, result
        return result.output


@pytest.fixture
def half(driver: Driver, image: str, tmp_path: Path) -> Iterator[Half]:
    name = f"dwt-{uuid.uuid4().hex[:8]}"
    c = Half(driver, image, tmp_path / name, name)
    try:
        yield c
    finally:
        assert not cleanup_project(driver, name)


def _started(half: Half) -> str:
    half.spec("1")
    assert half.apply().ok
    (old,) = half.running()
    half.exec_ok(old, "echo anon > /anon/f; echo named > /data/f")
    half.spec("2")
    return old


@pytest.mark.parametrize("create_new", [True, False], ids=["new-created", "new-missing"])
def test_an_interrupted_recreate_resumes_in_order(half: Half, create_new: bool) -> None:
    old = _started(half)
    _, new = half.interrupt(create_new=create_new)
    plan = prepare(half.root, half.driver, project=half.name).plan
    result, most = half.apply_watching()
    assert result.ok, result.to_json()
    assert most == 1, f"old and new copies ran at once ({most})"
    (action,) = plan.changes
    assert (action.kind, action.cause) == (Kind.RECREATE, Cause.RECOVERY), action
    assert half.names() == {half.web: State.RUNNING}, "the old copy is removed, the new runs"
    (running,) = half.running()
    assert running != old and (new is None or running == new), "the created copy is used"
    assert half.exec_ok(running, "cat /anon/f /data/f") == b"anon\nnamed\n"
    assert not half.apply().changed, "the next pass is a no-op"


def test_a_new_copy_that_fails_puts_the_old_one_back(half: Half) -> None:
    old = _started(half)
    half.spec("2", command='["/no/such/program"]')
    half.interrupt(create_new=True)
    result, most = half.apply_watching()
    assert not result.ok and "restored" in str(result.failed), result.to_json()
    assert most == 1
    assert half.names() == {half.web: State.RUNNING}, "the old copy runs under its name"
    assert half.running() == {old}
    assert half.exec_ok(old, "cat /anon/f /data/f") == b"anon\nnamed\n"
