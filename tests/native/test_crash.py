"""Crash tests of the native driver: SIGKILL the controller mid-operation, then converge.

Role: a child process (the "controller") loops create -> start -> remove of
a networked container with a published port on a shared state folder and
logs every container id the moment it is generated; the test kills it with
SIGKILL at random points several times (a new child's start-up sweep must
cope with the previous one's leftovers), then opens a new driver and checks
that no netns, veth, mount, cgroup, conmon/shim process, runtime state or
file of a dead id is left, and that the name and port are usable again.
Neighbours: ``tests/native/conftest.py`` (``leaks``, ``veth_leaks``).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from runtime.native import shim, supervise
from runtime.native.driver import NativeDriver
from runtime.types import ContainerConfig, NetworkAttach, NetworkConfig, PortBinding, State
from tests.images import BUSYBOX
from tests.native.conftest import NProject, leaks, veth_leaks
from tests.ports import free_port

pytestmark = pytest.mark.native

CHILD = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    import runtime.native.containers as containers
    from runtime.native.driver import NativeDriver
    from runtime.types import ContainerConfig, NetworkAttach, PortBinding

    state, net, name, port, idlog = sys.argv[1:6]
    original = containers.new_id

    def logged_id() -> str:
        cid = original()
        with open(idlog, "a") as f:
            f.write(cid + "\\n")
            f.flush()
            os.fsync(f.fileno())
        return cid

    containers.new_id = logged_id
    driver = NativeDriver(state_dir=state)
    config = ContainerConfig(
        name=name, image=sys.argv[6], command=("httpd", "-f", "-p", "80"),
        networks=(NetworkAttach(net, ("web",)),),
        ports=(PortBinding(80, host_ip="127.0.0.1", host_port=int(port)),),
        labels=(("io.dockwright.project", name),), stop_timeout=0.5,
    )
    print("ready", flush=True)
    for old in driver.list_containers({"io.dockwright.project": name}):
        driver.remove_container(old.id, force=True)  # what a controller's pass would do
    while True:
        cid = driver.create_container(config)
        driver.start_container(cid)
        driver.remove_container(cid, force=True)
    """
)


def test_killed_controller_leaves_nothing_behind(
    tmp_path: Path, busybox_archive: Path
) -> None:
    state = tmp_path / "state"
    name = f"dwt-{uuid.uuid4().hex[:8]}"
    net = f"{name}-net"
    port = free_port()
    idlog = tmp_path / "ids"
    driver = NativeDriver(state_dir=state)
    driver.load_image(busybox_archive)
    driver.create_network(NetworkConfig(name=net))
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    try:
        for _ in range(8):
            args = [str(state), net, name, str(port), str(idlog), BUSYBOX]
            child = subprocess.Popen(
                [sys.executable, "-c", CHILD, *args],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
            )  # fmt: skip
            assert child.stdout is not None and child.stderr is not None
            assert child.stdout.readline() == b"ready\n", child.stderr.read()
            time.sleep(rng.uniform(0.0, 0.8))
            child.send_signal(signal.SIGKILL)
            child.wait()
            assert child.stderr is not None
            err = child.stderr.read().decode()
            assert "Traceback" not in err, f"seed {seed}: the controller failed on its own:\n{err}"
        ids = set(idlog.read_text().split()) if idlog.exists() else set()
        assert ids, f"seed {seed}: the controller never got to create a container"

        fresh = NativeDriver(state_dir=state)  # start-up sweep of a restarted controller
        survivors = {c.id for c in fresh.list_containers()}
        for cid in survivors:  # completed creates are adopted; converge by removing them
            fresh.remove_container(cid, force=True)
        assert fresh.list_containers() == []
        assert leaks(state, ids) == [], f"seed {seed}"
        assert veth_leaks(net, ids) == [], f"seed {seed}"
        assert not (state / "names" / name).exists()
        # the host converged: the same name and port work again
        cid = fresh.create_container(
            ContainerConfig(name=name, image=BUSYBOX, command=("httpd", "-f", "-p", "80"),
                            networks=(NetworkAttach(net),),
                            ports=(PortBinding(80, host_ip="127.0.0.1", host_port=port),))
        )  # fmt: skip
        fresh.start_container(cid)
        fresh.remove_container(cid, force=True)
        assert leaks(state, [cid]) == []
    finally:
        final = NativeDriver(state_dir=state)
        for c in final.list_containers():
            final.remove_container(c.id, force=True)
        final.remove_network(net)
        final.close()


def test_a_start_cut_off_after_conmon_launched_it_is_started_cleanly(nproject: NProject) -> None:
    """A controller killed between conmon's launch and the record of the start leaves a
    live conmon and process of a container the record calls "created". The next start must
    end that run before the new one: the old conmon, outliving the runtime's delete, would
    write the killed process's exit code (137) into the new run's exit file, and the new run
    would read as exited (seen as a flaky ``native: apply killed: recreate`` fault case)."""
    d = nproject.driver
    cid = d.create_container(nproject.config("web", stop_timeout=0.5))
    rec = d.records.read(cid)
    lay = d.records.layout(cid)
    shim.launch(d.oci, d.state_dir, lay, rec, shim.new_run_token())  # the cut-off start
    old_conmon = int(lay.conmon_pidfile.read_text())
    assert supervise.pid_alive(old_conmon) and d.inspect_container(cid).summary.state is (
        State.CREATED)
    d.start_container(cid)
    assert not supervise.pid_alive(old_conmon), "the previous run's conmon is ended first"
    time.sleep(1.0)  # the old conmon would have written its exit file by now
    info = d.inspect_container(cid)
    assert info.summary.state is State.RUNNING, (info.summary.state, info.summary.exit_code)
    assert d.exec_in(cid, ["true"]).exit_code == 0
