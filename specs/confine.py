"""Where a spec may read the host: the paths a spec refers to, confined.

Role: the rules that keep a spec from reading the controller's host. Files read
on the spec's behalf (``env_file``, ``{ file = ... }`` secrets, build contexts
and their Dockerfile, image archives) must lie inside the spec directory (in
``watch --git``: the git checkout, ``.git`` excluded) or inside a folder of
``[project] allow_host_paths``; symlinks are resolved first, so a link inside
the directory that points out is caught too. Bind mounts of the host's
sensitive places (``/``, ``/etc``, ``/proc``, the Docker socket ...) need the
allow-list in git mode and are warned about otherwise; other bind mounts are left
as they are. :class:`Bounds` is encoded as a ``specs.files.present`` kind, so the
controller's snapshot asks the same question again on each run, and
:func:`read_confined` checks the file actually opened (no window for a swapped
link) when the controller reads it. Neighbours: ``specs.validate`` (calls
:func:`check`), ``specs.files`` (``present``), ``controller.desired.state`` (reads
through :func:`read_confined`). Pure apart from resolving paths.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from specs.locate import KeyPath

# Host places a container must not get by accident: the host's configuration, kernel
# interfaces, devices, the runtime's data and its API (which is root on the host).
SENSITIVE = ("/etc", "/proc", "/sys", "/dev", "/boot", "/root", "/var/lib/docker",
             "/var/lib/containerd", "/var/lib/dockwright", "/run/containerd", "/run/docker",
             "/run/docker.sock", "/var/run/docker.sock", "/var/run/docker")
_TOPS = frozenset("/" + p.split("/", 2)[1] for p in SENSITIVE)  # /etc, /var, /run ...
_PREFIX = "confined:"


def within(path: str, folder: str) -> bool:
    """``path`` is ``folder`` or below it (both absolute and normalised)."""
    return path == folder or path.startswith(folder.rstrip("/") + "/")


@dataclass(frozen=True)
class Bounds:
    """The places a spec may read: its root (spec directory or checkout) and allowed folders."""

    root: str  # resolved
    allowed: tuple[str, ...] = ()  # resolved [project] allow_host_paths
    git: bool = False  # watch --git: sensitive bind mounts are errors; .git is out

    @classmethod
    def of(cls, root: str, allowed: Sequence[str] = (), git: bool = False) -> Bounds:
        return cls(os.path.realpath(root), tuple(os.path.realpath(a) for a in allowed), git)

    @property
    def where(self) -> str:
        return "the git checkout" if self.git else "the spec directory"

    def allows_host(self, real: str) -> bool:
        return any(within(real, a) for a in self.allowed)

    def inside(self, path: str) -> bool:
        """Whether the file ``path`` (its link target) may be read."""
        return self.inside_real(os.path.realpath(path))

    def inside_real(self, real: str) -> bool:
        """:meth:`inside` for a path already resolved."""
        if self.allows_host(real):
            return True
        if self.git and within(real, os.path.join(self.root, ".git")):
            return False  # the controller's clone: its config may hold credentials
        return within(real, self.root)

    def kind(self) -> str:
        """This as a ``specs.files.present`` kind (recorded for the snapshot)."""
        return _PREFIX + "\0".join((str(int(self.git)), self.root, *self.allowed))

    @classmethod
    def from_kind(cls, kind: str) -> Bounds | None:
        if not kind.startswith(_PREFIX):
            return None
        git, root, *allowed = kind[len(_PREFIX):].split("\0")
        return cls(root, tuple(allowed), git == "1")


def sensitive(real: str) -> str | None:
    """The sensitive host place a bind mount of the resolved path ``real`` exposes (``/``
    and the folders holding one count too: ``/var`` holds ``/var/lib/docker``), or None."""
    if real == "/":
        return "/"
    if "/" + real.split("/", 2)[1] not in _TOPS:  # most paths: one set lookup
        return None
    for place in SENSITIVE:
        if within(real, place) or within(place, real):
            return place
    return None


def read_confined(path: str, bounds: Bounds) -> bytes:
    """The bytes of ``path`` if the file actually opened lies within ``bounds``; else
    ``PermissionError`` naming where it leads."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        real = os.readlink(f"/proc/self/fd/{fd}")
        if not bounds.inside(real):
            raise PermissionError(f"{path} leads to {real}, outside {bounds.where} (add its "
                                  "folder to [project] allow_host_paths to allow it)")
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


Add = Callable[[KeyPath, str, str], None]


@dataclass(frozen=True)
class PathRef:
    """One host path a container's spec refers to, and what for."""

    path: KeyPath  # key path below [container.NAME]
    what: str  # "secret file", "env file", ...
    value: str  # resolved path


def check_reads(refs: Sequence[PathRef], bounds: Bounds, present: Callable[[str, str], bool],
                shown: Callable[[str], str], error: Add) -> None:
    """An error for every file read on the spec's behalf that leaves ``bounds``."""
    for ref in refs:
        if present(bounds.kind(), ref.value):
            continue
        real = os.path.realpath(ref.value)
        target = "" if shown(ref.value) == real else f" (it leads to {real})"
        folder = real if ref.what == "build context" else os.path.dirname(real)
        error(ref.path, f"{ref.what} {shown(ref.value)!r} is outside {bounds.where}{target}",
              f"keep it inside {bounds.where}, or allow the host folder with [project] "
              f"allow_host_paths = [\"{folder}\"]")


def check_binds(binds: Sequence[tuple[KeyPath, str]], bounds: Bounds,
                error: Add, warning: Add) -> None:
    """Bind mounts of sensitive host places: errors in git mode, warnings otherwise,
    unless ``[project] allow_host_paths`` names them."""
    # the spec's own files, unless the spec directory holds a sensitive place itself
    own = bounds.root != "/" and not any(within(p, bounds.root) for p in SENSITIVE)
    for path, source in binds:
        real = os.path.realpath(source)
        if own and within(real, bounds.root):
            continue  # e.g. specs kept in /etc/dockwright bind-mount their ./conf
        place = sensitive(real)
        if place is None or bounds.allows_host(real):
            continue
        shown = source if real == source else f"{source} (it leads to {real})"
        fix = f"list it in [project] allow_host_paths = [\"{real}\"] if this container needs it"
        if bounds.git:
            error(path, f"bind mount of {shown} exposes the host's {place} to the container, "
                  "and a commit to the watched repository may not do that", fix)
        else:
            warning(path, f"bind mount of {shown} exposes the host's {place} to the "
                    "container", fix + " (in watch --git this is an error)")
