"""Map the transports' exceptions (and the docker SDK's) onto ``runtime.errors``.

Role: the single boundary where foreign exceptions become dockwright's error
tree (principle 6), in the style of httpx/docker-py: one context manager,
:func:`mapped_errors`, wraps every Engine API call of the Docker driver and
re-raises a ``runtime.errors`` exception chained with ``from exc``: the
``Engine*`` errors both transports raise (``runtime.docker.transport``), and the
SDK's and requests' own (the SDK's client set-up for TCP/TLS daemons). Neighbours:
``runtime.docker.driver``, ``runtime.docker.images`` and
``runtime.docker.events`` use it; ``runtime.errors`` defines the targets.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from runtime.docker.transport import EngineError, EngineTimeout
from runtime.errors import (
    Conflict,
    ImageError,
    InvalidRequest,
    NotFound,
    RuntimeError_,
    StaleState,
    Transient,
    Unavailable,
)

if TYPE_CHECKING:
    import docker.errors

_SDK_LOCK = threading.Lock()


def import_sdk() -> None:
    """Import the docker SDK in one thread at a time. Its modules import each other, and
    first imports racing in several worker threads fail with "partially initialized
    module"; every lazy ``import docker...`` of this package calls this first."""
    with _SDK_LOCK:
        import docker  # noqa: F401


DAEMON_HINT = "is the Docker daemon running? start it with `dockerd` or `systemctl start docker`"
PERMISSION_HINT = "run as root or as a member of the `docker` group (access to the Docker socket)"
UNAVAILABLE_RETRY = 5.0

# containerd still has a task (or shim) of the container from before a daemon restart
_STALE_TASK = re.compile(r"\bid already in use\b|\btask \S+ already exists|"
                         r"\btask \S+: already exists")
_PORT_RES = (re.compile(r"Bind for (\S+) failed"), re.compile(r"listen \w+ (\S+?):? bind"))
# 500s that no retry will fix: the configuration itself is wrong.
_PERMANENT_500 = (
    "executable file not found",
    "no such file or directory",
    "permission denied",
    "invalid ",
    "starting container process caused",
    "oci runtime create failed",
    "is not a valid",
    "unable to find user",
    "no matching entries",
    "not a directory",
    "mount denied",
    "invalid mount config",
)


_OS_REASONS = ("No such file or directory", "Connection refused", "Permission denied",
               "Name or service not known", "Temporary failure in name resolution",
               "Network is unreachable", "No route to host", "Connection reset by peer")


def _unreachable(what: str, detail: str) -> Unavailable:
    """One clear line for a daemon that cannot be reached: where, why, and the fix."""
    reason = next((r for r in _OS_REASONS if r.lower() in detail.lower()), None)
    if reason is None:  # keep the last, most specific part of requests' nested message
        reason = detail.rsplit(": ", 1)[-1].strip(" ()'\"") or detail
    if "docker daemon" in what.lower():  # e.g. "connect to the Docker daemon at unix://..."
        message = f"cannot {what}: {reason}"
    else:
        message = f"{what}: cannot connect to the Docker daemon: {reason}"
    hint = PERMISSION_HINT if "permission denied" in detail.lower() else DAEMON_HINT
    if os.environ.get("DOCKER_HOST"):
        hint += ", or fix DOCKER_HOST"
    return Unavailable(message, retry_after=UNAVAILABLE_RETRY, hint=hint)


def _explanation(exc: docker.errors.APIError) -> str:
    text = exc.explanation
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text or exc).strip()


def _port_conflict(what: str, text: str) -> Conflict:
    port = "a published port"
    for pattern in _PORT_RES:
        match = pattern.search(text)
        if match:
            port = match.group(1)
            break
    return Conflict(
        f"{what}: host port {port} is already allocated ({text})",
        hint=f"free host port {port} (stop whatever publishes it) or publish another port",
    )


