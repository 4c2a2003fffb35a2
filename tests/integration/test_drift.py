"""Issue 3, behaviour 7: drift is repaired; ``state = "stopped" | "absent"`` is honoured."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from docker.models.containers import Container

from .conftest import Project, loop_container

pytestmark = pytest.mark.docker


# A container stopped by hand is started again; one removed by hand is recreated.
DRIFT: dict[str, Callable[[Container], None]] = {
    "stopped": lambda c: c.stop(timeout=1),
    "removed": lambda c: c.remove(force=True),
}


@pytest.mark.parametrize("change", sorted(DRIFT))
def test_changed_by_hand_is_repaired_and_others_untouched(project: Project, change: str) -> None:
    p = project
    p.write("a.toml", loop_container(p.n("a")) + loop_container(p.n("b")))
    p.apply_ok()
    ids = p.ids()
    DRIFT[change](p.container("a"))
    diff = p.diff()
    assert diff.code == 2 and p.n("a") in diff.out, str(diff)
    p.apply_ok()
    assert p.container("a").status == "running"
    assert p.container("b").id == ids[p.n("b")]
    assert p.diff().code == 0


def test_killed_container_is_restarted(project: Project) -> None:
    p = project
    p.write("a.toml", loop_container(p.n("a")))
    p.apply_ok()
    p.container("a").kill()
    p.apply_ok()
    assert p.container("a").status == "running"


def test_state_stopped_and_absent(project: Project) -> None:
    p = project
    names = ("a", "b", "c")
    p.write("a.toml", "".join(loop_container(p.n(x)) for x in names)
            + loop_container(p.n("d"), state='"stopped"'))
    p.apply_ok()
    assert p.exists("d") and p.container("d").status in ("created", "exited"), \
        "state = stopped creates the container without running it"
    assert p.diff().code == 0
    ids = p.ids()
    p.write("a.toml", loop_container(p.n("a"), state='"stopped"')
            + loop_container(p.n("b"), state='"absent"') + loop_container(p.n("c"))
            + loop_container(p.n("d"), state='"stopped"'))
    diff = p.diff()
    assert diff.code == 2, str(diff)
    p.apply_ok()
    assert p.container("a").status == "exited" and p.container("a").id == ids[p.n("a")]
    assert not p.exists("b"), "state = absent removes the container"
    assert p.container("c").id == ids[p.n("c")] and p.container("c").status == "running"
    assert p.diff().code == 0, "stopped / absent containers stay as declared (no churn)"
    p.apply_ok()
    assert p.container("a").status == "exited" and not p.exists("b")
    p.write("a.toml", "".join(loop_container(p.n(x)) for x in names))
    p.apply_ok()
    assert p.container("a").status == "running" and p.container("b").status == "running"
