"""Helpers for the controller's unit tests: spec dirs in, plans out (fake driver).

Role: write a spec directory from a dict of file texts, run the real loader
and the controller's pure stages against ``runtime.fake.FakeDriver``, and
summarise a plan as ``(kind, name, reason)`` rows for golden comparisons.
Neighbours: every ``tests/controller/test_*.py``.
"""

from __future__ import annotations

from pathlib import Path

from controller.execution.apply import ActionOutcome, execute
from controller.execution.reconcile import Options, prepare
from controller.planning.plan import Plan
from runtime.fake import FakeDriver

IMAGE = "dockwright-test/busybox:latest"


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def fake() -> FakeDriver:
    driver = FakeDriver()
    driver.add_image(IMAGE, "sha256:busybox", env=(("PATH", "/bin"),), command=("sh",))
    return driver


def plan_of(root: Path, driver: FakeDriver, **options: object) -> Plan:
    return prepare(root, driver, project="t", options=Options(**options),  # type: ignore[arg-type]
                   revision="rev1").plan


def rows(plan: Plan) -> list[tuple[str, str, str]]:
    return [(a.kind.value, a.name, a.reason) for a in plan.changes]


def converge(root: Path, driver: FakeDriver, **options: object) -> list[ActionOutcome]:
    plan = plan_of(root, driver, **options)
    plan.check()
    outcomes = execute(driver, plan)
    failed = [o.error for o in outcomes if not o.ok]
    assert not failed, failed
    return outcomes


def container(name: str, extra: str = "") -> str:
    return (f'[container.{name}]\nimage = "{IMAGE}"\ncommand = ["sleep", "1000"]\n'
            f'stop_timeout = "0s"\n{extra}\n')
