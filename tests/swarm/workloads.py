"""Spec snippets and probes for the multi-node Swarm tests.

Role: TOML of the services the tests deploy (:func:`web`: busybox httpd that answers
``v<VERSION>`` with a healthcheck and a graceful stop; :func:`client`: a loop that
requests a service by its DNS name over the project's overlay network and prints
``OK <answer>`` or ``FAIL``; :func:`sleeper`), host ports unique within the session
(host-mode ports are per node and the cluster is shared by the session's tests),
and :func:`service_log` (a service's output read through the manager's API, not
through dockwright). Strings are written as JSON strings, which TOML reads the same.
The busybox image's ``wget -T`` crashes (static glibc): timeouts use ``timeout``.
Neighbours: ``tests/swarm/conftest.py``, the ``test_*.py`` files here.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

IMAGE = "dockwright-test/busybox:latest"
_PORTS = itertools.count(21000)

HTTPD = ("mkdir -p /www && echo v$VERSION > /www/index.html && "
         "trap 'sleep 1; exit 0' TERM; httpd -f -p 8080 -h /www & wait")
HEALTH = '{ test = ["CMD", "wget", "-q", "-O-", "http://127.0.0.1:8080/"], interval = "1s", ' \
         'retries = 3 }'


def host_port() -> int:
    """A host port no other test of this session publishes."""
    return next(_PORTS)


def _q(value: Any) -> str:
    return json.dumps(value)


def network(name: str) -> str:
    """A project network (an attachable overlay network on Swarm)."""
    return f"[network.{name}]\n\n"


def _nets(networks: tuple[str, ...]) -> list[str]:
    return [f"networks = {_q(list(networks))}"] if networks else []


def web(name: str, *, version: str = "1", replicas: int = 2, port: int | None = None,
        networks: tuple[str, ...] = (), extra: str = "") -> str:
    """An httpd service answering ``v<version>`` on 8080, dnsrr, healthy once it answers;
    ``port``: published in host mode on each node that runs a task."""
    lines = [f"[container.{name}]", f"image = {_q(IMAGE)}", f"command = {_q(['sh', '-c', HTTPD])}",
             f"env = {{ VERSION = {_q(version)} }}", f"replicas = {replicas}",
             'endpoint_mode = "dnsrr"', f"healthcheck = {HEALTH}", 'stop_timeout = "3s"',
             *_nets(networks)]
    if port is not None:
        lines.append(f'ports = [{{ host = {port}, container = 8080, mode = "host" }}]')
    return "\n".join(lines) + "\n" + extra + "\n"


def client(name: str, target: str, networks: tuple[str, ...] = ()) -> str:
    """A service that requests ``http://<target>:8080/`` ten times a second, forever."""
    loop = (f"while :; do r=$(timeout 3 wget -q -O- http://{target}:8080/ 2>&1) "
            "&& echo OK $r || echo FAIL $r; sleep 0.1; done")
    return "\n".join([f"[container.{name}]", f"image = {_q(IMAGE)}",
                      f"command = {_q(['sh', '-c', loop])}", 'endpoint_mode = "dnsrr"',
                      'stop_timeout = "1s"', *_nets(networks)]) + "\n\n"


def sleeper(name: str, *, replicas: int = 1, extra: str = "") -> str:
    """A service that runs until stopped (exits at once on SIGTERM)."""
    loop = "trap 'exit 0' TERM; while :; do sleep 1; done"
    return "\n".join([f"[container.{name}]", f"image = {_q(IMAGE)}",
                      f"command = {_q(['sh', '-c', loop])}", f"replicas = {replicas}",
                      'endpoint_mode = "dnsrr"', 'stop_timeout = "1s"']) + "\n" + extra + "\n"


def service_log(service: Any) -> list[str]:
    """The lines a service's tasks printed (stdout and stderr), in the API's order."""
    raw = b"".join(service.logs(stdout=True, stderr=True))
    return raw.decode(errors="replace").splitlines()
