"""The watch service's Prometheus metrics, on ``prometheus_client``.

Role: one ``CollectorRegistry`` per :class:`WatchMetrics` (so two services in one
process, as in the in-process tests, never share counts), with the metric names
dashboards already use (``dockwright_passes_total``, ``dockwright_drift_corrections_total``
...). Values computed at scrape time (queue depth, backoffs, crash loops, containers
by state) come from callbacks. :meth:`WatchMetrics.record` turns one typed
``controller.execution.result.PassResult`` into counts: nothing here reads a message.
Neighbours: ``controller.service.loop`` owns one and calls :meth:`~WatchMetrics.record`;
``controller.service.httpd`` serves :meth:`~WatchMetrics.exposition` on ``GET /metrics``.
Only the watch service imports this module (one-shot commands never load
``prometheus_client``: ``tests/docker/test_lean_imports.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import disable_created_metrics as _no_created
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from controller.execution.result import PassResult

_no_created()  # type: ignore[no-untyped-call]  # no *_created series: the exposition stays what dashboards were built on

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
StateCounts = Callable[[], Iterable[tuple[str, float]]]  # (state, number of containers)


class _ByState(Collector):
    """``dockwright_resources{state=...}``, counted at scrape time by a callback."""

    def __init__(self) -> None:
        self.source: StateCounts | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("dockwright_resources", "Container resources by state.",
                                   labels=["state"])
        for state, count in (self.source() if self.source is not None else ()):
            family.add_metric([state], count)
        yield family


class WatchMetrics:
    """The metrics of one watch service, in their own registry."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        p = "dockwright_"
        self.passes = Counter(p + "passes_total", "Reconcile passes by result.", ["result"],
                              registry=r)
        self.pass_duration = Histogram(p + "pass_duration_seconds", "Duration of a pass.",
                                       buckets=BUCKETS, registry=r)
        self.actions = Counter(p + "actions_total", "Actions executed, by kind and result.",
                               ["kind", "result"], registry=r)
        self.changes = Counter(p + "changes_total", "Actions that changed something, by cause.",
                               ["cause"], registry=r)
        self.errors = Counter(p + "errors_total", "Errors by kind.", ["kind"], registry=r)
        self.drift = Counter(p + "drift_corrections_total",
                             "Containers put back as declared without a spec change.", registry=r)
        self.triggers = Counter(p + "triggers_total", "Enqueue requests by source.", ["source"],
                                registry=r)
        self.queue_depth = Gauge(p + "queue_depth", "Keys waiting in the work queue.",
                                 registry=r)
        self.backoffs = Gauge(p + "backoffs", "Resources in backoff.", registry=r)
        self.crash_loops = Gauge(p + "crash_loops", "Containers detected as crash-looping.",
                                 registry=r)
        self.ready = Gauge(p + "ready", "1 after the first successful pass while the runtime "
                           "answers.", registry=r)
        self.last_success = Gauge(p + "last_success_timestamp_seconds",
                                  "Unix time of the last successful pass.", registry=r)
        self._by_state = _ByState()
        r.register(self._by_state)

    def count_resources(self, source: StateCounts) -> None:
        """Count containers by state at scrape time with ``source()``."""
        self._by_state.source = source

    def record(self, result: PassResult) -> None:
        """Count one pass: its actions by kind, result and cause, drift, errors, duration."""
        for outcome in result.acted:
            self.actions.labels(kind=outcome.kind.value,
                                result="ok" if outcome.ok else "error").inc()
            if outcome.changed:
                self.changes.labels(cause=outcome.cause.value).inc()
            if outcome.drift:
                self.drift.inc()
        if result.failures:
            self.errors.labels(kind="action").inc(len(result.failures))
        verdict = "error" if result.failures else ("changed" if result.changed else "noop")
        self.passes.labels(result=verdict).inc()
        self.pass_duration.observe(result.duration)
        self.last_success.set_to_current_time()

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The scrape body and its content type, in the format the scraper asked for."""
        encode, content_type = choose_encoder(accept or "")
        return encode(self.registry), content_type
