"""Runtime error tree: every driver failure is one of these.

Role: drivers map foreign exceptions (docker SDK, OSError, subprocess,
netlink) onto this small tree at their boundary, chained with ``from exc``,
so that the controller can decide what to do without knowing the runtime.
Only the controller's loop retries (``Transient.retry_after``); only the CLI
turns errors into messages and exit codes. Neighbours: ``runtime.driver``,
every driver module.
"""

from __future__ import annotations


class RuntimeError_(Exception):  # trailing _: does not shadow the builtin RuntimeError
    """Base of all runtime errors. ``hint`` says what the user can do."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class Transient(RuntimeError_):
    """Worth retrying later: daemon unreachable, timeouts, busy resources."""

    def __init__(self, message: str, *, retry_after: float = 1.0, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class Unavailable(Transient):
    """The runtime itself cannot be reached (daemon down, socket missing)."""


class Permanent(RuntimeError_):
    """Retrying the same request will not help until something changes."""


class NotFound(Permanent):
    """The object (container, image, volume, network) does not exist."""


class Conflict(Permanent):
    """A name or port is taken, or the object is in a state that refuses the call."""


class StaleState(Conflict):
    """The runtime still holds state of an earlier run of the container (a Docker daemon
    killed during a start leaves its task behind): starting it fails until the container
    is removed and created again."""


class InvalidRequest(Permanent):
    """The runtime rejected the configuration (bad value, unsupported option)."""


class ImageError(Permanent):
    """An image could not be pulled, built or loaded."""
