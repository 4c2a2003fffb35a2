"""Causes and adoption in the planner (fake driver): every container action says why.

DRIFT: the spec did not change, the live container did (restart policy, limits,
networks, paused, stopped); SPEC: the spec changed; NEW: not found; IMAGE: a new image
behind the same reference; FOLLOW: follows a recreated container; ADOPT: its labels are
of an older hash scheme (or its file digests unkeyed) and its fields equal the spec, so
its hashes are recorded in the ledger and nothing is restarted; NONE: in sync.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from controller.desired.hashing import LABEL_HASH_SCHEME
from controller.desired.naming import LABEL_FILES
from controller.planning import ledger
from controller.planning.actions import Cause
from controller.planning.plan import Plan
from runtime.fake import FakeContainer, FakeDriver
from runtime.types import (
    LABEL_HASH,
    LABEL_UPDATE_HASH,
    ContainerInfo,
    ContainerSummary,
    NetworkAttach,
    ResourceSpec,
    RestartSpec,
    State,
)
from tests.controller.helpers import IMAGE, container, converge, fake, plan_of, rows, write

SPECS = {
    "a.toml": container("db", 'restart = "always"\nenv = { PASS = { file = "pass" } }\n')
    + container("web", 'links = ["db:database"]\n'),
    "pass": "s3cret\n",
}


@pytest.fixture(autouse=True)
def _own_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ledger per test: fake container ids repeat from one FakeDriver to the next."""
    monkeypatch.setenv("DOCKWRIGHT_STATE_DIR", str(tmp_path / "state"))


def causes(plan: Plan) -> dict[str, tuple[str, Cause]]:
    return {a.name: (a.kind.value, a.cause) for a in plan.actions if a.object == "container"}


def live(driver: FakeDriver, name: str) -> FakeContainer:
    return next(c for c in driver.containers.values() if c.config.name == name)


def converged(tmp_path: Path) -> tuple[Path, FakeDriver]:
    root = write(tmp_path / "specs", SPECS)
    driver = fake()
    assert causes(plan_of(root, driver)) == {"db": ("create", Cause.NEW),
                                             "web": ("create", Cause.NEW)}
    converge(root, driver)
    assert causes(plan_of(root, driver)) == {"db": ("noop", Cause.NONE),
                                             "web": ("noop", Cause.NONE)}
    return root, driver


def test_live_changes_are_drift_healed_in_place(tmp_path: Path) -> None:
    root, driver = converged(tmp_path)
    db = live(driver, "db")
    db.config = dataclasses.replace(db.config, restart=RestartSpec("no"), networks=())
    db.state = State.PAUSED
    plan = plan_of(root, driver)
    assert causes(plan)["db"] == ("update", Cause.DRIFT)
    fields = {c.field for a in plan.changes for c in a.changes}
    assert fields == {"restart", "networks.t_default", "state"}
    converge(root, driver)
    assert live(driver, "db").id == db.id and live(driver, "db").state is State.RUNNING
    assert db.config.networks == (NetworkAttach("t_default", ("database",)),)
    assert causes(plan_of(root, driver))["db"] == ("noop", Cause.NONE)


def test_a_limit_set_by_hand_is_drift_that_needs_a_recreate(tmp_path: Path) -> None:
    """Docker cannot lift a limit in place: a limit set by hand on a container whose spec
    has none is drift, healed by a recreate."""
    root, driver = converged(tmp_path)
    web = live(driver, "web")
    web.config = dataclasses.replace(web.config, resources=ResourceSpec(memory=128 << 20))
    plan = plan_of(root, driver)
    assert causes(plan)["web"] == ("recreate", Cause.DRIFT)
    assert [c.field for c in plan.changes[0].changes] == ["resources"]


def test_exited_is_drift_and_a_spec_change_is_spec(tmp_path: Path) -> None:
    root, driver = converged(tmp_path)
    live(driver, "web").state = State.EXITED
    write(root, {"a.toml": SPECS["a.toml"].replace('"always"', '"unless-stopped"')})
    assert causes(plan_of(root, driver)) == {"db": ("update", Cause.SPEC),
                                             "web": ("start", Cause.DRIFT)}
    write(root, {"a.toml": SPECS["a.toml"].replace('"sleep", "1000"', '"sleep", "999"', 1)})
    assert causes(plan_of(root, driver)) == {"db": ("recreate", Cause.SPEC),
                                             "web": ("recreate", Cause.FOLLOW)}


def test_new_image_behind_the_same_reference(tmp_path: Path) -> None:
    root, driver = converged(tmp_path)
    driver.add_image(IMAGE, "sha256:newer", env=(("PATH", "/bin"),), command=("sh",))
    assert causes(plan_of(root, driver))["db"] == ("recreate", Cause.IMAGE)


