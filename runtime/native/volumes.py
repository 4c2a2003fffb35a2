"""Named volumes of the native runtime: folders under ``<state_dir>/volumes``.

Role: ``<state_dir>/volumes/<name>/_data`` is what containers mount;
``volume.json`` beside it keeps the driver, options and labels. A volume is
filled from the image's content at its mount target the first time a
container uses it while it is empty (Docker's copy-up), once. Removal refuses
while a container record still mounts the volume; it renames the folder to a
``.trash-*`` one first, which :meth:`Volumes.sweep_trash` (driver start-up)
removes if a crash interrupted the deletion. Anonymous volumes (``"/x"``
mounts, image ``VOLUME`` paths) are volumes here too, under a generated
name matching :data:`ANONYMOUS_NAME` (``anonvols``). Neighbours: ``driver``
(create/list/remove), ``bundle.resolve_mounts`` (paths), ``anonvols``,
``records``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

from dwutil.atomic import write_atomic
from runtime.errors import Conflict, InvalidRequest, NotFound, Transient
from runtime.types import VolumeConfig, VolumeInfo

NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
ANONYMOUS_NAME = re.compile(r"^[0-9a-f]{64}$")  # generated names, as Docker's
POPULATED = ".dockwright-populated"
TRASH = ".trash-"


class Volumes:
    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir / "volumes"
        self.root.mkdir(parents=True, exist_ok=True)

    def data_dir(self, name: str) -> Path:
        return self.root / name / "_data"

    def ensure(self, name: str) -> Path:
        """The data folder of ``name``, creating the volume (no labels) when missing."""
        if not self.data_dir(name).is_dir():
            with contextlib.suppress(Conflict):
                self.create(VolumeConfig(name=name))
        return self.data_dir(name)

    def create(self, config: VolumeConfig) -> VolumeInfo:
        if not NAME.match(config.name):
            raise InvalidRequest(
                f"invalid volume name {config.name!r}", hint="use [a-zA-Z0-9][a-zA-Z0-9_.-]*"
            )
        if config.driver not in ("local", ""):
            raise InvalidRequest(
                f"volume driver {config.driver!r} is not supported by the native runtime",
                hint="use driver local",
            )
        vdir = self.root / config.name
        try:
            vdir.mkdir()
        except FileExistsError as exc:
            raise Conflict(f"volume {config.name!r} already exists") from exc
        (vdir / "_data").mkdir(exist_ok=True)
        meta = {"name": config.name, "driver": "local", "labels": dict(config.labels),
                "options": dict(config.driver_opts)}  # fmt: skip
        write_atomic(vdir / "volume.json", json.dumps(meta), mode=0o644)
        return self._info(config.name, meta)

    def _info(self, name: str, meta: Mapping[str, object]) -> VolumeInfo:
        labels = meta.get("labels") or {}
        assert isinstance(labels, dict)
        return VolumeInfo(
            name=name,
            driver="local",
            labels=tuple(sorted((str(k), str(v)) for k, v in labels.items())),
            mountpoint=str(self.data_dir(name)),
        )

    def list(self, labels: Mapping[str, str] | None = None) -> list[VolumeInfo]:
        found = []
        for entry in os.scandir(self.root):
            if entry.name.startswith(".") or not entry.is_dir() \
                    or not (Path(entry.path) / "_data").is_dir():
                continue
            try:
                meta = json.loads((Path(entry.path) / "volume.json").read_text())
            except (OSError, ValueError):
                meta = {}
            info = self._info(entry.name, meta)
            if all(info.label(k) == v for k, v in (labels or {}).items()):
                found.append(info)
        return sorted(found, key=lambda v: v.name)

    def remove(self, name: str, users: Iterable[str]) -> None:
        vdir = self.root / name
        if not NAME.match(name) or not vdir.is_dir():
            raise NotFound(f"no such volume: {name}")
        in_use = sorted(users)
        if in_use:
            raise Conflict(
                f"volume {name!r} is in use by container(s) {', '.join(in_use)}",
                hint="remove those containers first",
            )
        trash = self.root / f"{TRASH}{name}-{os.getpid()}"
        vdir.rename(trash)
        shutil.rmtree(trash, ignore_errors=True)

    def sweep_trash(self) -> None:
        """Finish removals a crash interrupted (the folders renamed to ``.trash-*``)."""
        for entry in os.scandir(self.root):
            if entry.name.startswith(TRASH) and entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)

    def populate(self, name: str, source: Path) -> None:
        """Copy the image content at ``source`` into an empty, never-populated volume."""
        vdir = self.root / name
        marker = vdir / POPULATED
        data = vdir / "_data"
        if marker.exists():
            return
        if source.is_dir() and not any(data.iterdir()):
            proc = subprocess.run(
                ["cp", "-a", f"{source}/.", f"{data}/"], capture_output=True, timeout=300
            )
            if proc.returncode != 0:
                raise Transient(
                    f"cannot copy the image content of {source} into volume {name}: "
                    f"{proc.stderr.decode(errors='replace').strip()}",
                    retry_after=2.0,
                )
        marker.touch()
