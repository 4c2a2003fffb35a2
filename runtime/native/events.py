"""Container events of the native runtime: an append-only JSON-lines file.

Role: the driver and each container's shim append lifecycle events (create,
start, die with exit code, oom, stop, kill, destroy, health_status) to
``<state_dir>/events.log`` (one ``O_APPEND`` write per line, so writers from
several processes do not interleave; the driver rotates it at start-up past
16 MiB); :class:`EventTail` is the driver's ``events()`` stream: it follows
the file from its current end (and across a rotation), filtered by labels,
until ``close()``. Neighbours: ``driver``, ``shim``, ``runtime.types.Event``.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

from runtime.driver import IdSet
from runtime.types import Event, Pairs

MAX_BYTES = 16 * 1024 * 1024


def rotate(path: Path, max_bytes: int = MAX_BYTES) -> None:
    """Keep the log bounded: past ``max_bytes`` it becomes ``events.log.1`` (tails follow)."""
    try:
        if path.stat().st_size > max_bytes:
            path.replace(path.with_name(path.name + ".1"))
    except FileNotFoundError:
        return


def append(path: Path, action: str, cid: str, name: str, labels: Pairs, detail: str = "") -> None:
    line = json.dumps(
        {
            "action": action,
            "id": cid,
            "name": name,
            "labels": [list(p) for p in labels],
            "time": time.time(),
            "detail": detail,
        }
    )
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


class EventTail:
    """Events appended from now on; ``close()`` (any thread) ends the iteration."""

    def __init__(self, path: Path, labels: Mapping[str, str] | None = None,
                 ids: IdSet | None = None) -> None:
        self.path = path
        self.labels = dict(labels or {})
        self.ids = ids  # also these containers, whatever their labels
        path.touch(exist_ok=True)
        self._offset = path.stat().st_size
        self._closed = threading.Event()

    def close(self) -> None:
        self._closed.set()

    def __enter__(self) -> EventTail:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Event]:
        buf = b""
        f = self.path.open("rb")
        try:
            f.seek(self._offset)
            while not self._closed.is_set():
                chunk = f.read()
                if not chunk:
                    if self._rotated(f):  # drained the old file: follow the new one
                        f.close()
                        f = self.path.open("rb")
                        continue
                    self._closed.wait(0.05)
                    continue
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    event = self._parse(line)
                    if event is not None:
                        yield event
                        if self._closed.is_set():
                            return
        finally:
            f.close()

    def _rotated(self, f: BinaryIO) -> bool:
        try:
            return os.stat(self.path).st_ino != os.fstat(f.fileno()).st_ino
        except FileNotFoundError:
            return False

    def _parse(self, line: bytes) -> Event | None:
        try:
            data = json.loads(line)
        except ValueError:
            return None
        labels = tuple((str(k), str(v)) for k, v in data.get("labels", ()))
        have = dict(labels)
        cid = str(data.get("id", ""))
        if any(have.get(k) != v for k, v in self.labels.items()) and \
                (self.ids is None or cid not in self.ids()):
            return None
        return Event(
            action=str(data.get("action", "")),
            container_id=cid,
            name=str(data.get("name", "")),
            labels=labels,
            time=float(data.get("time", 0.0)),
            detail=str(data.get("detail", "")),
        )
