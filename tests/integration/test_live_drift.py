"""Issue 9, "Drift that is invisible today": what changes on a live container without a
recreate (restart policy, limits, network membership and aliases, paused state) is
compared with the live value by ``diff``, ``status`` and ``apply`` and healed in place.

Each case converges a container with ``restart = "always"`` and a 64m memory limit on the
project network (reached by a link alias from a peer), changes it by hand as an operator
would (``docker update``, ``docker network disconnect``, ``docker pause``), and checks:
``diff`` exits 2 naming the field with the cause ``drift``, ``status`` says NOT in sync,
``apply`` heals it without a recreate or a restart (same id, same StartedAt), and the next
``diff`` exits 0.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from docker.models.containers import Container

from .conftest import Project, loop_container

pytestmark = pytest.mark.docker

MIB = 1024 * 1024


def spec(p: Project) -> str:
    return (loop_container(p.n("db"), restart='"always"', resources='{ memory = "64m" }')
            + loop_container(p.n("web"), links=f'["{p.n("db")}:database"]'))


def live_update(c: Container) -> None:
    c.client.api.update_container(c.id, restart_policy={"Name": "no"}, mem_limit="128m",
                                  memswap_limit="256m")


def swap_alone(c: Container) -> None:
    """``docker update --memory-swap 512m``: the memory limit kept, swap raised."""
    c.client.api.update_container(c.id, memswap_limit="512m")


def swap_unlimited(c: Container) -> None:
    """``docker update --memory-swap -1``: unlimited swap under the same memory limit."""
    c.client.api.update_container(c.id, memswap_limit=-1)


def disconnect(c: Container) -> None:
    project = c.labels["io.dockwright.project"]
    c.client.networks.get(f"{project}_default").disconnect(c)


def pause(c: Container) -> None:
    c.pause()


DRIFT: dict[str, tuple[Callable[[Container], None], str]] = {
    "docker update": (live_update, "restart"),
    "docker update --memory-swap": (swap_alone, "resources"),
    "docker update --memory-swap -1": (swap_unlimited, "resources"),
    "network disconnect": (disconnect, "networks."),
    "pause": (pause, "state"),
}


@pytest.mark.parametrize("case", sorted(DRIFT))
def test_live_drift_is_seen_and_healed_in_place(project: Project, case: str) -> None:
    p = project
    p.write_project_file()
    p.write("a.toml", spec(p))
    p.apply_ok()
    db = p.container("db")
    started = db.attrs["State"]["StartedAt"]
    change, field = DRIFT[case]
    change(db)

    diff = p.diff("--output", "json")
    assert diff.code == 2, str(diff)
    action = next(a for a in json.loads(diff.out)["actions"] if a["name"] == p.n("db"))
    assert action["kind"] == "update" and action["cause"] == "drift", action
    assert any(c["field"].startswith(field) for c in action["changes"]), action
    status = p.cli("status")
    assert status.code == 2 and "NOT in sync" in status.out, str(status)

    p.apply_ok()
    db.reload()
    assert db.id == p.ids()[p.n("db")], "healed in place, not recreated"
    assert db.attrs["State"]["StartedAt"] == started, "healed without a restart"
    assert db.attrs["State"]["Status"] == "running"
    host = db.attrs["HostConfig"]
    assert host["RestartPolicy"]["Name"] == "always"
    assert host["Memory"] == 64 * MIB
    assert host["MemorySwap"] == 2 * 64 * MIB, "swap back to Docker's default for 64m"
    endpoint = db.attrs["NetworkSettings"]["Networks"].get(f"{p.name}_default")
    assert endpoint is not None, "reconnected to the project network"
    assert "database" in (endpoint.get("Aliases") or []), "with the declared link alias"
    code, out = p.exec("web", "ping", "-c", "1", "-W", "2", "database")
    assert code == 0, out
    again = p.diff()
    assert again.code == 0, str(again)


def test_network_joined_by_hand_is_left_when_it_is_the_projects(project: Project) -> None:
    """A container joined by hand to another network of the project leaves it; one joined
    to a network that is not the project's is left alone."""
    p = project
    p.write_project_file()
    p.write("a.toml", spec(p) + f"[network.{p.n('extra')}]\n\n"
            + loop_container(p.n("other"), networks=f'["{p.n("extra")}"]'))
    p.apply_ok()
    foreign = p.client.networks.create(p.n("foreign"))
    try:
        db = p.container("db")
        p.client.networks.get(p.n("extra")).connect(db)
        foreign.connect(db)
        diff = p.diff("--output", "json")
        assert diff.code == 2, str(diff)
        action = next(a for a in json.loads(diff.out)["actions"] if a["name"] == p.n("db"))
        assert [c["field"] for c in action["changes"]] == [f"networks.{p.n('extra')}"], action
        p.apply_ok()
        db.reload()
        assert set(db.attrs["NetworkSettings"]["Networks"]) == {f"{p.name}_default",
                                                                p.n("foreign")}
        assert p.diff().code == 0
    finally:
        foreign.reload()
        for c in foreign.containers:
            foreign.disconnect(c, force=True)
        foreign.remove()


