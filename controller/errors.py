"""Controller errors and the one function that turns any error into a message.

Role: errors raised by the controller itself (bad input found at run time,
refused plans, lock held) and :func:`describe`, which the CLI uses to print
any exception with its hint and cause chain. Neighbours: ``runtime.errors``
(driver failures), ``controller.cli``.
"""

from __future__ import annotations


class ControllerError(Exception):
    """Base: a message plus a hint that says the fix."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message


class PlanRefused(ControllerError):
    """The plan breaks a safety rule (mass delete, foreign container)."""


class LockHeld(ControllerError):
    """Another controller owns this project."""


def describe(exc: BaseException) -> str:
    """One line: the error, then its hint after a dash.

    dockwright's own errors (controller and runtime) already carry what their
    cause said, so their chain is not repeated; a foreign exception gets its
    chain of causes appended.
    """
    message = getattr(exc, "message", None)
    if isinstance(message, str) and message:
        hint = getattr(exc, "hint", None)
        return f"{message} — {hint}" if hint else message
    text = str(exc) or type(exc).__name__
    cause = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    seen = 0
    while cause is not None and seen < 3:
        text += f" (caused by {type(cause).__name__}: {cause})"
        cause = cause.__cause__
        seen += 1
    return text
