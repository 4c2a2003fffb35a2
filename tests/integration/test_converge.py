"""Issue 3, behaviours 1 and 2: apply from nothing sets every field; a second apply is a no-op.

One project with every field of the spec language is applied once per module
(``deployed``); the tests then check with the docker SDK that each field took
effect on the live container, that dependencies were started before their
dependents, that a published port answers on 127.0.0.1, that the client
reaches the server by its link alias, and that re-applying changes nothing.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import docker
import pytest

from runtime.types import LABEL_MANAGED_BY, LABEL_PROJECT, LABEL_RESOURCE
from tests.conftest import wait_for
from tests.ports import free_port

from .conftest import (
    IMAGE,
    LOOP,
    Project,
    Run,
    env_of,
    labels_of,
    loop_container,
    new_project,
)

pytestmark = pytest.mark.docker

SECRET = "s3cr3t-value-do-not-print"
PAGE = "hello from dockwright httpd"


def _time(value: str) -> datetime:
    """Docker's RFC 3339 timestamps with nanoseconds, to microseconds."""
    head, _, frac = value.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}")


def write_full_spec(p: Project, port: int) -> None:
    p.write_project_file()
    p.write("www/index.html", PAGE + "\n")
    p.write("host/marker", "bind-mounted\n")
    p.write("secret.txt", SECRET)
    p.write("app.env", "FROM_FILE=yes\n# a comment\nOTHER=2\n")
    p.write("storage.toml", f"""\
        [volume.{p.n('data')}]

        [volume.{p.n('store')}]

        [network.{p.n('net')}]

        [container.{p.n('store')}]
        image = "{IMAGE}"
        command = {LOOP}
        stop_timeout = "1s"
        volumes = ["{p.n('store')}:/store"]
        """)
    p.write("apps/web.toml", f"""\
        [container.{p.n('web')}]
        image = "{IMAGE}"
        command = ["httpd", "-f", "-p", "8080", "-h", "/www"]
        stop_timeout = "1s"
        volumes = ["../www:/www:ro"]
        ports = ["127.0.0.1:{port}:8080"]

        [container.{p.n('client')}]
        image = "{IMAGE}"
        command = {LOOP}
        stop_timeout = "1s"
        links = ["{p.n('web')}:web"]
        """)
    p.write("apps/worker.toml", f"""\
        [container.{p.n('worker')}]
        image = "{IMAGE}"
        entrypoint = ["sh", "-c"]
        command = ["trap 'exit 0' TERM; while :; do sleep 1; done"]
        env = {{ FOO = "bar", NUM = 3, SECRET = {{ file = "../secret.txt" }} }}
        env_file = ["../app.env"]
        workdir = "/work"
        user = "1000:1000"
        hostname = "myhost"
        labels = {{ "com.example.team" = "qa" }}
        restart = "on-failure:3"
        healthcheck.test = ["CMD-SHELL", "test -d /data"]
        healthcheck.interval = "1s"
        healthcheck.timeout = "2s"
        healthcheck.retries = 3
        resources = {{ memory = "64m", cpus = 0.5, pids = 100 }}
        stdin_open = true
        tty = true
        stop_timeout = "1s"
        volumes = ["{p.n('data')}:/data", "../host:/host:ro",
                   {{ type = "tmpfs", target = "/scratch" }}]
        volumes_from = ["{p.n('store')}:ro"]
        networks = {{ "{p.n('net')}" = ["wk"] }}
        depends_on = ["{p.n('store')}"]
        """)
    p.write("apps/plain.toml", loop_container(p.n("plain")))


@pytest.fixture(scope="module")
def deployed(docker_client: docker.DockerClient, busybox: str,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Project, int, str]]:
    p = new_project(docker_client, tmp_path_factory.mktemp("converge"))
    port = free_port()
    write_full_spec(p, port)
    try:
        run = p.apply("--concurrency", "2")
        assert run.code == 0, str(run)
        yield p, port, run.text
    finally:
        p.cleanup()


