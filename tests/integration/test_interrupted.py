"""Issue 9: a recreate interrupted by SIGKILL of ``apply``, and containers renamed under it.

- A real ``dockwright apply`` subprocess is SIGKILLed while it recreates a
  container that publishes a host port, mounts a named volume and an anonymous
  one, and ignores SIGTERM (its stop takes the whole ``stop_timeout``): the old
  copy is aside and still stopping, the new copy ``Created``. The next apply
  must stop the old copy before it starts the new one (the host port is free
  only then), remove the old one only once the new one runs, and keep the data.
- A container renamed by hand gets its name back (same id, data kept); renamed
  and then changed, it is replaced by a container under its declared name that
  mounts its anonymous volumes. Going from 1 to 2 replicas carries the anonymous
  volumes of ``NAME`` to ``NAME-1``; the reasons say so.

Neighbours: ``tests/contract/test_recovery.py`` (the same order, state built
through the driver, on Docker and native), ``controller.planning.recovery``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request

import docker
import pytest

from tests.conftest import wait_for
from tests.ports import free_port

from .conftest import IMAGE, ROOT, Project

pytestmark = pytest.mark.docker

# ignores SIGTERM (PID 1 without a handler): a stop waits out the whole stop_timeout
SERVER = '["httpd", "-f", "-p", "80", "-h", "/data"]'


def _web(p: Project, version: str, port: int) -> None:
    p.write("a.toml", f"""\
        [volume.{p.n("data")}]

        [container.{p.n("web")}]
        image = "{IMAGE}"
        command = {SERVER}
        ports = ["127.0.0.1:{port}:80"]
        volumes = ["{p.n("data")}:/data", "/anon"]
        stop_timeout = "6s"
        env = {{ V = "{version}" }}
        """)


def _get(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=5) as res:
        return str(res.read().decode())


def _states(p: Project) -> dict[str, str]:
    """Name -> state of each container of the project that the daemon knows in full: Docker
    lists a container being created before it can be inspected (a 404 in that window)."""
    states = {}
    for name, cid in p.ids().items():
        try:
            states[name] = p.client.containers.get(cid).status
        except docker.errors.NotFound:
            continue  # still being created (or removed): not there yet for this poll
    return states


def test_apply_killed_mid_recreate_is_resumed_in_order(project: Project) -> None:
    p = project
    port = free_port()
    _web(p, "1", port)
    p.apply_ok()
    assert p.exec("web", "sh", "-c", "echo served > /data/index.html; echo mine > /anon/f")[0] == 0
    old = p.container("web").id
    _web(p, "2", port)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DOCKWRIGHT_RUNTIME", None)
    proc = subprocess.Popen([sys.executable, "-m", "controller.cli", "--project", p.name,
                             "apply", str(p.dir)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:  # the old copy is aside (stopping for 6 s), the new one created: kill -9 now
        wait_for(lambda: _states(p).get(p.n("web")) == "created", "the new copy created")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    states = _states(p)
    aside = f"{p.n('web')}_dw-old-{str(old)[:12]}"
    assert states == {p.n("web"): "created", aside: "running"}, states
    run = p.apply_ok()
    assert "resumes an interrupted recreate" in run.out, str(run)
    assert _states(p) == {p.n("web"): "running"}, f"the old copy is removed\n{run}"
    assert _get(port) == "served\n", "the new copy serves the port, from the named volume"
    assert p.exec("web", "cat", "/anon/f") == (0, "mine\n"), "the anonymous volume came along"
    assert p.diff().code == 0


def _anon(p: Project, name: str) -> set[str]:
    mounts = p.client.containers.get(name).attrs["Mounts"]
    return {m["Name"] for m in mounts if m["Type"] == "volume" and m["Destination"] == "/anon"}


def _one(p: Project, extra: str = "", version: str = "1") -> None:
    p.write("a.toml", f"""\
        [container.{p.n("web")}]
        image = "{IMAGE}"
        command = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]
        volumes = ["/anon"]
        stop_timeout = "1s"
        env = {{ V = "{version}" }}
        {extra}
        """)


def test_a_container_renamed_by_hand_gets_its_name_back(project: Project) -> None:
    p = project
    _one(p)
    p.apply_ok()
    web = p.container("web")
    assert p.exec("web", "sh", "-c", "echo mine > /anon/f")[0] == 0
    web.rename(p.n("moved"))
    run = p.apply_ok()
    assert f"renamed by hand (found as {p.n('moved')}): renamed back" in run.out, str(run)
    assert p.container("web").id == web.id and set(p.ids()) == {p.n("web")}
    assert p.exec("web", "cat", "/anon/f") == (0, "mine\n")
    assert p.diff().code == 0


def test_renamed_and_changed_carries_its_volumes(project: Project) -> None:
    p = project
    _one(p)
    p.apply_ok()
    web = p.container("web")
    volumes = _anon(p, p.n("web"))
    assert p.exec("web", "sh", "-c", "echo mine > /anon/f")[0] == 0
    web.rename(p.n("moved"))
    _one(p, version="2")
    run = p.apply_ok()
    assert f"renamed by hand (found as {p.n('moved')}) and its spec changed: carried its " \
           f"volumes to {p.n('web')}" in run.out, str(run)
    assert set(p.ids()) == {p.n("web")} and p.container("web").id != web.id
    assert _anon(p, p.n("web")) == volumes
    assert p.exec("web", "cat", "/anon/f") == (0, "mine\n")
    assert p.diff().code == 0


def test_one_to_two_replicas_carries_the_volumes_to_the_first(project: Project) -> None:
    p = project
    _one(p)
    p.apply_ok()
    volumes = _anon(p, p.n("web"))
    assert p.exec("web", "sh", "-c", "echo mine > /anon/f")[0] == 0
    _one(p, "replicas = 2")
    run = p.apply_ok()
    assert f"replica naming changed (was {p.n('web')}): carried its volumes to " \
           f"{p.n('web-1')}" in run.out, str(run)
    assert "beyond the declared count" not in run.out
    assert set(p.ids()) == {p.n("web-1"), p.n("web-2")}
    assert _anon(p, p.n("web-1")) == volumes
    assert p.exec("web-1", "cat", "/anon/f") == (0, "mine\n")
    assert p.diff().code == 0