def test_old_scheme_labels_with_equal_fields_are_adopted_not_recreated(tmp_path: Path) -> None:
    root, driver = converged(tmp_path)
    for c in driver.containers.values():  # as release 0.1.0 labelled them
        labels = {k: v for k, v in c.config.labels if k != LABEL_HASH_SCHEME}
        labels[LABEL_HASH], labels[LABEL_UPDATE_HASH] = "0" * 32, "1" * 32
        c.config = dataclasses.replace(c.config, labels=tuple(sorted(labels.items())))
    plan = plan_of(root, driver)
    assert rows(plan) == [], "adopting is not a change: diff exits 0"
    assert causes(plan) == {"db": ("noop", Cause.ADOPT), "web": ("noop", Cause.ADOPT)}
    ids = {c.id for c in driver.containers.values()}
    driver.calls.clear()
    converge(root, driver)
    assert not [m for m, _ in driver.calls if m not in ("inspect_container", "list_containers",
                                                        "list_volumes", "list_networks",
                                                        "image_info")], driver.calls
    assert {c.id for c in driver.containers.values()} == ids
    recorded = ledger.read("fake", "t")
    assert set(recorded) == ids and all(e.scheme == "2" for e in recorded.values())
    assert causes(plan_of(root, driver)) == {"db": ("noop", Cause.NONE),
                                             "web": ("noop", Cause.NONE)}


def test_unkeyed_file_digest_of_the_same_content_is_adopted(tmp_path: Path) -> None:
    root, driver = converged(tmp_path)
    db = live(driver, "db")
    files = json.loads(dict(db.config.labels)[LABEL_FILES])
    assert all(v.startswith("k1:") for v in files.values()), "the label holds keyed digests"
    desired = plan_of(root, driver).actions
    plain = next(a.container for a in desired if a.name == "db").plain_files  # type: ignore[union-attr]
    labels = dict(db.config.labels)
    labels[LABEL_FILES] = json.dumps(dict(plain), sort_keys=True, separators=(",", ":"))
    del labels[LABEL_HASH_SCHEME]
    db.config = dataclasses.replace(db.config, labels=tuple(sorted(labels.items())))
    assert causes(plan_of(root, driver))["db"] == ("noop", Cause.ADOPT)
    write(root, {"pass": "changed\n"})
    plan = plan_of(root, driver)
    assert causes(plan)["db"] == ("recreate", Cause.SPEC)
    assert [c.field for c in plan.changes[0].changes if c.secret] == ["env.PASS", "secret[pass]"]


class LaggingList(FakeDriver):
    """Docker answers ``GET /containers/json`` from a view it updates only after it has
    sent the ``pause`` event (the inspect reads the container itself): a pass started by
    that event lists the container running and inspects it paused."""

    def list_containers(self, labels: Mapping[str, str] | None = None
                        ) -> list[ContainerSummary]:
        return [dataclasses.replace(s, state=State.RUNNING) if s.state is State.PAUSED else s
                for s in super().list_containers(labels)]


def test_a_pause_the_list_does_not_show_yet_is_seen_by_the_inspect(tmp_path: Path) -> None:
    root = write(tmp_path / "specs", SPECS)
    driver = LaggingList()
    driver.add_image(IMAGE, "sha256:busybox", env=(("PATH", "/bin"),), command=("sh",))
    converge(root, driver)
    live(driver, "db").state = State.PAUSED
    plan = plan_of(root, driver)
    assert causes(plan)["db"] == ("update", Cause.DRIFT)
    assert {c.field for a in plan.changes for c in a.changes} == {"state"}
    converge(root, driver)
    assert live(driver, "db").state is State.RUNNING


class RemovedAfterList(FakeDriver):
    """``docker rm -f`` between a pass's list and its inspect: the inspect finds nothing."""

    gone: str = ""

    def inspect_container(self, ref: str) -> ContainerInfo:
        found = super().inspect_container(ref)
        if found.config.name == self.gone:
            with self._lock:
                self.containers.pop(found.summary.id)
            return super().inspect_container(ref)  # NotFound now
        return found


def test_a_container_removed_while_observed_is_created_again_as_drift(tmp_path: Path) -> None:
    root = write(tmp_path / "specs", SPECS)
    driver = RemovedAfterList()
    driver.add_image(IMAGE, "sha256:busybox", env=(("PATH", "/bin"),), command=("sh",))
    converge(root, driver)
    driver.gone = "web"
    plan = plan_of(root, driver)
    driver.gone = ""
    assert causes(plan)["web"] == ("create", Cause.DRIFT)
    converge(root, driver)
    assert live(driver, "web").state is State.RUNNING


def test_a_container_being_removed_is_not_started(tmp_path: Path) -> None:
    """``docker rm -f`` under way (state ``removing``): no start that Docker would refuse;
    its destroy event starts the pass that makes it again."""
    root, driver = converged(tmp_path)
    live(driver, "web").state = State.REMOVING
    plan = plan_of(root, driver)
    assert causes(plan)["web"] == ("noop", Cause.NONE)
    assert not plan.changes