def test_apply_creates_everything(deployed: tuple[Project, int, str]) -> None:
    p, _, _ = deployed
    for short in ("store", "web", "client", "worker", "plain"):
        c = p.container(short)
        assert c.name == p.n(short)
        assert c.status == "running", (short, c.status)
        labels = labels_of(c)
        assert labels[LABEL_MANAGED_BY] == "dockwright"
        assert labels[LABEL_PROJECT] == p.name
        assert labels[LABEL_RESOURCE] == p.n(short)
    for short in ("data", "store"):
        assert p.volume_exists(short), f"volume {p.n(short)} missing"
    nets = [n for n in p.client.networks.list(filters={"label": f"{LABEL_PROJECT}={p.name}"})
            if (n.attrs.get("Labels") or {}).get(LABEL_RESOURCE) == p.n("net")]
    assert nets, f"declared network {p.n('net')} not found by its labels"


def test_every_field_takes_effect(deployed: tuple[Project, int, str]) -> None:
    p, _, _ = deployed
    c = p.container("worker")
    cfg, host = c.attrs["Config"], c.attrs["HostConfig"]
    env = env_of(c)
    assert env["FOO"] == "bar"
    assert env["NUM"] == "3"
    assert env["SECRET"] == SECRET
    assert env["FROM_FILE"] == "yes" and env["OTHER"] == "2"
    assert cfg["WorkingDir"] == "/work"
    assert cfg["User"] == "1000:1000"
    assert cfg["Hostname"] == "myhost"
    assert labels_of(c)["com.example.team"] == "qa"
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert cfg["Healthcheck"]["Test"] == ["CMD-SHELL", "test -d /data"]
    assert cfg["Healthcheck"]["Interval"] == 1_000_000_000
    assert cfg["Healthcheck"]["Retries"] == 3
    assert host["Memory"] == 64 * 1024 * 1024
    assert host["NanoCpus"] == 500_000_000
    assert host["PidsLimit"] == 100
    assert cfg["OpenStdin"] is True and cfg["Tty"] is True
    assert cfg["Entrypoint"] == ["sh", "-c"]
    assert cfg["Cmd"] == ["trap 'exit 0' TERM; while :; do sleep 1; done"]
    mounts = {m["Destination"]: m for m in c.attrs["Mounts"]}
    assert mounts["/data"]["Type"] == "volume" and mounts["/data"]["Name"] == p.n("data")
    assert mounts["/host"]["Type"] == "bind" and mounts["/host"]["RW"] is False
    assert Path(mounts["/host"]["Source"]) == (p.dir / "host").resolve()
    assert mounts["/store"]["Name"] == p.n("store") and mounts["/store"]["RW"] is False
    assert "/scratch" in (host.get("Tmpfs") or {}) or any(
        m.get("Target") == "/scratch" and m.get("Type") == "tmpfs"
        for m in host.get("Mounts") or [])
    # ...and inside the running container
    assert p.exec("worker", "id", "-u")[1].strip() == "1000"
    assert p.exec("worker", "pwd")[1].strip() == "/work"
    assert p.exec("worker", "hostname")[1].strip() == "myhost"
    assert p.exec("worker", "cat", "/host/marker")[1].strip() == "bind-mounted"
    assert p.exec("worker", "sh", "-c", "echo x > /host/new")[0] != 0, "bind mount is read-only"
    assert p.exec("worker", "test", "-d", "/store")[0] == 0
    net_aliases = c.attrs["NetworkSettings"]["Networks"]
    attached = [name for name, conf in net_aliases.items() if "wk" in (conf.get("Aliases") or [])]
    assert attached, f"alias 'wk' not on any network: {net_aliases}"
    wait_for(lambda: (p.container("worker").attrs["State"].get("Health") or {}).get("Status")
             == "healthy", "worker healthy (its healthcheck runs)")


def test_dependencies_started_before_dependents(deployed: tuple[Project, int, str]) -> None:
    p, _, _ = deployed
    pairs = [("store", "worker"), ("web", "client")]
    for dep, dependent in pairs:
        started = _time(p.container(dep).attrs["State"]["StartedAt"])
        created = _time(p.container(dependent).attrs["Created"])
        assert started <= created, f"{dependent} created {created} before {dep} started {started}"
    # networks and volumes exist before the containers that use them: the
    # containers above could not have been created otherwise.


