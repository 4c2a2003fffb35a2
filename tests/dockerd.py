"""A private Docker daemon for tests that must not share the host's daemon.

Role: start a ``dockerd`` with its own socket, data root, exec root and
containerd, inside its own network namespace (``unshare --net``; loopback
up), so a test can stop and restart it, or run examples that use fixed
container names and host ports, without touching the shared daemon or the
host's network. (A ``dockerd --bridge none`` in the host's namespace would
even delete the host's docker0: moby's removeDefaultBridgeInterface.)
``tcp_port`` also makes it listen on ``127.0.0.1:<port>`` (plain TCP) in its
namespace; :meth:`PrivateDockerd.tcp_url` relays a host loopback port to it.
Neighbours: ``tests/watch/test_runtime_restart.py``,
``tests/test_examples_e2e.py``, ``tests/docker/test_tcp_endpoint.py``.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

import docker

from tests.conftest import wait_for


class PrivateDockerd:
    """``start()``, ``stop()``, ``kill()``, ``client()``; ``url`` is its ``DOCKER_HOST``.
    ``extra``: more ``dockerd`` arguments (e.g. ``--add-runtime``)."""

    def __init__(self, base: Path | None = None, extra: tuple[str, ...] = (),
                 tcp_port: int | None = None) -> None:
        self.base = base or Path(tempfile.mkdtemp(prefix=f"dwt-{uuid.uuid4().hex[:6]}-",
                                                  dir="/tmp"))
        self.extra = extra + (("--host", f"tcp://127.0.0.1:{tcp_port}") if tcp_port else ())
        self.tcp_port = tcp_port
        self.sock = self.base / "docker.sock"
        self.url = f"unix://{self.sock}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.base / "dockerd.log").open("ab")
        dockerd = ["dockerd", "--host", self.url,
                   "--data-root", str(self.base / "data"), "--exec-root", str(self.base / "exec"),
                   "--pidfile", str(self.base / "pid"),
                   "--bridge", "none", "--iptables=false", "--ip-masq=false",
                   "--shutdown-timeout", "2", *self.extra]  # fmt: skip
        self.proc = subprocess.Popen(
            ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh",
             *dockerd],
            stdout=log, stderr=log)
        wait_for(self._ping, "private dockerd up", timeout=60, step=0.2)

    def _ping(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"private dockerd exited: see {self.base / 'dockerd.log'}")
        try:
            client = docker.DockerClient(base_url=self.url, timeout=5)
        except Exception:  # no socket yet
            return False
        try:
            return bool(client.ping())
        except Exception:
            return False
        finally:
            client.close()

    def client(self) -> Any:
        return docker.DockerClient(base_url=self.url, timeout=30)

    def in_netns(self, argv: list[str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in the daemon's network namespace (where its ports are published)."""
        assert self.proc is not None
        return subprocess.run(["nsenter", f"--net=/proc/{self.proc.pid}/ns/net", *argv],
                              capture_output=True, text=True, timeout=timeout, check=False)

    def http_get(self, url: str) -> str:
        """GET ``url`` from inside the daemon's network namespace ("" when it fails)."""
        code = ("import sys, urllib.request; "
                "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())")
        return self.in_netns([sys.executable, "-c", code, url]).stdout

    def tcp_url(self) -> str:
        """``tcp://127.0.0.1:PORT`` on the host's loopback, relayed to the daemon's TCP
        listener in its namespace (each relayed connection is made from a thread that
        entered that namespace)."""
        assert self.proc is not None and self.tcp_port
        listener = socket.create_server(("127.0.0.1", 0))
        netns = f"/proc/{self.proc.pid}/ns/net"
        threading.Thread(target=_relay_accept, args=(listener, netns, self.tcp_port),
                         daemon=True).start()
        return f"tcp://127.0.0.1:{listener.getsockname()[1]}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL the daemon and its containerd, as a crash or an OOM kill would (container
        shims stay): no shutdown; the pid file it leaves is removed so that :meth:`start`
        works again."""
        managed = self.base / "exec" / "containerd" / "containerd.pid"
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(30)
        self.proc = None
        (self.base / "pid").unlink(missing_ok=True)
        with contextlib.suppress(OSError, ValueError):  # its containerd dies with it: now
            os.kill(int(managed.read_text()), signal.SIGKILL)
        # a restarted dockerd would wait for a containerd of that pid (an unreaped zombie
        # looks alive) instead of starting its own
        managed.unlink(missing_ok=True)

    def strays(self) -> list[int]:
        """Processes still serving this daemon's containers once it is gone (shims outlive a
        killed daemon), each after its children (the containers' first processes)."""
        mine = str(self.base).encode()
        parents: dict[int, int] = {}
        shims = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
                if mine in (entry / "cmdline").read_bytes():
                    shims.append(int(entry.name))
        return [pid for shim in shims
                for pid in [*(p for p, pp in parents.items() if pp == shim), shim]]

    def destroy(self) -> None:
        """Remove every container, stop the daemon and delete its folders."""
        if self.proc is not None:
            with contextlib.suppress(Exception):
                client = self.client()
                for c in client.containers.list(all=True, ignore_removed=True):
                    c.remove(force=True)
                client.close()
        self.stop()
        for pid in self.strays():  # shims of a killed daemon: their ids, found by our folder
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        for mount in (self.base / "data", self.base):  # dockerd bind-mounts its data root
            subprocess.run(["umount", "-R", str(mount)], capture_output=True, check=False)
        shutil.rmtree(self.base, ignore_errors=True)


def _relay_accept(listener: socket.socket, netns: str, port: int) -> None:
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=_relay, args=(client, netns, port), daemon=True).start()


def _relay(client: socket.socket, netns: str, port: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    with open(netns, "rb") as ns:  # this thread only: a network namespace is per task
        if libc.setns(ns.fileno(), 0x40000000) != 0:  # CLONE_NEWNET
            client.close()
            raise OSError(ctypes.get_errno(), "setns into the private dockerd's namespace")
    upstream = socket.create_connection(("127.0.0.1", port), timeout=30)
    upstream.settimeout(None)

    def pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    back = threading.Thread(target=pump, args=(upstream, client), daemon=True)
    back.start()
    pump(client, upstream)
    back.join()
    client.close()
    upstream.close()
