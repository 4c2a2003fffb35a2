"""Upgrade safety: anonymous folders of containers made before anonymous volumes.

Role: a container created before anonymous volumes were store volumes kept
a ``"/x"`` mount in ``<state>/containers/<id>/anon/<sha256(target)[:16]>``
(record entry ``"volume": ""``, no ``fresh_volumes`` field). :func:`_legacy`
rebuilds exactly that layout by hand from a container of this version (the
store volume's folder renamed back to where the old code kept it, the record
and ``config.json`` pointing there), then the container runs with a file
written into the folder. Checked, with real crun/conmon: an env change
recreates it through the controller and the file is in the replacement (the
folder became a volume while the old container ran, and a rollback could still
restart it); ``down --volumes`` removes that volume; a plain remove keeps it;
a restarted driver migrates at start-up; a crash at any step of the move is
finished by the next pass without a second copy. Neighbours:
``runtime.native.legacyanon``, ``tests/native/conftest.py``,
``tests/contract/test_anonymous_volumes.py`` (the same controller steps).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from controller.desired.state import DesiredState
from controller.execution.apply import execute
from controller.execution.reconcile import Options, reconcile
from controller.planning.anonymous import of_containers
from controller.planning.observe import observe
from controller.planning.plan import plan_down
from runtime.errors import RuntimeError_
from runtime.native import legacyanon
from runtime.native.driver import NativeDriver
from runtime.types import MountSpec
from tests.images import BUSYBOX
from tests.native.conftest import LOOP, NProject

pytestmark = pytest.mark.native


def _make_legacy(d: NativeDriver, cid: str) -> Path:
    """Turn stopped container ``cid``, with an anonymous ``/cache`` mount, into what the
    code before anonymous volumes left; returns the (empty) anonymous folder. The record
    is rewritten under its writers' lock (``rlock``, as ``RecordStore.update`` takes it):
    the exit handler of the stop may still write it."""
    lay = d.records.layout(cid)
    fd = os.open(lay.dir / "rlock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        raw: dict[str, Any] = json.loads(lay.record.read_text())
        raw.pop("fresh_volumes")  # the old record had no such field
        folder = lay.dir / "anon" / hashlib.sha256(b"/cache").hexdigest()[:16]
        (entry,) = [m for m in raw["mounts"] if m["destination"] == "/cache"]
        volume, data = entry["volume"], entry["source"]
        assert len(volume) == 64, entry
        folder.parent.mkdir()
        os.rename(data, folder)
        shutil.rmtree(d.volumes.root / volume)
        entry.update(source=str(folder), volume="")
        lay.record.write_text(json.dumps(raw))
    finally:
        os.close(fd)
    spec = json.loads(lay.config.read_text())
    for m in spec["mounts"]:
        if m["source"] == data:
            m["source"] = str(folder)
    lay.config.write_text(json.dumps(spec))
    return folder


def _fill(d: NativeDriver, cid: str, folder: Path) -> str:
    """Start ``cid``, write ``/cache/f``; the name its folder's volume will have."""
    d.start_container(cid)
    assert d.exec_in(cid, ["sh", "-c", "echo legacy > /cache/f"]).exit_code == 0
    assert (folder / "f").read_text() == "legacy\n", "the container uses the old layout"
    return legacyanon.volume_name(cid, folder.name)


def _legacy(p: NProject, short: str) -> tuple[str, Path, str]:
    """A running pre-upgrade container with ``/cache/f``: id, folder, volume-to-be."""
    d = p.driver
    cid = d.create_container(p.config(short, mounts=(MountSpec("volume", "/cache"),)))
    folder = _make_legacy(d, cid)
    return cid, folder, _fill(d, cid, folder)


def _volumes(d: NativeDriver) -> set[str]:
    return {v.name for v in d.list_volumes()}


def _cat(d: NativeDriver, ref: str) -> bytes:
    return d.exec_in(ref, ["cat", "/cache/f"]).output


def _spec(root: Path, p: NProject, env: str) -> None:
    root.mkdir(exist_ok=True)
    loop = json.dumps(list(LOOP))
    (root / "a.toml").write_text(
        f"[container.{p.n('a')}]\nimage = \"{BUSYBOX}\"\ncommand = {loop}\n"
        f"stop_timeout = \"1s\"\nenv = {{ V = \"{env}\" }}\nvolumes = [\"/cache\"]\n"
    )


def _apply(root: Path, p: NProject, *, dry_run: bool = False) -> bool:
    result = reconcile(root, p.driver, project=p.name, options=Options(dry_run=dry_run))
    assert result.ok, result.to_json()
    return bool(result.plan.changes)


def _down(p: NProject, *, volumes: bool) -> None:
    """What ``dockwright down [--volumes]`` does."""
    observed = observe(p.driver, DesiredState(p.name, None))
    anonymous = of_containers(p.driver, [s.id for s in observed.containers.values()]) \
        if volumes else None
    outcomes = execute(p.driver, plan_down(observed, volumes=volumes, anonymous=anonymous))
    assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]