def test_published_port_is_reachable(deployed: tuple[Project, int, str]) -> None:
    _, port, _ = deployed

    def fetch() -> str:  # "" (falsy: poll again) until the page is served
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=2) as r:
                return str(r.read().decode())
        except OSError:
            return ""

    body = wait_for(fetch, f"HTTP on 127.0.0.1:{port}", timeout=20)
    assert PAGE in body


def test_client_reaches_server_by_link_alias(deployed: tuple[Project, int, str]) -> None:
    p, _, _ = deployed
    cmd = 'printf "GET /index.html HTTP/1.0\\r\\n\\r\\n" | nc web 8080'

    def fetch() -> str | None:
        code, out = p.exec("client", "sh", "-c", cmd)
        return out if code == 0 and PAGE in out else None

    wait_for(fetch, "client -> web:8080 by link alias", timeout=20)


def test_apply_prints_progress_without_secrets(deployed: tuple[Project, int, str]) -> None:
    p, _, apply_output = deployed
    for short in ("store", "web", "client", "worker", "plain"):
        assert p.n(short) in apply_output, f"no progress line for {p.n(short)}\n{apply_output}"
    assert SECRET not in apply_output


def test_second_apply_is_a_noop(deployed: tuple[Project, int, str]) -> None:
    p, _, _ = deployed
    before = p.ids()
    assert len(before) == 5, before
    diff = p.diff()
    assert diff.code == 0, f"diff after apply must exit 0 (no changes)\n{diff}"
    again = p.apply()
    assert again.code == 0, str(again)
    assert p.ids() == before, "a second apply must not recreate any container"
    dry = p.apply("--dry-run")
    assert dry.code == 0, str(dry)
    as_json = p.diff("--output", "json")
    assert as_json.code == 0, str(as_json)
    json.loads(as_json.out)
    status = p.cli("status", "--output", "json")
    out_of_sync = [r for r in json.loads(status.out)["resources"] if not r["in_sync"]]
    assert not out_of_sync, f"status after apply: {out_of_sync}"
    assert p.ids() == before


def test_dry_run_and_diff_change_nothing(project: Project) -> None:
    project.write("a.toml", loop_container(project.n("a")) + loop_container(project.n("b")))
    diff = project.diff()
    assert diff.code == 2, f"diff with pending creates must exit 2\n{diff}"
    assert project.n("a") in diff.out and project.n("b") in diff.out
    plan = project.diff("--output", "json")
    assert plan.code == 2, str(plan)
    planned = json.loads(plan.out)
    assert project.n("a") in json.dumps(planned)
    dry = project.apply("--dry-run")
    assert dry.code == 2, f"apply --dry-run with changes exits 2\n{dry}"
    assert project.ids() == {}, "diff / --dry-run must not create anything"
    applied = project.apply("--output", "json")
    assert applied.code == 0, str(applied)
    result = json.loads(applied.out)
    assert result["plan"]["actions"] == planned["actions"], "apply executes the plan diff showed"
    assert set(project.ids()) == {project.n("a"), project.n("b")}


def _status_of(run: Run, name: str) -> dict[str, Any]:
    found = [r for r in json.loads(run.out)["resources"] if r.get("name") == name]
    assert len(found) == 1, f"status lists {name} once\n{run}"
    return dict(found[0])


def test_status_and_ps(project: Project) -> None:
    p = project
    p.write("a.toml", loop_container(p.n("a")))
    p.apply_ok()
    status = p.cli("status", "--output", "json")
    assert status.code == 0, str(status)
    row = _status_of(status, p.n("a"))
    assert row["in_sync"] is True and row["desired"] == row["actual"] == "running", row
    text = p.cli("status")
    assert text.code == 0 and p.n("a") in text.out, str(text)
    ps = p.cli("ps", with_dir=False)
    assert ps.code == 0 and p.n("a") in ps.out, str(ps)
    p.container("a").stop(timeout=1)
    drifted = _status_of(p.cli("status", "--output", "json"), p.n("a"))
    assert drifted["in_sync"] is False and drifted["actual"] != "running", drifted
    assert drifted["reason"], "status says why a resource is not in sync"


