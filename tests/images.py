"""Test images, built locally (no registry is reachable from the tests).

Role: :func:`busybox_image` builds ``dockwright-test/busybox:latest`` FROM
scratch from Debian's static ``/bin/busybox`` (with ``busybox --install -s``),
:func:`volume_image` one FROM it with a ``VOLUME`` and :func:`defaults_image`
one with every container default an image can set, once per host,
idempotently and safely when several test processes (xdist workers, other
engineers' runs) ask at the same time: an exclusive file lock serialises the
check-then-build. :func:`save_image` writes a ``docker save``
archive, the form in which images reach drivers without a daemon
(``Driver.load_image``). Neighbours: ``tests/conftest.py`` (fixtures),
``tests/contract`` and ``tests/integration`` (users).
"""

from __future__ import annotations

import fcntl
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import docker
import docker.errors

BUSYBOX = "dockwright-test/busybox:latest"
BUSYBOX_BIN = Path("/bin/busybox")
LOCK = Path(tempfile.gettempdir()) / "dockwright-test-images.lock"
DOCKERFILE = (
    "FROM scratch\n"
    "COPY busybox /bin/busybox\n"
    'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
    'CMD ["sh"]\n'
)


def _api(client: Any) -> Any:
    """A low-level client from a DockerClient, an APIClient, or nothing."""
    if client is None:
        return docker.APIClient(version="auto", timeout=300)
    return getattr(client, "api", client)


@contextmanager
def _host_lock() -> Iterator[None]:
    with LOCK.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _present(api: Any, ref: str) -> bool:
    try:
        api.inspect_image(ref)
    except docker.errors.ImageNotFound:
        return False
    return True


def busybox_image(client: Any = None) -> str:
    """Make sure ``dockwright-test/busybox:latest`` exists; return that reference."""
    api = _api(client)
    if _present(api, BUSYBOX):
        return BUSYBOX
    with _host_lock():
        if _present(api, BUSYBOX):  # another process built it while we waited
            return BUSYBOX
        with tempfile.TemporaryDirectory(prefix="dwt-busybox-") as ctx:
            shutil.copy(BUSYBOX_BIN, Path(ctx) / "busybox")
            (Path(ctx) / "Dockerfile").write_text(DOCKERFILE)
            for chunk in api.build(path=ctx, tag=BUSYBOX, rm=True, forcerm=True, decode=True):
                if "error" in chunk:
                    raise RuntimeError(f"building {BUSYBOX} failed: {chunk['error']}")
    return BUSYBOX


VOLUME_IMAGE = "dockwright-test/busybox-volume:latest"
VOLUME_DOCKERFILE = (
    f"FROM {BUSYBOX}\n"
    'RUN ["sh", "-c", "mkdir -p /data && echo from-image > /data/seed"]\n'
    "VOLUME /data\n"
)


def volume_image(client: Any = None) -> str:
    """Make sure ``dockwright-test/busybox-volume:latest`` (the busybox test image with
    ``/data/seed`` and ``VOLUME /data``) exists; return that reference."""
    api = _api(client)
    busybox_image(api)
    if _present(api, VOLUME_IMAGE):
        return VOLUME_IMAGE
    with _host_lock():
        if _present(api, VOLUME_IMAGE):
            return VOLUME_IMAGE
        with tempfile.TemporaryDirectory(prefix="dwt-busybox-volume-") as ctx:
            (Path(ctx) / "Dockerfile").write_text(VOLUME_DOCKERFILE)
            for chunk in api.build(path=ctx, tag=VOLUME_IMAGE, rm=True, forcerm=True,
                                   decode=True):
                if "error" in chunk:
                    raise RuntimeError(f"building {VOLUME_IMAGE} failed: {chunk['error']}")
    return VOLUME_IMAGE


DEFAULTS_IMAGE = "dockwright-test/busybox-defaults:latest"
DEFAULTS_DOCKERFILE = (
    f"FROM {BUSYBOX}\n"
    "ENV A=1 B=2\n"
    "LABEL org.example.vendor=v org.example.tier=base\n"
    "WORKDIR /srv\n"
    "USER 65534\n"
    "STOPSIGNAL SIGUSR1\n"
    "HEALTHCHECK --interval=7s --retries=4 CMD true\n"
    'ENTRYPOINT ["/bin/sh", "-c"]\n'
    'CMD ["echo from-image"]\n'
)


def defaults_image(client: Any = None) -> str:
    """Make sure ``dockwright-test/busybox-defaults:latest`` (the busybox test image with
    every default an image can give a container: env, labels, workdir, user, stop
    signal, healthcheck, entrypoint and cmd) exists; return that reference."""
    api = _api(client)
    busybox_image(api)
    if _present(api, DEFAULTS_IMAGE):
        return DEFAULTS_IMAGE
    with _host_lock():
        if _present(api, DEFAULTS_IMAGE):
            return DEFAULTS_IMAGE
        with tempfile.TemporaryDirectory(prefix="dwt-busybox-defaults-") as ctx:
            (Path(ctx) / "Dockerfile").write_text(DEFAULTS_DOCKERFILE)
            for chunk in api.build(path=ctx, tag=DEFAULTS_IMAGE, rm=True, forcerm=True,
                                   decode=True):
                if "error" in chunk:
                    raise RuntimeError(f"building {DEFAULTS_IMAGE} failed: {chunk['error']}")
    return DEFAULTS_IMAGE


def save_image(ref: str, dest: Path, client: Any = None) -> Path:
    """Write ``docker save REF`` to ``dest`` (a tar archive)."""
    api = _api(client)
    tmp = dest.with_suffix(".part")
    with tmp.open("wb") as out:
        for chunk in api.get_image(ref):
            out.write(chunk)
    tmp.replace(dest)
    return dest
