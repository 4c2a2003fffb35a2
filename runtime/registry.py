"""Pick a runtime driver by name.

Role: the only place that knows which module implements which runtime; it
imports a driver lazily so that ``dockwright validate`` never pays for the
Docker SDK or pyroute2. Neighbours: ``runtime.driver`` (the protocol); the
controller's CLI calls :func:`open_driver`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from runtime.driver import Driver
from runtime.errors import InvalidRequest

if TYPE_CHECKING:
    from runtime.swarm.driver import SwarmDriver

DRIVERS = {
    "docker": "runtime.docker.driver:DockerDriver",
    "native": "runtime.native.driver:NativeDriver",
}


def open_driver(name: str, **options: Any) -> Driver:
    """Instantiate the container driver called ``name`` (``docker`` or ``native``)."""
    target = DRIVERS.get(name)
    if name == "swarm":
        raise InvalidRequest(
            "this command does not work on the swarm runtime yet",
            hint="diff, apply, status, down, ps, logs, exec and watch do; use --runtime "
                 "docker or native for this one")
    if target is None:
        raise InvalidRequest(
            f"unknown runtime {name!r}", hint=f"use one of: {', '.join(sorted(DRIVERS))}"
        )
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidRequest(
            f"runtime {name!r} is not available: {exc}", hint="install dockwright's dependencies"
        ) from exc
    driver: Driver = getattr(module, attr)(**options)
    return driver


def open_swarm(base_url: str | None = None) -> SwarmDriver:
    """The Swarm runtime's driver (services, not containers: not a ``Driver``), reaching
    the manager at ``base_url``, else ``DOCKER_HOST``, else the local socket."""
    from runtime.swarm.driver import SwarmDriver

    return SwarmDriver(base_url)
