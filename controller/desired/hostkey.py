"""The state folder and the per-host key that makes digests of secrets unguessable.

Role: labels can be read by anyone who can list containers, so a plain sha256
of a secret file (in ``io.dockwright.files``) or of a secret env value (inside
the spec hash) is an offline guessing oracle. :func:`keyed_digest` is an HMAC
with a random key kept on this host only (``<state folder>/hash-key``, created
0600 on first use, never printed). The state folder is the one the ledger
uses: ``$DOCKWRIGHT_STATE_DIR``, else ``/var/lib/dockwright`` as root, else
``$XDG_STATE_HOME/dockwright`` (``~/.local/state/dockwright``).
Neighbours: ``controller.desired.hashing`` and ``controller.desired.state`` take
keyed digests; ``controller.planning.ledger`` keeps its records in the same folder.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import os
import secrets
import threading
from pathlib import Path

KEY_FILE = "hash-key"
KEYED_PREFIX = "k1:"  # marks a keyed digest, so that an older unkeyed label is recognised
_KEY: dict[str, bytes] = {}
_LOCK = threading.Lock()


class HostKeyError(OSError):
    """The host key can neither be read nor created."""


def state_dir() -> Path:
    """dockwright's state folder on this host (see the module doc)."""
    base = os.environ.get("DOCKWRIGHT_STATE_DIR")
    if base:
        return Path(base)
    if os.geteuid() == 0:
        return Path("/var/lib/dockwright")
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "dockwright"


def host_key() -> bytes:
    """The host's digest key: read, or created (32 random bytes, mode 0600) on first use."""
    path = state_dir() / KEY_FILE
    with _LOCK:
        known = _KEY.get(str(path))
        if known is not None:
            return known
        key = _read_or_create(path)
        _KEY[str(path)] = key
        return key


def _read_or_create(path: Path) -> bytes:
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{KEY_FILE}-{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:  # a failed write (a full disk) leaves no half-written key behind
            try:
                data = secrets.token_bytes(32).hex().encode()
                if os.write(fd, data) != len(data):
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                os.fsync(fd)
            finally:
                os.close(fd)
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)  # never replaces a key another process created meanwhile
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        return _read(path)
    except OSError as exc:
        raise HostKeyError(
            f"cannot create the digest key {path}: {exc.strerror or exc}; make "
            f"{path.parent} writable or set DOCKWRIGHT_STATE_DIR to a writable folder") from exc


def _read(path: Path) -> bytes:
    try:
        key = bytes.fromhex(path.read_text().strip())
        if len(key) < 16:
            raise ValueError("shorter than 16 bytes")
        return key
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise HostKeyError(
            f"cannot read the digest key {path}: {exc}; if it is damaged, remove it (dockwright "
            "creates a new one; containers are then adopted again, not recreated)") from exc


def keyed_digest(data: bytes) -> str:
    """HMAC-SHA256 of ``data`` with the host key: ``k1:`` and 32 hex characters."""
    return KEYED_PREFIX + hmac.new(host_key(), data, hashlib.sha256).hexdigest()[:32]


def is_keyed(digest: str | None) -> bool:
    return bool(digest and digest.startswith(KEYED_PREFIX))
