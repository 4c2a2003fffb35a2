"""Stable digests: of values (spec hashes) and of files and folders.

Role: the hash labels (``LABEL_HASH``, ``LABEL_UPDATE_HASH``, and
``LABEL_HASH_SCHEME``, the version of the form hashed) say which spec a
container was made from, so a plan can tell a spec change from drift
(principle 8): a hash is taken over an explicit canonical form (named fields,
defaults left out, sorted-keys JSON), never over ``repr``, and a hash alone
never causes a recreate (fields decide). Files a spec refers to (env_file,
secret files, build contexts, archives) take part through their content
digests; those of secrets are keyed (``controller.desired.hostkey``).
Neighbours: ``controller.desired.state`` computes hashes,
``controller.planning.observe``/``plan`` compare them; ``dwutil.dockerignore``
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

from dwutil import dockerignore

_CHUNK = 1 << 20


HASH_SCHEME = "2"  # the version of the canonical form below; recorded in LABEL_HASH_SCHEME
LABEL_HASH_SCHEME = "io.dockwright.hash-scheme"
_DEFAULTS: dict[type, dict[str, Any]] = {}
_NO_DEFAULT = object()


def _defaults(cls: type) -> dict[str, Any] | None:
    """Field name -> default (``_NO_DEFAULT`` when required) of a dataclass; None otherwise."""
    known = _DEFAULTS.get(cls)
    if known is None:
        if not dataclasses.is_dataclass(cls):
            return None
        known = {}
        for f in dataclasses.fields(cls):
            if f.default is not dataclasses.MISSING:
                known[f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                known[f.name] = f.default_factory()
            else:
                known[f.name] = _NO_DEFAULT
        _DEFAULTS[cls] = known
    return known


_PLAIN = (str, int, bool, type(None))


def canonical(value: Any) -> Any:
    """The hashed form of a value: JSON-able, with named fields and defaults left out.

    A dataclass becomes an object of its fields by name, leaving out every field
    equal to its default (so a release that adds a field with a default changes no
    hash, and reordering fields changes none either); enums become their values,
    tuples and lists lists, sets sorted lists, paths strings. Dicts keep their keys
    (JSON sorts them).
    """
    cls = type(value)
    if cls in _PLAIN:
        return value
    if cls is tuple or cls is list:
        return [canonical(v) for v in value]
    defaults = _defaults(cls)
    if defaults is not None:
        out = {}
        for name, default in defaults.items():
            item = getattr(value, name)
            if default is _NO_DEFAULT or item != default:
                out[name] = canonical(item)
        return out
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((canonical(v) for v in value), key=canonical_json)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)  # 1.0 and 1 hash alike: a spec may say either
    return value


def canonical_json(value: Any) -> str:
    """Sorted-keys compact JSON of :func:`canonical` (the text a spec hash is taken of)."""
    return json.dumps(canonical(value), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)


def value_digest(value: Any) -> str:
    """sha256 (32 hex chars) of the canonical form of ``value`` (hash scheme 2).

    Changing what this returns for an existing spec changes the hash label of every
    managed container; fields still decide (a hash alone never recreates), but the
    golden tests in ``tests/controller/test_hash_golden.py`` pin it on purpose.
    """
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()[:32]


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
    (``dwutil.dockerignore``), except ``dockerfile`` (relative to ``root``,
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