def test_declared_network_added_is_joined_in_place(project: Project) -> None:
    """A spec that adds a network joins it in place (cause spec), keeping the container."""
    p = project
    p.write_project_file()
    p.write("a.toml", spec(p) + f"[network.{p.n('extra')}]\n\n")
    p.apply_ok()
    ids = p.ids()
    p.write("a.toml", spec(p).replace(
        "restart = \"always\"", f"restart = \"always\"\nnetworks = [\"{p.n('extra')}\"]")
        + f"[network.{p.n('extra')}]\n\n")
    diff = p.diff("--output", "json")
    assert diff.code == 2, str(diff)
    action = next(a for a in json.loads(diff.out)["actions"] if a["name"] == p.n("db"))
    assert action["kind"] == "update" and action["cause"] == "spec", action
    p.apply_ok()
    assert p.ids() == ids
    assert p.n("extra") in p.container("db").attrs["NetworkSettings"]["Networks"]
    assert p.diff().code == 0


def test_external_network_dropped_from_the_spec_is_left(project: Project) -> None:
    """A network the project declares ``external`` (made by someone else) and that the spec
    no longer lists for a container is left in place, as a project network is: ``diff``
    names it (not "no changes"), ``apply`` disconnects it without a recreate."""
    p = project
    p.write_project_file()
    ext = p.client.networks.create(p.n("ext"))  # made outside dockwright
    table = f"[network.{p.n('ext')}]\nexternal = true\n\n"
    p.write("a.toml", table + loop_container(p.n("a"), networks=f'["default", "{p.n("ext")}"]'))
    p.apply_ok()
    ids = p.ids()
    assert p.n("ext") in p.container("a").attrs["NetworkSettings"]["Networks"]

    p.write("a.toml", table + loop_container(p.n("a"), networks='["default"]'))
    diff = p.diff("--output", "json")
    assert diff.code == 2, str(diff)
    action = next(a for a in json.loads(diff.out)["actions"] if a["name"] == p.n("a"))
    assert action["kind"] == "update", action
    assert [c["field"] for c in action["changes"]] == [f"networks.{p.n('ext')}"], action
    p.apply_ok()
    assert p.ids() == ids, "left in place, not recreated"
    assert set(p.container("a").attrs["NetworkSettings"]["Networks"]) == {f"{p.name}_default"}
    assert p.diff().code == 0
    ext.remove()


def test_network_removed_under_a_stopped_container_is_joined_again(project: Project) -> None:
    """``docker network rm`` (or ``docker network prune``) takes a project network that only
    stopped containers use; the container keeps an endpoint on the removed network's id
    and could never start again. The next pass makes the network and joins it again in
    place, so a later start works; ``diff`` says so instead of "no changes"."""
    p = project
    p.write_project_file()
    p.write("a.toml", loop_container(p.n("a")))
    p.apply_ok()
    p.write("a.toml", loop_container(p.n("a"), state='"stopped"'))
    p.apply_ok()
    ids = p.ids()
    p.client.networks.get(f"{p.name}_default").remove()

    diff = p.diff("--output", "json")
    assert diff.code == 2, str(diff)
    action = next(a for a in json.loads(diff.out)["actions"] if a["name"] == p.n("a"))
    assert action["kind"] == "update" and action["cause"] == "drift", action
    assert [c["field"] for c in action["changes"]] == [f"networks.{p.name}_default"], action
    p.apply_ok()
    assert p.diff().code == 0
    p.write("a.toml", loop_container(p.n("a")))
    started = p.apply()
    assert started.code == 0, str(started)
    assert p.ids() == ids, "the same container, joined again in place"
    assert p.container("a").status == "running"
