"""Container logs of the native runtime: conmon's k8s-file format, read back.

Role: conmon writes each chunk of container output as
``<RFC3339 time> <stdout|stderr> <P|F> <text>`` (``P`` = partial line, ``F``
= line end); :func:`read_log` turns that back into the raw bytes, with
``tail`` (last N lines) and ``follow`` (keep reading while the container
runs). :func:`process_of` gives the container's OCI process (env, cwd, user,
capabilities) for ``exec``. Neighbours: ``driver`` (``logs``, ``exec_in``),
``supervise`` (starts conmon with ``-l k8s-file:...``), ``records.Layout``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from runtime.errors import NotFound
from runtime.native.records import Layout


def process_of(lay: Layout) -> dict[str, Any]:
    try:
        process: dict[str, Any] = json.loads(lay.config.read_text())["process"]
    except (OSError, ValueError, KeyError) as exc:
        raise NotFound(f"container {lay.id[:12]} has no bundle: {exc}") from exc
    return process


def _decode(line: bytes) -> bytes:
    parts = line.split(b" ", 3)
    if len(parts) < 3:
        return b""
    text = parts[3] if len(parts) == 4 else b""
    return text if parts[2] == b"P" else text + b"\n"


def read_log(
    path: Path, *, follow: bool, tail: int | None, alive: Callable[[], bool]
) -> Iterator[bytes]:
    """Yield the container's output (one chunk per log line)."""
    try:
        f = path.open("rb")
    except FileNotFoundError:
        return
    with f:
        lines = f.read().split(b"\n")
        rest = lines.pop()  # an incomplete last record stays buffered
        chunks = [_decode(line) for line in lines if line]
        if tail is not None:
            chunks = _tail(chunks, tail)
        yield from (c for c in chunks if c)
        if not follow:
            return
        buf = rest
        idle_checks = 0
        while True:
            data = f.read()
            if data:
                idle_checks = 0
                buf += data
                *complete, buf = buf.split(b"\n")
                for line in complete:
                    chunk = _decode(line) if line else b""
                    if chunk:
                        yield chunk
                continue
            if not alive():
                idle_checks += 1
                if idle_checks > 2:  # conmon may still flush the last lines
                    return
            time.sleep(0.1)


def _tail(chunks: list[bytes], n: int) -> list[bytes]:
    """The chunks making up the last ``n`` complete lines."""
    if n <= 0:
        return []
    out: list[bytes] = []
    lines = 0
    for chunk in reversed(chunks):
        if chunk.endswith(b"\n"):
            lines += 1
            if lines > n:
                break
        out.append(chunk)
    return list(reversed(out))
