"""A tiny metrics registry rendering the Prometheus text exposition format.

Role: counters, gauges and histograms with labels, thread-safe, no extra
dependency; ``Registry.render()`` is the body of ``GET /metrics``. Gauges may
be computed at scrape time (``Gauge.set_function``) so that queue depth and
resources by state are always current. Neighbours: ``controller.service.loop``
updates the metrics of the watch service (:func:`watch_metrics`);
``controller.service.httpd`` serves :meth:`Registry.render`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

LabelValues = tuple[str, ...]
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _fmt(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


class _Metric:
    kind = ""

    def __init__(self, name: str, help_: str, labelnames: Sequence[str] = ()) -> None:
        self.name, self.help, self.labelnames = name, help_, tuple(labelnames)
        self._lock = threading.Lock()

    def _key(self, labels: dict[str, str]) -> LabelValues:
        if set(labels) != set(self.labelnames):
            raise ValueError(f"{self.name}: labels {sorted(labels)} != {list(self.labelnames)}")
        return tuple(str(labels[n]) for n in self.labelnames)

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]

    def samples(self) -> list[str]:
        raise NotImplementedError


class Counter(_Metric):
    kind = "counter"

    def __init__(self, name: str, help_: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, help_, labelnames)
        self._values: dict[LabelValues, float] = {} if labelnames else {(): 0.0}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        with self._lock:
            return self._values.get(self._key(labels), 0.0)

    def samples(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        return [f"{self.name}{_labels(self.labelnames, k)} {_fmt(v)}" for k, v in items]


class Gauge(_Metric):
    kind = "gauge"

    def __init__(self, name: str, help_: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, help_, labelnames)
        self._values: dict[LabelValues, float] = {} if labelnames else {(): 0.0}
        self._function: Callable[[], Iterable[tuple[dict[str, str], float]]] | None = None

    def set(self, value: float, **labels: str) -> None:
        with self._lock:
            self._values[self._key(labels)] = value

    def set_function(self, function: Callable[[], Iterable[tuple[dict[str, str], float]]]) -> None:
        """Compute the samples at scrape time: ``function()`` yields (labels, value)."""
        self._function = function

    def samples(self) -> list[str]:
        if self._function is not None:
            rows = [(self._key(labels), value) for labels, value in self._function()]
        else:
            with self._lock:
                rows = list(self._values.items())
        return [f"{self.name}{_labels(self.labelnames, k)} {_fmt(v)}" for k, v in sorted(rows)]


@dataclass
class _Hist:
    counts: list[int]
    total: float = 0.0
    count: int = 0


class Histogram(_Metric):
    kind = "histogram"
    DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

    def __init__(self, name: str, help_: str, labelnames: Sequence[str] = (),
                 buckets: Sequence[float] = DEFAULT_BUCKETS) -> None:
        super().__init__(name, help_, labelnames)
        self.buckets = tuple(sorted(buckets))
        self._values: dict[LabelValues, _Hist] = {}
        if not labelnames:
            self._values[()] = _Hist([0] * len(self.buckets))

    def observe(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            hist = self._values.setdefault(key, _Hist([0] * len(self.buckets)))
            for i, bound in enumerate(self.buckets):
                if value <= bound:
                    hist.counts[i] += 1
            hist.total += value
            hist.count += 1

    def samples(self) -> list[str]:
        out = []
        with self._lock:
            items = sorted((k, _Hist(list(h.counts), h.total, h.count))
                           for k, h in self._values.items())
        for key, hist in items:
            for bound, count in zip(self.buckets, hist.counts, strict=True):
                le = f'le="{_fmt(bound)}"'
                out.append(f"{self.name}_bucket{_labels(self.labelnames, key, le)} {count}")
            inf = _labels(self.labelnames, key, 'le="+Inf"')
            out.append(f"{self.name}_bucket{inf} {hist.count}")
            out.append(f"{self.name}_sum{_labels(self.labelnames, key)} {_fmt(hist.total)}")
            out.append(f"{self.name}_count{_labels(self.labelnames, key)} {hist.count}")
        return out


class Registry:
    """A named set of metrics; :meth:`render` gives the exposition text."""

    def __init__(self) -> None:
        self._metrics: list[_Metric] = []

    def _add(self, metric: _Metric) -> None:
        if any(m.name == metric.name for m in self._metrics):
            raise ValueError(f"metric {metric.name} registered twice")
        self._metrics.append(metric)

    def counter(self, name: str, help_: str, labelnames: Sequence[str] = ()) -> Counter:
        metric = Counter(name, help_, labelnames)
        self._add(metric)
        return metric

    def gauge(self, name: str, help_: str, labelnames: Sequence[str] = ()) -> Gauge:
        metric = Gauge(name, help_, labelnames)
        self._add(metric)
        return metric

    def histogram(self, name: str, help_: str, labelnames: Sequence[str] = (),
                  buckets: Sequence[float] = Histogram.DEFAULT_BUCKETS) -> Histogram:
        metric = Histogram(name, help_, labelnames, buckets)
        self._add(metric)
        return metric

    def render(self) -> str:
        lines: list[str] = []
        for metric in self._metrics:
            lines += metric.header()
            lines += metric.samples()
        return "\n".join(lines) + "\n"


class WatchMetrics:
    """The metrics of the watch service, in one registry."""

    def __init__(self) -> None:
        r = self.registry = Registry()
        p = "dockwright_"
        self.passes = r.counter(p + "passes_total", "Reconcile passes by result.", ["result"])
        self.pass_duration = r.histogram(p + "pass_duration_seconds", "Duration of a pass.")
        self.actions = r.counter(p + "actions_total", "Actions executed, by kind and result.",
                                 ["kind", "result"])
        self.errors = r.counter(p + "errors_total", "Errors by kind.", ["kind"])
        self.drift = r.counter(p + "drift_corrections_total",
                               "Containers restarted or recreated without a spec change.")
        self.triggers = r.counter(p + "triggers_total", "Enqueue requests by source.", ["source"])
        self.resources = r.gauge(p + "resources", "Container resources by state.", ["state"])
        self.queue_depth = r.gauge(p + "queue_depth", "Keys waiting in the work queue.")
        self.backoffs = r.gauge(p + "backoffs", "Resources in backoff.")
        self.crash_loops = r.gauge(p + "crash_loops", "Containers detected as crash-looping.")
        self.ready = r.gauge(p + "ready", "1 after the first successful pass.")
        self.last_success = r.gauge(p + "last_success_timestamp_seconds",
                                    "Unix time of the last successful pass.")


def watch_metrics() -> WatchMetrics:
    return WatchMetrics()
