"""A per-file cache of validated load results, so that a no-op run skips validation.

Role: ``specs.loader`` asks :func:`lookup` before parsing and validating one
spec file and hands the outcome to :func:`store` after. An entry is keyed by
the sha256 of the file's bytes, its path, and a fingerprint of the code that
produced it (the ``specs`` sources, pydantic and Python versions); it holds
the per-file outcome (resources, salvaged tables, declared names, errors,
``[project]``) plus what that outcome depended on outside the file: the value
of every variable the interpolation looked up (environment and ``.env``) and
every path the models resolved against the file system. A hit is used only
when all of those are unchanged. Cross-file checks and digests of referenced
files are never cached: the loader and the controller compute them each run.

Location: ``$DOCKWRIGHT_CACHE_DIR/specs``, else ``$XDG_CACHE_HOME/dockwright/specs``,
else ``~/.cache/dockwright/specs``; ``DOCKWRIGHT_NO_CACHE=1`` disables it.
Entries are pickles written atomically (folder mode 0700; an entry owned by
another user is never loaded); any error reading one is a miss, any error
writing one is ignored. Neighbours: ``specs.loader`` (per-file results; the controller's
recipe snapshots reuse :func:`lookup` / :func:`store` in a sibling folder),
``specs.models`` and ``specs.filerefs`` (resolve paths with :func:`resolve_field`, recorded
in ``RESOLVED``).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# (base_dir, value, result) of every path the models resolve while this list is set
# (``specs.models``): the results depend on the file system and $HOME, so a hit
# re-checks them.
RESOLVED: ContextVar[list[tuple[str, str, str]] | None] = ContextVar("RESOLVED", default=None)

_MAX_ENTRIES = 2000  # beyond this, a store removes the least recently used half
_fingerprint: str | None = None


class Recorder(Mapping[str, str]):
    """The variables mapping, remembering every name looked up and what it gave."""

    def __init__(self, variables: Mapping[str, str]) -> None:
        self._variables = variables
        self.used: dict[str, str | None] = {}

    def __getitem__(self, name: str) -> str:
        self.used[name] = self._variables.get(name)
        return self._variables[name]

    def get(self, name: str, default: Any = None) -> Any:
        value = self._variables.get(name)
        self.used[name] = value
        return default if value is None else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._variables)

    def __len__(self) -> int:
        return len(self._variables)


@dataclass(frozen=True)
class Entry:
    """One cached file outcome and the outside facts it depends on."""

    variables: tuple[tuple[str, str | None], ...]
    resolved: tuple[tuple[str, str, str], ...]  # (base_dir, value, result)
    outcome: Any  # specs.loader's tuple of per-file results

    def still_valid(self, variables: Mapping[str, str]) -> bool:
        if any(variables.get(name) != value for name, value in self.variables):
            return False
        return all(resolve_path(value, base) == result for base, value, result in self.resolved)


def resolve_path(value: str, base_dir: str) -> str:
    """A path of a spec, made absolute against the declaring file's folder."""
    path = Path(value).expanduser()
    if not path.is_absolute():
        return str((Path(base_dir) / path).resolve())
    return str(path) if value.startswith("~") else value


def resolve_field(value: object, info: Any) -> object:
    """A model validator (``BeforeValidator``): a string path resolved with
    :func:`resolve_path` against the validation context's ``base_dir`` (the declaring
    file's folder), and recorded in ``RESOLVED`` while that is set."""
    if isinstance(value, str) and info.context and "base_dir" in info.context:
        base_dir = str(info.context["base_dir"])
        result = resolve_path(value, base_dir)
        record = RESOLVED.get()
        if record is not None:
            record.append((base_dir, value, result))
        return result
    return value


def cache_dir() -> Path | None:
    """Where entries live; None when caching is disabled."""
    if os.environ.get("DOCKWRIGHT_NO_CACHE", "") not in ("", "0"):
        return None
    if override := os.environ.get("DOCKWRIGHT_CACHE_DIR"):
        return Path(override) / "specs"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dockwright" / "specs"