def test_down_removes_project(project: Project) -> None:
    project.write(f"{project.n('v')}.toml", f"[volume.{project.n('v')}]\n\n" + loop_container(
        project.n("a"), volumes=f'["{project.n("v")}:/v"]') + loop_container(project.n("b")))
    project.apply_ok()
    assert len(project.ids()) == 2
    down = project.cli("down")
    assert down.code == 0, str(down)
    assert project.ids() == {}
    assert project.volume_exists("v"), "down without --volumes keeps named volumes"
    down_v = project.cli("down", "--volumes")
    assert down_v.code == 0, str(down_v)
    assert not project.volume_exists("v")


def test_no_churn_from_image_defaults_and_port_formats(project: Project) -> None:
    """Values Docker fills in (image env/cmd/workdir/labels, picked host ports) are no change."""
    p = project
    ref = f"{p.name}/defaults:1"
    p.images.append(ref)
    p.write("img/Dockerfile", f"""\
        FROM {IMAGE}
        ENV FROM_IMAGE=1 PATH=/bin:/sbin
        WORKDIR /srv
        LABEL org.example.image=yes
        EXPOSE 9000
        CMD ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]
        """)
    p.client.images.build(path=str(p.dir / "img"), tag=ref, rm=True)
    p.write("a.toml", f"""\
        [container.{p.n('a')}]
        image = {{ ref = "{ref}", pull = "never" }}
        stop_timeout = "1s"
        env = {{ ZED = "z", ALPHA = "a" }}
        labels = {{ "z.label" = "1", "a.label" = "2" }}
        ports = ["127.0.0.1::8080", {{ container = 8081, ip = "127.0.0.1", protocol = "udp" }}]
        restart = "unless-stopped"
        """)
    p.apply_ok()
    c = p.container("a")
    assert c.status == "running"
    assert c.attrs["Config"]["WorkingDir"] == "/srv"
    env = env_of(c)
    assert env["FROM_IMAGE"] == "1" and env["ZED"] == "z" and env["ALPHA"] == "a"
    bound = c.attrs["NetworkSettings"]["Ports"]
    assert bound["8080/tcp"][0]["HostIp"] == "127.0.0.1" and bound["8080/tcp"][0]["HostPort"]
    assert bound["8081/udp"][0]["HostIp"] == "127.0.0.1"
    diff = p.diff()
    assert diff.code == 0, f"image defaults and picked ports must not look like changes\n{diff}"
    p.apply_ok()
    assert p.container("a").id == c.id


def test_concurrency_bounds_parallel_actions(project: Project) -> None:
    """With ``--concurrency 2`` at most two containers are between create and start at once.

    Read from the daemon's own event stream (ordered by the daemon's clock), so
    it is an ordering check, not a timing one: a container counts as in flight
    from its ``create`` event to its ``start`` event, which is a subset of the
    time its action runs.
    """
    p = project
    names = [p.n(f"c{i}") for i in range(6)]
    p.write("a.toml", "".join(loop_container(name) for name in names))
    since = int(time.time()) - 1
    p.apply_ok("--concurrency", "2")
    events = p.client.events(since=since, until=int(time.time()) + 1, decode=True,
                             filters={"type": "container", "label": f"{LABEL_PROJECT}={p.name}"})
    flight, peak, seen = 0, 0, set()
    for event in sorted(events, key=lambda e: int(e["timeNano"])):
        if event.get("Action") == "create":
            flight += 1
            seen.add(event["Actor"]["Attributes"]["name"])
        elif event.get("Action") == "start":
            flight -= 1
        peak = max(peak, flight)
    assert seen == set(names), seen
    assert peak <= 2, f"{peak} containers were created but not started at the same time"
