"""Contract: ``update_order`` on every driver, through the controller.

stop-first (the default) never has the old and the new container running at
once; start-first has both running until the new one is healthy, then only the
new one; a start-first replacement that fails leaves the old container running,
never stopped (same id, same start time). Overlap is observed by polling the
driver's list while the pass runs in a thread. The Docker-only CLI version,
which reads the order from the daemon's events, is
``tests/integration/test_update_order.py``. Neighbours:
``tests/contract/conftest.py`` (drivers, the busybox image), ``controller.execution.replace``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.execution.reconcile import PassResult, reconcile
from runtime.driver import Driver
from runtime.types import LABEL_PROJECT, State
from tests.conftest import cleanup_project

LOOP = "[\"sh\", \"-c\", \"trap 'exit 0' TERM; while :; do sleep 1; done\"]"
HEALTH = 'healthcheck = { test = ["CMD", "true"], interval = "1s" }\n'


class Ctl:
    def __init__(self, driver: Driver, image: str, root: Path, name: str) -> None:
        self.driver, self.image, self.root, self.name = driver, image, root, name

    def spec(self, version: str, order: str, command: str = LOOP) -> None:
        self.root.mkdir(exist_ok=True)
        (self.root / "a.toml").write_text(
            f"[container.{self.name}-web]\nimage = \"{self.image}\"\ncommand = {command}\n"
            f"stop_timeout = \"1s\"\nenv = {{ V = \"{version}\" }}\n"
            f"update_order = \"{order}\"\n{HEALTH}")

    def apply(self) -> PassResult:
        return reconcile(self.root, self.driver, project=self.name)

    def running(self) -> set[str]:
        rows = self.driver.list_containers({LABEL_PROJECT: self.name})
        return {r.id for r in rows if r.state is State.RUNNING}

    def apply_watching(self) -> tuple[PassResult, int]:
        """Apply in a thread; the most containers of the project seen running at once."""
        out: list[PassResult] = []
        thread = threading.Thread(target=lambda: out.append(self.apply()))
        thread.start()
        most = 0
        while thread.is_alive():
            most = max(most, len(self.running()))
            time.sleep(0.05)
        thread.join()
        return out[0], most


@pytest.fixture
def ctl(driver: Driver, image: str, tmp_path: Path) -> Iterator[Ctl]:
    name = f"dwt-{uuid.uuid4().hex[:8]}"
    c = Ctl(driver, image, tmp_path / name, name)
    try:
        yield c
    finally:
        assert not cleanup_project(driver, name)


@pytest.mark.parametrize("order", ["stop-first", "start-first"])
def test_how_many_run_during_a_recreate(ctl: Ctl, order: str) -> None:
    ctl.spec("1", order)
    assert ctl.apply().ok
    (old,) = ctl.running()
    ctl.spec("2", order)
    result, most = ctl.apply_watching()
    assert result.ok, result.to_json()
    (new,) = ctl.running()
    assert new != old
    assert most == (2 if order == "start-first" else 1), f"{order}: {most} running at once"
    assert not ctl.apply().changed, "the next pass is a no-op"


def test_a_failed_start_first_replacement_never_stops_the_old_one(ctl: Ctl) -> None:
    ctl.spec("1", "start-first")
    assert ctl.apply().ok
    (old,) = ctl.running()
    started = ctl.driver.inspect_container(old).started_at
    ctl.spec("2", "start-first", command='["sh", "-c", "exit 3"]')
    result = ctl.apply()
    assert not result.ok and "kept running" in str(result.failed), result.to_json()
    assert ctl.running() == {old}
    info = ctl.driver.inspect_container(f"{ctl.name}-web")
    assert info.summary.id == old and info.started_at == started, "the old one was restarted"
    rows = ctl.driver.list_containers({LABEL_PROJECT: ctl.name})
    assert [r.name for r in rows] == [f"{ctl.name}-web"], "nothing left behind"
