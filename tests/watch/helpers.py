"""Helpers for the watch tests: run the real service as a subprocess, capture
its JSON log events, talk to its HTTP endpoint, parse Prometheus text.

Neighbours: ``controller.commands.watch`` (what runs), ``tests/conftest.py``
(``project_name`` cleanup, ``wait_for``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "dockwright-test/busybox:latest"
LOOP_CMD = "[\"sh\", \"-c\", \"trap 'exit 0' TERM; while :; do sleep 1; done\"]"

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_prometheus(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Samples of a Prometheus text exposition; raises on a malformed line."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            if line.startswith("#") and not re.match(r"^# (HELP|TYPE) \w+ ", line):
                raise ValueError(f"bad comment line {line!r}")
            continue
        match = _SAMPLE.match(line)
        if not match:
            raise ValueError(f"bad sample line {line!r}")
        labels = tuple(sorted(_LABEL.findall(match.group(3) or "")))
        out[(match.group(1), labels)] = float(match.group(4))
    return out


def get(client: Any, name: str) -> Any:
    """The container called ``name``, or None (e.g. between a remove and a create)."""
    try:
        return client.containers.get(name)
    except Exception:
        return None


def container_toml(name: str, *, env: dict[str, str] | None = None, extra: str = "",
                   command: str = LOOP_CMD) -> str:
    text = f'[container.{name}]\nimage = "{IMAGE}"\ncommand = {command}\nstop_timeout = "1s"\n'
    if env:
        text += "env = {" + ", ".join(f'{k} = "{v}"' for k, v in env.items()) + "}\n"
    return text + extra


class Service:
    """``dockwright watch`` as a subprocess with captured JSON log events."""

    def __init__(self, args: list[str], *, env: dict[str, str] | None = None,
                 port: int | None = None) -> None:
        self.port = port
        full_env = dict(os.environ)
        full_env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(ROOT), full_env.get("PYTHONPATH")]))
        full_env.pop("DOCKWRIGHT_RUNTIME", None)
        full_env.update(env or {})
        self.args = args
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "controller.cli", "--log-format", "json", *args],
            cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.events: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._read, args=(s,), daemon=True)
                         for s in (self.proc.stdout, self.proc.stderr)]
        for t in self._threads:
            t.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            with self._lock:
                self.raw.append(line)
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if isinstance(event, dict):
                    self.events.append(event)

    def logged(self, event: str, **fields: Any) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self.events if e.get("event") == event
                    and all(e.get(k) == v for k, v in fields.items())]

    def wait_event(self, event: str, timeout: float = 30.0, since: int = 0,
                   pred: Callable[[dict[str, Any]], bool] | None = None,
                   **fields: Any) -> dict[str, Any]:
        """The first ``event`` (after the first ``since`` of that name) matching ``fields``."""
        def find() -> list[dict[str, Any]]:
            return [e for e in self.logged(event)[since:]
                    if all(e.get(k) == v for k, v in fields.items())
                    and (pred is None or pred(e))]

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = find()
            if found:
                return found[0]
            if self.proc.poll() is not None:
                time.sleep(0.3)  # let the readers drain the pipes
                found = find()
                if found:
                    return found[0]
                raise AssertionError(f"service exited ({self.proc.returncode}) before "
                                     f"{event}:\n{self.output()}")
            time.sleep(0.05)
        raise AssertionError(f"no {event} {fields} within {timeout}s:\n{self.output()}")

    def count(self, event: str, **fields: Any) -> int:
        return len(self.logged(event, **fields))

    def output(self, last: int | None = 80) -> str:
        """The last ``last`` lines it printed (None: all of them)."""
        with self._lock:
            return "".join(self.raw[-last:] if last else self.raw)

    def http(self, path: str, *, method: str = "GET", timeout: float = 10.0) -> tuple[int, str]:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method,
                                     data=b"" if method == "POST" else None)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def json(self, path: str) -> Any:
        return json.loads(self.http(path)[1])

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"service exited ({self.proc.returncode}):\n{self.output()}")
            try:
                if self.http("/readyz", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"service not ready within {timeout}s:\n{self.output()}")

    def terminate(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for t in self._threads:
            t.join(2)
