"""Anonymous volumes of the native driver: kept by a remove, never leaked by a crash.

Role: a ``"/x"`` mount is a volume of the store under a generated name that a
removed container leaves behind and that the next container can mount by
name; a create that fails, or whose process is SIGKILLed after the volume
exists (a child process that kills itself during the volume's copy-up), leaves
no volume behind once the records are swept; and a sweep never deletes a
volume that a container record mounts, even when a dead create lists it.
Neighbours: ``tests/native/conftest.py`` (``nproject``, ``leaks``),
``runtime.native.anonvols``, ``runtime.native.gc``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from runtime.errors import InvalidRequest
from runtime.native.anonvols import new_name
from runtime.native.driver import NativeDriver
from runtime.native.records import Record, new_id
from runtime.types import ContainerConfig, MountSpec
from tests.images import BUSYBOX
from tests.native.conftest import NProject, leaks

pytestmark = pytest.mark.native

ANON = (MountSpec("volume", "/cache"),)


def _anonymous(driver: NativeDriver) -> set[str]:
    return {v.name for v in driver.list_volumes() if len(v.name) == 64}


def test_removed_container_keeps_its_anonymous_volume(nproject: NProject) -> None:
    d = nproject.driver
    cid = nproject.run("a", mounts=ANON)
    (volume,) = [m.source for m in d.inspect_container(cid).anonymous_volumes]
    assert volume is not None and volume in _anonymous(d)
    assert d.exec_in(cid, ["sh", "-c", "echo kept > /cache/f"]).exit_code == 0
    d.remove_container(cid, force=True)
    assert volume in _anonymous(d), "a remove keeps the container's anonymous volume"
    again = nproject.run("b", mounts=(MountSpec("volume", "/cache", volume),))
    assert d.exec_in(again, ["cat", "/cache/f"]).output == b"kept\n"
    assert [m.source for m in d.inspect_container(again).anonymous_volumes] == [volume]
    d.remove_container(again, force=True)
    d.remove_volume(volume)
    assert volume not in _anonymous(d)


def test_failed_create_leaves_no_anonymous_volume(nproject: NProject) -> None:
    d = nproject.driver
    before = _anonymous(d)
    with pytest.raises(InvalidRequest):  # fails after the volumes exist (bundle: the user)
        d.create_container(nproject.config("a", mounts=ANON, user="nosuchuser"))
    assert _anonymous(d) == before


CHILD = textwrap.dedent(
    """
    import os, signal, sys
    import runtime.native.volumes as volumes
    from runtime.native.driver import NativeDriver
    from runtime.types import ContainerConfig, MountSpec

    def die(self, name, source):  # the volume exists, the record is still "creating"
        print(name, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    volumes.Volumes.populate = die
    driver = NativeDriver(state_dir=sys.argv[1])
    driver.create_container(ContainerConfig(
        name=sys.argv[2], image=sys.argv[3], command=("true",),
        mounts=(MountSpec("volume", "/cache"),)))
    """
)


def test_killed_create_leaves_no_anonymous_volume(tmp_path: Path, busybox_archive: Path) -> None:
    state = tmp_path / "state"
    driver = NativeDriver(state_dir=state)
    driver.load_image(busybox_archive)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(state), "dwt-killed", BUSYBOX],
        capture_output=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    volume = child.stdout.decode().strip()
    assert child.returncode == -9 and len(volume) == 64, child.stderr.decode()
    assert (state / "volumes" / volume).is_dir(), "the volume existed when the create died"
    (cid,) = os.listdir(state / "containers")
    fresh = NativeDriver(state_dir=state)  # a restarted controller's sweep
    assert not (state / "volumes" / volume).exists(), "the dead create's volume is removed"
    assert _anonymous(fresh) == set()
    assert leaks(state, [cid]) == []
    fresh.close()
    driver.close()


def test_sweep_keeps_a_volume_a_record_mounts(nproject: NProject) -> None:
    d = nproject.driver
    cid = nproject.run("a", mounts=ANON)
    (volume,) = [m.source for m in d.inspect_container(cid).anonymous_volumes]
    assert volume is not None
    assert d.exec_in(cid, ["sh", "-c", "echo kept > /cache/f"]).exit_code == 0
    # a dead create (no process holds its lock) that lists the volume as its own
    ghost = Record(id=new_id(), name=nproject.n("ghost"),
                   config=ContainerConfig(name=nproject.n("ghost"), image=BUSYBOX),
                   fresh_volumes=[volume, new_name()])  # fmt: skip
    d.records.write(ghost)
    d.gc()
    assert not d.records.layout(ghost.id).dir.exists(), "the dead create is swept"
    assert volume in _anonymous(d), "a volume a live record mounts is never deleted"
    assert d.exec_in(cid, ["cat", "/cache/f"]).output == b"kept\n"
    d.remove_container(cid, force=True)
    d.remove_volume(volume)