def test_recreate_carries_a_pre_upgrade_folder(nproject: NProject, tmp_path: Path) -> None:
    d, root = nproject.driver, tmp_path / "spec"
    _spec(root, nproject, "1")
    _apply(root, nproject)
    old = d.inspect_container(nproject.n("a")).summary.id
    d.stop_container(old, timeout=1)
    folder = _make_legacy(d, old)
    volume = _fill(d, old, folder)
    _spec(root, nproject, "2")
    assert _apply(root, nproject), "an env change recreates the container"
    info = d.inspect_container(nproject.n("a"))
    assert info.summary.id != old
    assert [(m.target, m.source) for m in info.anonymous_volumes] == [("/cache", volume)]
    assert _cat(d, nproject.n("a")) == b"legacy\n", "the replacement has the old data"
    assert not _apply(root, nproject, dry_run=True), "the carried volume is no drift"
    assert not folder.exists() and volume in _volumes(d)
    _down(nproject, volumes=False)
    assert volume in _volumes(d), "down keeps it"
    _apply(root, nproject)  # nothing to carry from: a fresh volume, then removed with it
    _down(nproject, volumes=True)
    assert volume in _volumes(d), "a volume no container has stays"
    d.remove_volume(volume)


def test_down_volumes_removes_a_pre_upgrade_folder(nproject: NProject) -> None:
    d = nproject.driver
    cid, folder, volume = _legacy(nproject, "a")
    assert of_containers(d, [cid]) == {volume: nproject.n("a")}, "reported as anonymous"
    _down(nproject, volumes=True)
    assert not folder.exists() and not d.records.layout(cid).record.exists()
    assert volume not in _volumes(d), "down --volumes removes the pre-upgrade data"


def test_remove_keeps_a_pre_upgrade_folder(nproject: NProject) -> None:
    d = nproject.driver
    cid, _, volume = _legacy(nproject, "a")
    d.remove_container(cid, force=True)  # never inspected: the teardown moves it
    assert not d.records.layout(cid).record.exists()
    assert (d.volumes.data_dir(volume) / "f").read_text() == "legacy\n"
    again = nproject.run("b", mounts=(MountSpec("volume", "/cache", volume),))
    assert _cat(d, again) == b"legacy\n"
    d.remove_container(again, force=True)
    d.remove_volume(volume)


def test_restarted_driver_migrates_running_containers(nproject: NProject) -> None:
    d = nproject.driver
    cid, folder, volume = _legacy(nproject, "a")
    upgraded = NativeDriver(state_dir=d.state_dir)  # the first command after the upgrade
    try:
        assert not folder.exists()
        (entry,) = [m for m in d.records.read(cid).mounts if m["destination"] == "/cache"]
        assert entry["volume"] == volume and entry["source"] == str(d.volumes.data_dir(volume))
        assert d.exec_in(cid, ["sh", "-c", "echo more >> /cache/f"]).exit_code == 0
        assert (d.volumes.data_dir(volume) / "f").read_text() == "legacy\nmore\n", \
            "the running container writes into the volume"
        d.stop_container(cid, timeout=1)
        d.start_container(cid)  # its bundle mounts the volume now
        assert _cat(d, cid) == b"legacy\nmore\n"
    finally:
        upgraded.close()
    d.remove_container(cid, force=True)
    d.remove_volume(volume)


@pytest.mark.parametrize("step", ["rename", "_repoint"])
def test_a_crash_half_way_is_finished_later(nproject: NProject, step: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    d = nproject.driver
    cid = d.create_container(nproject.config("a", mounts=(MountSpec("volume", "/cache"),)))
    folder = _make_legacy(d, cid)
    (folder / "f").write_text("legacy\n")
    volume, before = legacyanon.volume_name(cid, folder.name), _volumes(d)

    class Crash(BaseException):
        pass

    def crash(*_: object, **__: object) -> None:
        raise Crash

    with monkeypatch.context() as m:
        m.setattr(os if step == "rename" else legacyanon, step, crash)
        with pytest.raises(Crash):
            d.inspect_container(cid)
    assert (step == "rename") == folder.is_dir(), "crashed before / after the rename"
    assert legacyanon.pending(d.records, d.records.read(cid)), "the record is not done yet"
    (info,) = d.inspect_container(cid).anonymous_volumes  # the next pass finishes
    assert info.source == volume and not folder.exists()
    assert not legacyanon.pending(d.records, d.records.read(cid))
    assert (d.volumes.data_dir(volume) / "f").read_text() == "legacy\n"
    assert _volumes(d) - before == {volume} and not list(folder.parent.iterdir()), "one copy"
    d.start_container(cid)
    assert _cat(d, cid) == b"legacy\n"
    d.remove_container(cid, force=True)
    d.remove_volume(volume)


def test_a_move_that_fails_deletes_nothing(nproject: NProject) -> None:
    d = nproject.driver
    cid = d.create_container(nproject.config("a", mounts=(MountSpec("volume", "/cache"),)))
    folder = _make_legacy(d, cid)
    (folder / "f").write_text("legacy\n")
    volume = legacyanon.volume_name(cid, folder.name)
    d.volumes.ensure(volume)
    (d.volumes.data_dir(volume) / "other").write_text("x")  # rename cannot replace it
    assert d.inspect_container(cid).anonymous_volumes == (), "left as it was"
    with pytest.raises(RuntimeError_):
        d.remove_container(cid, force=True)
    assert (folder / "f").read_text() == "legacy\n", "the data is still there"
    (d.volumes.data_dir(volume) / "other").unlink()
    d.remove_container(cid, force=True)
    assert (d.volumes.data_dir(volume) / "f").read_text() == "legacy\n"
    d.remove_volume(volume)
