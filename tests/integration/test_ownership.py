"""Issue 3, behaviour 6: names as declared, ownership labels, foreign containers, two projects."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest

from runtime.types import (
    LABEL_HASH,
    LABEL_MANAGED_BY,
    LABEL_PROJECT,
    LABEL_REPLICA,
    LABEL_RESOURCE,
    LABEL_REVISION,
    LABEL_SOURCE,
)

from .conftest import IMAGE, Project, labels_of, loop_container, run_cli

pytestmark = pytest.mark.docker

LOOP_ARGS = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]


def _git(cwd: str, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid",
                           *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def test_names_and_ownership_labels(project: Project) -> None:
    p = project
    web, vol, net = p.n("web"), p.n("data"), p.n("net")
    p.write("sub/app.toml", f"[volume.{vol}]\n\n[network.{net}]\n\n"
            + loop_container(web, replicas="3", volumes=f'["{vol}:/data"]', networks=f'["{net}"]')
            + loop_container(p.n("single")))
    _git(str(p.dir), "init", "-q")
    _git(str(p.dir), "add", "-A")
    _git(str(p.dir), "commit", "-q", "-m", "specs")
    head = _git(str(p.dir), "rev-parse", "HEAD").strip()
    p.apply_ok()
    assert set(p.ids()) == {f"{web}-1", f"{web}-2", f"{web}-3", p.n("single")}, \
        "replicas are named NAME-1..NAME-N and a single container exactly NAME"
    for i in (1, 2, 3):
        labels = labels_of(p.client.containers.get(f"{web}-{i}"))
        assert labels[LABEL_MANAGED_BY] == "dockwright"
        assert labels[LABEL_PROJECT] == p.name
        assert labels[LABEL_RESOURCE] == web
        assert labels[LABEL_REPLICA] == str(i)
        assert labels[LABEL_HASH]
        assert labels[LABEL_SOURCE] == "sub/app.toml"
        rev = labels[LABEL_REVISION]
        assert len(rev) >= 7 and head.startswith(rev), f"revision {rev!r} is not HEAD {head}"
    volume = p.client.volumes.get(vol)
    vlabels = volume.attrs["Labels"] or {}
    assert vlabels.get(LABEL_MANAGED_BY) == "dockwright" and vlabels.get(LABEL_PROJECT) == p.name
    assert vlabels.get(LABEL_RESOURCE) == vol
    nets = p.client.networks.list(filters={"label": f"{LABEL_PROJECT}={p.name}"})
    assert nets, "networks carry the project label"
    for n in nets:
        assert (n.attrs["Labels"] or {}).get(LABEL_MANAGED_BY) == "dockwright"
    assert p.diff().code == 0


def test_no_revision_label_outside_git(project: Project) -> None:
    p = project
    p.write("a.toml", loop_container(p.n("a")))
    p.apply_ok()
    assert not labels_of(p.container("a")).get(LABEL_REVISION)


def test_default_project_name_is_the_folder_name(project: Project) -> None:
    p = project
    p.remove("project.toml")  # no [project] table, no --project: the folder's name
    p.write("a.toml", loop_container(p.n("a")))
    run = run_cli(["apply", str(p.dir)])
    assert run.code == 0, str(run)
    assert labels_of(p.container("a"))[LABEL_PROJECT] == p.dir.name == p.name


def test_project_table_name_without_flag(project: Project) -> None:
    p = project
    p.write("a.toml", loop_container(p.n("a")))
    run = run_cli(["apply", str(p.dir)])  # name from [project] in project.toml
    assert run.code == 0, str(run)
    assert labels_of(p.container("a"))[LABEL_PROJECT] == p.name


def test_foreign_container_with_declared_name_is_untouched(project: Project) -> None:
    p = project
    foreign = p.client.containers.run(IMAGE, LOOP_ARGS, name=p.n("web"), detach=True,
                                      labels={"owner": "someone-else"}, network_mode="none")
    p.write("a.toml", loop_container(p.n("web"), env='{ A = "1" }') + loop_container(p.n("ok")))
    diff = p.diff()
    assert p.n("web") in diff.text, f"the foreign container is reported\n{diff}"
    run = p.apply()
    assert run.code == 1, f"a name clash with a foreign container is an error\n{run}"
    assert p.n("web") in run.text, str(run)
    foreign.reload()
    assert foreign.status == "running" and foreign.id == p.container("web").id
    assert labels_of(foreign) == {"owner": "someone-else"}, "a foreign container is never modified"
    assert p.exists("ok"), f"the other containers still converge\n{run}"
    down = p.cli("down")
    assert down.code in (0, 1), str(down)
    foreign.reload()
    assert foreign.status == "running", "down never touches a foreign container"


def test_two_projects_never_prune_each_other(make_project: Callable[[], Project]) -> None:
    one, two = make_project(), make_project()
    one.write("a.toml", "".join(loop_container(one.n(x)) for x in ("x1", "x2", "x3")))
    two.write("a.toml", "".join(loop_container(two.n(x)) for x in ("y1", "y2")))
    one.apply_ok()
    two.apply_ok()
    ids_two = two.ids()
    one.write("a.toml", "".join(loop_container(one.n(x)) for x in ("x1", "x2")))
    one.apply_ok()
    assert set(one.ids()) == {one.n("x1"), one.n("x2")}
    assert two.ids() == ids_two
    assert one.cli("down").code == 0
    assert one.ids() == {}
    assert two.ids() == ids_two, "one project's down must not touch another project"
    again = two.apply()
    assert again.code == 0 and two.ids() == ids_two, str(again)
