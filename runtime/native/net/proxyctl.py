"""Client side of the port-proxy daemon (``proxy.py``): spawn, talk to, stop.

Role: one proxy daemon per state folder, reached on an abstract unix socket
named from the folder (``dockwright-proxy-<hash>``), recorded with its pid in
``<state_dir>/net/ports/daemon.json``. ``ProxyClient.add`` hands bound
listening sockets over with SCM_RIGHTS; a missing or dead daemon is started
on demand (about 50 ms once, off the per-container path afterwards).
Neighbours: ``proxy`` (the daemon), ``ports`` (the only caller), ``store``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from runtime.errors import Permanent, Transient
from runtime.native.net import store
from runtime.native.net.proxy import MARKER

PROXY = Path(__file__).with_name("proxy.py")
START_TIMEOUT = 10.0


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def daemon_pids() -> dict[int, str]:
    """Running proxy daemons on this host: pid -> control socket name."""
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            argv = cmdline(int(entry.name))
            if MARKER in argv[1:4] and len(argv) > argv.index(MARKER) + 1:
                out[int(entry.name)] = argv[argv.index(MARKER) + 1]
    return out


class ProxyClient:
    """The proxy daemon of one state folder (``root`` = ``<state_dir>/net/ports``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
        self.name = f"dockwright-proxy-{digest}"
        self._child: subprocess.Popen[bytes] | None = None
        self._lock = threading.RLock()
        self._depth = 0

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """Exclusive use of the daemon's lifecycle (threads and processes; reentrant)."""
        with self._lock:
            self._depth += 1
            try:
                if self._depth == 1:
                    with store.flock(self.root / ".daemon.lock"):
                        yield
                else:
                    yield
            finally:
                self._depth -= 1

    # requests ----------------------------------------------------------------
    def _send(self, req: dict[str, Any], fds: list[int]) -> dict[str, Any]:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.settimeout(10)
        try:
            conn.connect("\0" + self.name)
            socket.send_fds(conn, [json.dumps(req).encode()], fds)
            conn.shutdown(socket.SHUT_WR)
            data = b""
            while chunk := conn.recv(65536):
                data += chunk
        finally:
            conn.close()
        reply = json.loads(data or b"{}")
        if not isinstance(reply, dict) or not reply.get("ok"):
            raise Permanent(f"port proxy refused {req.get('op')}: {reply.get('error', reply)}",
                            hint="see the proxy log under <state_dir>/net/ports/proxy.log")
        return reply

    def request(self, req: dict[str, Any], fds: list[int] | None = None,
                *, start: bool = True) -> dict[str, Any] | None:
        """Send ``req``; start the daemon first when it is not running and ``start``.

        Returns None when the daemon is not running and ``start`` is False.
        """
        try:
            return self._send(req, fds or [])
        except (ConnectionRefusedError, ConnectionResetError, FileNotFoundError) as exc:
            # refused: no daemon; reset: a daemon in the middle of exiting
            if not start:
                return None
            self.start()
            try:
                return self._send(req, fds or [])
            except OSError as again:
                raise Transient(f"port proxy unreachable: {again}", retry_after=1.0) from exc
        except (OSError, ValueError) as exc:
            raise Transient(f"port proxy did not answer {req.get('op')}: {exc}",
                            retry_after=1.0) from exc

    def running(self) -> bool:
        return self.request({"op": "list"}, start=False) is not None

    def proxied(self) -> set[str]:
        """Container ids the daemon holds listeners for (empty when it is not running)."""
        reply = self.request({"op": "list"}, start=False)
        return set(reply.get("cids", [])) if reply else set()

    # lifecycle ------------------------------------------------------------------
    def starting(self) -> bool:
        """True while a daemon this process spawned is alive but not answering yet."""
        return self._child is not None and self._child.poll() is None and not self.running()

    def spawn(self) -> None:
        """Start the daemon unless one answers or is starting; does not wait for it."""
        with self.guard():
            if self.running() or self.starting():
                return
            self.root.mkdir(parents=True, exist_ok=True)
            with open(self.root / "proxy.log", "ab") as log:
                try:
                    proc = subprocess.Popen(
                        [sys.executable, "-S", str(PROXY), MARKER, self.name, str(self.root)],
                        stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                        start_new_session=True, cwd="/",
                    )
                except OSError as exc:
                    raise Permanent(f"cannot start the port proxy: {exc}",
                                    hint="check dockwright's Python interpreter") from exc
            self._child = proc
            store.write_json(self.root / "daemon.json", {"pid": proc.pid, "name": self.name})

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Wait until the daemon answers (it may have been started by another process)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._send({"op": "list"}, [])
                return
            except (ConnectionRefusedError, ConnectionResetError, FileNotFoundError) as exc:
                child_died = self._child is not None and self._child.poll() is not None
                if child_died or time.monotonic() > deadline:
                    raise Transient("the port proxy did not start", retry_after=1.0,
                                    hint=f"see {self.root / 'proxy.log'}") from exc
                time.sleep(0.005)

    def start(self) -> None:
        """Start the daemon if needed and wait until it answers."""
        self.spawn()
        self.wait_ready()

    def stop(self) -> None:
        """Stop the daemon of this state folder (and any stray copy of it)."""
        with self.guard():
            self._stop()

    def _stop(self) -> None:
        with contextlib.suppress(Transient, Permanent):
            self.request({"op": "exit"}, start=False)
        pids = {pid for pid, name in daemon_pids().items() if name == self.name}
        deadline = time.monotonic() + 5
        for pid in pids:
            while Path(f"/proc/{pid}").exists() and not _zombie(pid):
                if time.monotonic() > deadline:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                time.sleep(0.01)
        if self._child is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._child.wait(timeout=5)
            self._child = None
        store.remove(self.root / "daemon.json")

    def pid(self) -> int | None:
        """Pid of the running daemon of this state folder, if any."""
        return next((p for p, n in daemon_pids().items() if n == self.name), None)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except (OSError, IndexError):
        return True
