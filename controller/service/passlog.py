"""The log lines of one finished watch pass, read from its typed result.

Role: ``controller.service.loop.WatchService`` hands each
``controller.execution.result.PassResult`` here to log every action with its cause
(``action``, ``ok`` or not, with the failure's kind and retry hint), every drift it
corrected (``drift_corrected``), and one ``pass`` line: at debug for a no-op pass
that only background triggers caused (runtime events, resync, retries), at info
otherwise. Only the logging lives here; the backoff and crash-loop accounting stay
in the loop. Neighbours: ``controller.service.loop`` (caller),
``controller.execution.result`` (what it reads).
"""

from __future__ import annotations

import structlog

from controller.execution.result import PassResult, Trigger

log = structlog.get_logger("dockwright.watch")

# no-op passes these cause log at debug (background work, not something someone did)
QUIET_TRIGGERS = frozenset({Trigger.RUNTIME_EVENT, Trigger.RESYNC, Trigger.RETRY})


def log_actions(result: PassResult, project: str) -> None:
    """One ``action`` line per action the pass ran, and ``drift_corrected`` for drift."""
    rid = result.reconcile_id
    for outcome in result.acted:
        fields = dict(reconcile_id=rid, project=project, resource=outcome.resource,
                      name=outcome.action.name, object=outcome.action.object,
                      action=outcome.kind.value, cause=outcome.cause.value,
                      reason=outcome.action.reason,
                      changes=[c.field for c in outcome.changes],
                      duration=round(outcome.duration, 3), detail=outcome.detail)
        if outcome.failure is None:
            log.info("action", ok=True, **fields)
        else:
            log.warning("action", ok=False, error=outcome.failure.message,
                        error_kind=outcome.failure.kind.value,
                        retry_after=outcome.failure.retry_after, **fields)
        if outcome.drift:
            log.info("drift_corrected", reconcile_id=rid, project=project,
                     resource=outcome.resource, action=outcome.kind.value,
                     cause=outcome.cause.value, reason=outcome.action.reason)


def log_pass(result: PassResult, project: str, skip: frozenset[str]) -> None:
    """The ``pass`` line: one at most for a pass that changed nothing; none at info for
    the background ones."""
    quiet = not result.changed and not result.failures and result.triggers <= QUIET_TRIGGERS
    (log.debug if quiet else log.info)(
        "pass", reconcile_id=result.reconcile_id, project=project, changed=result.changed,
        actions=len(result.acted), failed=len(result.failures), skipped=sorted(skip),
        triggers=sorted(t.value for t in result.triggers), revision=result.revision,
        duration=round(result.duration, 4))