def map_api_error(what: str, exc: docker.errors.APIError) -> RuntimeError_:
    """The runtime error for one Docker API error response of the SDK."""
    import docker.errors

    return map_status(what, exc.status_code or 0, _explanation(exc),
                      isinstance(exc, docker.errors.NotFound))


def map_status(what: str, status: int, text: str, not_found: bool = False) -> RuntimeError_:
    """The runtime error for an error status and the daemon's message."""
    lowered = text.lower()
    if "port is already allocated" in lowered or "address already in use" in lowered:
        return _port_conflict(what, text)
    if _STALE_TASK.search(lowered):
        return StaleState(f"{what}: {text}", hint="the daemon kept a task of an earlier run of "
                          "this container (was it restarted?): remove the container and create "
                          "it again (dockwright does so on its next pass)")
    if "invalid container name" in lowered:
        return InvalidRequest(f"{what}: {text}", hint="Docker needs a container name of at "
                              "least 2 characters from [a-zA-Z0-9_.-], starting with a letter "
                              "or digit: rename the container")
    if status == 404 or not_found:
        return NotFound(f"{what}: {text}")
    if status == 409:
        return Conflict(f"{what}: {text}", hint="remove or rename the conflicting object")
    if "active endpoints" in lowered:
        return Transient(
            f"{what}: {text}", retry_after=5.0, hint="the daemon still holds endpoints; will retry"
        )
    if status in (400, 422) or (status == 500 and any(p in lowered for p in _PERMANENT_500)):
        return InvalidRequest(f"{what}: {text}", hint="fix the configuration the daemon rejected")
    if status == 403:
        return Conflict(f"{what}: {text}")
    if status in (502, 503, 504):
        return Transient(f"{what}: {text}", retry_after=2.0, hint=DAEMON_HINT)
    return Transient(f"{what}: {text}", retry_after=2.0)


@contextmanager
def mapped_errors(what: str) -> Iterator[None]:
    """Run an SDK or ``runtime.docker.http`` call; re-raise its failure as a
    ``runtime.errors`` exception.

    ``what`` names the operation and object ("create container web-1") and
    starts every message.
    """
    try:
        yield
    except RuntimeError_:
        raise
    except Exception as exc:
        mapped = _mapped(what, exc)
        if mapped is None:
            raise
        raise mapped from exc


def _mapped(what: str, exc: Exception) -> RuntimeError_ | None:
    """The runtime error for a foreign exception, None for one that is not ours to map.
    The SDK's exception types are looked at only when the SDK has been imported."""
    sdk: Any = sys.modules.get("docker.errors")
    requests: Any = sys.modules.get("requests.exceptions")
    if isinstance(exc, EngineError):
        return map_status(what, exc.status_code, exc.explanation)
    if sdk is not None and isinstance(exc, sdk.BuildError):
        return ImageError(f"{what}: {exc.msg}", hint="fix the Dockerfile or build context")
    if sdk is not None and isinstance(exc, sdk.APIError):
        return map_api_error(what, exc)
    if (isinstance(exc, EngineTimeout) and exc.connect) or (
            requests is not None and isinstance(exc, requests.ConnectTimeout)):
        return Unavailable(f"{what}: timed out connecting to the Docker daemon",
                           retry_after=UNAVAILABLE_RETRY, hint=DAEMON_HINT)
    if isinstance(exc, EngineTimeout) or (
            requests is not None and isinstance(exc, requests.Timeout)):
        return Transient(f"{what}: the Docker daemon did not answer in time ({exc})",
                         retry_after=2.0)
    if isinstance(exc, ConnectionError) or (
            requests is not None and isinstance(exc, requests.ConnectionError)):
        return _unreachable(what, str(exc))
    if sdk is not None and isinstance(exc, sdk.DockerException):
        text = str(exc)
        if "Error while fetching server API version" in text or "Connection" in text:
            return _unreachable(what, text)
        return InvalidRequest(f"{what}: {text}")
    return None
