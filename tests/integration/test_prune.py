"""Issue 3, behaviour 4: pruning removed resources, keeping volumes, refusing mass deletes."""

from __future__ import annotations

import pytest

from .conftest import Project, loop_container

pytestmark = pytest.mark.docker


def test_removed_container_is_pruned_and_named_volume_kept(project: Project) -> None:
    p = project
    vol = p.n("data")
    p.write("keep.toml", loop_container(p.n("a")) + loop_container(p.n("b")))
    p.write("gone.toml", f"[volume.{vol}]\n\n"
            + loop_container(p.n("c"), volumes=f'["{vol}:/data"]'))
    p.apply_ok()
    ids = p.ids()
    assert len(ids) == 3 and p.volume_exists("data")
    p.remove("gone.toml")
    diff = p.diff()
    assert diff.code == 2 and p.n("c") in diff.out, str(diff)
    run = p.apply_ok()
    assert not p.exists("c"), "a container removed from the specs is pruned"
    assert p.ids() == {p.n("a"): ids[p.n("a")], p.n("b"): ids[p.n("b")]}
    assert p.volume_exists("data"), "named volumes are never removed implicitly"
    assert vol in run.text, f"the kept volume is reported\n{run}"
    kept = p.diff()
    assert kept.code == 0, f"a kept volume is no pending change: apply converged\n{kept}"
    pruned = p.apply_ok("--prune-volumes")
    assert not p.volume_exists("data"), f"--prune-volumes removes the volume\n{pruned}"
    assert set(p.ids()) == {p.n("a"), p.n("b")}
    assert p.diff().code == 0


def test_no_prune_keeps_removed_containers(project: Project) -> None:
    p = project
    p.write("a.toml", loop_container(p.n("a")) + loop_container(p.n("b")))
    p.write("c.toml", loop_container(p.n("c")))
    p.apply_ok()
    ids = p.ids()
    p.remove("c.toml")
    p.apply_ok("--no-prune")
    assert p.ids() == ids, "--no-prune leaves containers that are no longer declared"


def test_mass_delete_is_refused_without_flag(project: Project) -> None:
    p = project
    p.write("keep.toml", loop_container(p.n("a")))
    p.write("gone.toml", loop_container(p.n("b")) + loop_container(p.n("c")))
    p.apply_ok()
    ids = p.ids()
    assert len(ids) == 3
    p.remove("gone.toml")  # 2 of 3 owned containers: more than half
    refused = p.apply()
    assert refused.code == 1, f"a mass delete must be refused\n{refused}"
    assert "--allow-mass-delete" in refused.text, f"the message says the fix\n{refused}"
    assert p.ids() == ids, "a refused plan deletes nothing"
    allowed = p.apply("--allow-mass-delete")
    assert allowed.code == 0, str(allowed)
    assert p.ids() == {p.n("a"): ids[p.n("a")]}


def test_deleting_every_container_is_refused(project: Project) -> None:
    p = project
    p.write("a.toml", loop_container(p.n("a")))
    p.apply_ok()
    ids = p.ids()
    p.remove("a.toml")
    refused = p.apply()
    assert refused.code == 1, f"deleting all owned containers must be refused\n{refused}"
    assert p.ids() == ids
    assert p.apply("--allow-mass-delete").code == 0
    assert p.ids() == {}
