"""A free TCP port on 127.0.0.1 for tests that listen or publish.

Role: the one ``free_port`` the test suites share (registry, contract,
integration, native driver and watch tests). ``tests/native/net_helpers.py``
keeps its own, which asks on 0.0.0.0 (a port free on every address).
Neighbours: ``tests/registry.py``, the suites' ``conftest.py`` files.
"""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port nothing listens on at 127.0.0.1 right now (the kernel picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
