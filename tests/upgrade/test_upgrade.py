"""Issue 10 §1: upgrading dockwright recreates nothing.

For every earlier release (``RELEASES`` in ``conftest.py``): that release applies a spec
directory that uses env, a secret file, an env_file, ports, named and anonymous volumes,
a healthcheck, resources, a restart policy, a link, replicas = 2 and a network; then this
code's ``diff`` and ``apply`` on the same specs exit 0 with zero actions, and every
container keeps its id and its State.StartedAt (nothing recreated, nothing restarted).
A second ``diff`` after that ``apply`` is still empty (adoption was recorded, not done
again as a change).
"""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import IMAGE, LOOP, Project
from tests.ports import free_port
from tests.upgrade.conftest import ReleaseCli

pytestmark = pytest.mark.docker


def write_specs(p: Project) -> None:
    port = free_port()
    p.write("secrets/db-pass", "s3cret-pass\n")
    p.write("app.env", "APP_MODE=production\nAPP_LEVEL=3\n")
    p.write("a.toml", f"""\
        [volume.{p.n("data")}]

        [network.{p.n("back")}]

        [container.{p.n("db")}]
        image = "{IMAGE}"
        command = {LOOP}
        stop_timeout = "1s"
        env = {{ DB_USER = "app", DB_PASS = {{ file = "secrets/db-pass" }} }}
        env_file = ["app.env"]
        volumes = ["{p.n("data")}:/data", "/scratch"]
        restart = "always"
        resources = {{ memory = "64m", cpus = 0.5 }}
        healthcheck = {{ test = ["CMD", "true"], interval = "5s" }}
        networks = ["{p.n("back")}"]

        [container.{p.n("web")}]
        image = "{IMAGE}"
        command = {LOOP}
        stop_timeout = "1s"
        ports = ["127.0.0.1:{port}:80"]
        links = ["{p.n("db")}:database"]
        networks = ["{p.n("back")}"]

        [container.{p.n("worker")}]
        image = "{IMAGE}"
        command = {LOOP}
        stop_timeout = "1s"
        replicas = 2
        env = {{ ROLE = "worker" }}
        restart = "unless-stopped"
        """)


def started(p: Project) -> dict[str, tuple[str, str]]:
    """name -> (id, State.StartedAt) of every container of the project."""
    out = {}
    for name, cid in p.ids().items():
        attrs = p.client.api.inspect_container(cid)
        out[name] = (cid, attrs["State"]["StartedAt"])
    return out


def test_containers_of_an_earlier_release_are_not_touched(
        project: Project, release_cli: tuple[str, ReleaseCli]) -> None:
    p = project
    release, old = release_cli
    write_specs(p)
    first = old(["--project", p.name, "apply", str(p.dir)])
    assert first.code == 0, f"release {release}: {first}"
    before = started(p)
    assert len(before) == 4, before

    diff = p.diff("--output", "json")
    assert diff.code == 0, f"upgrade from {release}: diff must be empty\n{diff}"
    assert json.loads(diff.out)["changes"] == 0, diff.out
    apply = p.apply("--output", "json")
    assert apply.code == 0, str(apply)
    outcome = json.loads(apply.out)
    assert outcome["plan"]["changes"] == 0, apply.out
    assert started(p) == before, f"upgrade from {release} recreated or restarted containers"
    again = p.diff("--output", "json")
    assert again.code == 0 and json.loads(again.out)["changes"] == 0, str(again)
    causes = {a["name"]: a["cause"] for a in json.loads(again.out)["actions"]
              if a["object"] == "container"}
    assert set(causes.values()) == {"none"}, causes


def test_a_network_joined_by_hand_stays_joined_across_the_upgrade(
        project: Project, release_cli: tuple[str, ReleaseCli]) -> None:
    """A container of an earlier release that an operator joined to a network of no project
    (a reverse proxy's, say) stays on it: as for a container of this release, such a
    membership is not the spec's to undo; the container is adopted, not updated."""
    p = project
    release, old = release_cli
    p.write("a.toml", f"""\
        [container.{p.n("app")}]
        image = "{IMAGE}"
        command = {LOOP}
        stop_timeout = "1s"
        """)
    first = old(["--project", p.name, "apply", str(p.dir)])
    assert first.code == 0, f"release {release}: {first}"
    proxy = p.client.networks.create(p.n("proxy"))  # no project label: nobody's
    proxy.connect(p.container("app"))
    before = started(p)

    diff = p.diff("--output", "json")
    assert diff.code == 0, f"upgrade from {release}:\n{diff}"
    apply = p.apply()
    assert apply.code == 0, str(apply)
    assert started(p) == before
    joined = p.container("app").attrs["NetworkSettings"]["Networks"]
    assert p.n("proxy") in joined, f"upgrade from {release} left the proxy network\n{apply}"
    assert p.diff().code == 0