def code_digest(sources: Iterable[Path]) -> str:
    """Digest of the Python version, the installed pydantic (its ``version.py``, found
    without importing it) and the given source files: what a cached result was made by."""
    digest = hashlib.sha256(sys.version.encode())
    spec = importlib.util.find_spec("pydantic")
    extra = [Path(spec.origin).parent / "version.py"] if spec and spec.origin else []
    for source in [*extra, *sources]:
        digest.update(f"\0{source.name}\0".encode())
        try:
            digest.update(source.read_bytes())
        except OSError:
            digest.update(b"missing")
    return digest.hexdigest()


def spec_sources() -> list[Path]:
    """Every module of the ``specs`` package."""
    return sorted(Path(__file__).resolve().parent.glob("*.py"))


def fingerprint() -> str:
    """Digest of the code whose output is cached (changes with any edit or upgrade)."""
    global _fingerprint
    if _fingerprint is None:
        _fingerprint = code_digest(spec_sources())
    return _fingerprint


def key(raw: bytes, path: Path, rel: str) -> str:
    """The entry name for a file's bytes at a path (absolute and relative)."""
    digest = hashlib.sha256(fingerprint().encode())
    digest.update(f"\0{os.path.abspath(path)}\0{rel}\0".encode())
    digest.update(raw)
    return digest.hexdigest()


# entries this process read, by path: (inode, size, mtime) of the file, the entry. A
# service (``watch``) reads the same snapshot each pass: it gets the same objects back
# without unpickling, so that what is derived from them can be kept too
# (``controller.desired.service.services``).
_LOADED: dict[str, tuple[tuple[int, int, int], Entry]] = {}
_LOADED_MAX = 64


def lookup(folder: Path | None, name: str, variables: Mapping[str, str], *,
           keep: bool = False) -> Entry | None:
    """The cached entry, or None (missing, unreadable, corrupt or stale). ``keep`` (for
    outcomes of frozen values only: they are shared): an entry this process read already,
    from a file unchanged since, is the same object (still checked against ``variables``
    and the resolved paths)."""
    if folder is None:
        return None
    import pickle

    path = str(folder / name)
    try:
        held = _LOADED.get(path) if keep else None
        if held is not None:  # read by this process: the same entry while the file is
            stat = os.stat(path)  # the same (written atomically: a new one is a new inode)
            if (stat.st_ino, stat.st_size, stat.st_mtime_ns) == held[0]:
                return held[1] if held[1].still_valid(variables) else None
        with open(path, "rb") as handle:
            if os.fstat(handle.fileno()).st_uid != os.geteuid():
                return None  # a pickle someone else wrote is never loaded
            entry = pickle.load(handle)
        if not isinstance(entry, Entry) or not entry.still_valid(variables):
            return None
        os.utime(path)  # recently used: kept by the trimming in store()
        if not keep:
            return entry
        stat = os.stat(path)
        if len(_LOADED) >= _LOADED_MAX:
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[path] = ((stat.st_ino, stat.st_size, stat.st_mtime_ns), entry)
    except Exception:  # a corrupt or foreign entry is a miss
        return None
    return entry


def store(folder: Path | None, name: str, used: Mapping[str, str | None],
          resolved: list[tuple[str, str, str]], outcome: Any) -> None:
    """Write an entry atomically (``dwutil.atomic``); failures are ignored."""
    if folder is None:
        return
    import pickle

    from dwutil.atomic import write_atomic

    entry = Entry(tuple(sorted(used.items())), tuple(resolved), outcome)
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomic(folder / name, pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL),
                     mode=0o600)
        _trim(folder)
    except Exception:  # a read-only or full disk only costs speed
        return


def _trim(folder: Path) -> None:
    """Keep the cache bounded: drop the least recently used half beyond the limit."""
    with os.scandir(folder) as entries:
        files = [e for e in entries if e.is_file() and not e.name.startswith(".")]
    if len(files) <= _MAX_ENTRIES:
        return
    files.sort(key=lambda e: e.stat().st_mtime)
    for entry in files[: len(files) // 2]:
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
