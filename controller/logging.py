"""Structured logging setup (structlog).

Role: one function, :func:`setup`, called by the CLI: console rendering on a
TTY, JSON lines otherwise or with ``--log-format json``; logs go to stderr so
that stdout stays for command output (plans, JSON). Other modules log with
``structlog.get_logger("dockwright")`` and bind ``reconcile_id``, ``project``,
``resource`` and ``action``; :func:`emit` logs from code every command runs.
Neighbours: ``controller.cli`` /
``controller.commands.*`` (callers), ``controller.execution.reconcile`` (binds context).
"""

from __future__ import annotations

import logging
import sys
from typing import Any


def setup(log_format: str | None = None, *, verbose: bool = False) -> None:
    """Configure structlog for this process (idempotent)."""
    import structlog

    fmt = log_format or ("console" if sys.stderr.isatty() else "json")
    renderer: Any = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()) \
        if fmt == "console" else structlog.processors.JSONRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.DEBUG if verbose else logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def emit(level: str, event: str, **fields: Any) -> None:
    """Log one structured event from code that runs in every command (the executor), only
    when this process configured structlog (the watch service, ``--log-format``/``-v``, a
    test's capture): a one-shot command that did not ask for logs prints its own lines."""
    structlog = sys.modules.get("structlog")
    if structlog is None or not structlog.is_configured():
        return
    getattr(structlog.get_logger("dockwright"), level)(event, **fields)


def get_logger(**context: Any) -> Any:
    """A structlog logger bound to ``context`` (reconcile_id, project, ...)."""
    import structlog

    return structlog.get_logger("dockwright").bind(**context)
