"""Per-container root filesystems: one overlayfs mount, and mount-table helpers.

Role: mounts ``<container>/rootfs`` as overlayfs with the image's unpacked
layers (shared, read-only) as lowerdirs and ``upper``/``work`` in the
container dir, so the image is never modified. Mounting first checks
``/proc/self/mountinfo`` (a retried create must not stack a second mount);
unmounting loops until nothing is mounted there. ``mounts_under`` lets ``gc``
find mounts of containers whose records are gone. Uses mount(2)/umount2(2)
through libc (no fork). Neighbours: ``driver`` (create/remove), ``gc``,
``records.Layout`` (paths), ``images`` (layer dirs).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
from collections.abc import Sequence
from pathlib import Path

from runtime.errors import InvalidRequest, Transient

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
MNT_DETACH = 2
PAGE = os.sysconf("SC_PAGE_SIZE")


def _unescape(field: str) -> str:
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace(
        "\\134", "\\"
    )


def mount_points() -> list[str]:
    """Mount points of this mount namespace, in mount order."""
    with open("/proc/self/mountinfo") as f:
        return [_unescape(line.split()[4]) for line in f]


def is_mounted(path: Path) -> bool:
    return str(path) in mount_points()


def mounts_under(prefix: Path) -> list[str]:
    """Mount points at or below ``prefix`` (deepest first, ready to unmount)."""
    pre = str(prefix).rstrip("/") + "/"
    found = [m for m in mount_points() if m.startswith(pre)]
    return sorted(set(found), key=len, reverse=True)


def mount_overlay(layers: Sequence[Path], upper: Path, work: Path, target: Path) -> None:
    """Mount ``target`` as overlay of ``layers`` (bottom -> top) under ``upper``; idempotent."""
    if is_mounted(target):
        return
    if not layers:
        raise InvalidRequest("the image has no layers", hint="re-load or re-pull the image")
    for d in (upper, work, target):
        d.mkdir(parents=True, exist_ok=True)
    lower = ":".join(str(p) for p in reversed(layers))
    opts = f"lowerdir={lower},upperdir={upper},workdir={work},index=off"
    if len(opts) >= PAGE:
        raise InvalidRequest(
            f"the image has too many layers for one overlay mount ({len(layers)})",
            hint="flatten the image (docker export | docker import) and load it again",
        )
    if _libc.mount(b"overlay", str(target).encode(), b"overlay", 0, opts.encode()) != 0:
        err = ctypes.get_errno()
        if err == errno.EINVAL and "index=off" in opts:
            opts = opts.replace(",index=off", "")
            if _libc.mount(b"overlay", str(target).encode(), b"overlay", 0, opts.encode()) == 0:
                return
            err = ctypes.get_errno()
        raise Transient(
            f"cannot mount the root filesystem at {target}: {os.strerror(err)}",
            retry_after=2.0,
            hint="check that the kernel supports overlayfs and the layers exist",
        )


def unmount_all(target: Path, *, attempts: int = 20) -> None:
    """Unmount ``target`` and everything below it, repeatedly, until nothing is left."""
    for _ in range(attempts):
        points = mounts_under(target) + ([str(target)] if is_mounted(target) else [])
        if not points:
            return
        for point in points:
            if _libc.umount2(point.encode(), 0) != 0:
                err = ctypes.get_errno()
                if err in (errno.EBUSY,):
                    _libc.umount2(point.encode(), MNT_DETACH)
    raise Transient(f"{target} is still mounted after {attempts} attempts", retry_after=2.0)
