"""Stable digests: of values (spec hashes) and of files and folders.

Role: the hash labels (``LABEL_HASH``, ``LABEL_UPDATE_HASH``) are the
controller's fast path (principle 3): when a container's labels carry the
hash of its desired config, nothing is inspected. Files a spec refers to
(env_file, secret files, build contexts, archives) take part through their
content digests. Neighbours: ``controller.desired.state`` computes hashes,
``controller.planning.observe``/``plan`` compare them; ``controller.desired.dockerignore``
says which paths of a build context count. Pure, no runtime calls.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import stat
import threading
from enum import Enum
from pathlib import Path
from typing import Any

from controller.desired import dockerignore

_CHUNK = 1 << 20


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_plain(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if isinstance(value, Path):
        return str(value)
    return value


def value_digest(value: Any) -> str:
    """sha256 (32 hex chars) of frozen dataclasses, tuples, strings and numbers.

    ``repr`` of these is canonical (field order is fixed, no sets or dicts are
    hashed) and ten times cheaper than a JSON walk; dicts go through ``plain``.
    """
    text = repr(value) if not isinstance(value, dict) else plain_json(value)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def plain_json(value: Any) -> str:
    """Canonical JSON of dataclasses, dicts, sets and tuples (slower, order-independent)."""
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), default=str)


_CACHE: dict[tuple[str, int, int, int], str] = {}
_CACHE_LOCK = threading.Lock()


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes; ``"missing"`` when it cannot be read.

    Files over 1 MiB (image archives) are cached by (path, inode, size, mtime) so
    that a watch loop hashes them once per change, not once per pass; small files
    (secrets, env files) are always read, since a same-size rewrite within one
    clock tick would keep their mtime.
    """
    try:
        st = path.stat()
    except OSError:
        return "missing"
    key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
    cacheable = st.st_size > _CHUNK
    with _CACHE_LOCK:
        known = _CACHE.get(key) if cacheable else None
    if known is not None:
        return known
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except OSError:
        return "missing"
    value = digest.hexdigest()[:32]
    if not cacheable:
        return value
    with _CACHE_LOCK:
        if len(_CACHE) > 4096:
            _CACHE.clear()
        _CACHE[key] = value
    return value


def tree_digest(root: Path, dockerfile: str | None = None) -> str:
    """Content digest of a build context: what Docker sends to the build.

    Covers relative paths, file types and permission bits, file bytes, symlinks
    as links (their target, never followed) and empty folders, in a fixed
    order; skips what the context's ``.dockerignore`` excludes
    (``controller.desired.dockerignore``), except ``dockerfile`` (relative to ``root``,
    default ``Dockerfile``; one outside the context is not read) and
    ``.dockerignore`` itself, which always count.
    """
    if not root.is_dir():
        return "missing"
    digest = hashlib.sha256()
    for rel, path in dockerignore.walk(root, dockerfile):
        try:
            mode = path.lstat().st_mode
        except OSError:
            continue
        head = f"{rel}\0{mode & 0o777 | (mode & 0o170000)}\0"
        digest.update(head.encode(errors="surrogateescape"))
        if stat.S_ISLNK(mode):
            with contextlib.suppress(OSError):
                digest.update(os.readlink(path).encode(errors="surrogateescape"))
        elif stat.S_ISREG(mode):
            digest.update(file_digest(path).encode())
        digest.update(b"\0")
    return digest.hexdigest()[:32]
