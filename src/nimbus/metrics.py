"""Prometheus counters and histograms, and their text exposition (format 0.0.4).

Deliberately tiny: a dict of label tuples to floats. Engines import ``REGISTRY`` and call
``counter(...).inc(...)``; ``GET /_nimbus/metrics`` renders it.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence

DEFAULT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _fmt_labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Counter:
    def __init__(self, name: str, help: str, labels: Sequence[str] = ()) -> None:
        self.name, self.help, self.labels = name, help, tuple(labels)
        self._values: dict[tuple[str, ...], float] = {}

    def inc(self, *label_values: str, amount: float = 1.0) -> None:
        self._values[label_values] = self._values.get(label_values, 0.0) + amount

    def value(self, *label_values: str) -> float:
        return self._values.get(label_values, 0.0)

    def samples(self) -> list[tuple[tuple[str, ...], float]]:
        """Every label set's value (a copy: CloudWatch's AWS/* feed reads Firehose's counters this way)."""
        return list(self._values.items())

    def render(self) -> list[str]:
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        for lv, v in sorted(self._values.items()):
            out.append(f"{self.name}{_fmt_labels(self.labels, lv)} {v:g}")
        return out


class Gauge(Counter):
    def set(self, *label_values: str, value: float) -> None:
        self._values[label_values] = value

    def render(self) -> list[str]:
        out = super().render()
        out[1] = f"# TYPE {self.name} gauge"
        return out


class Histogram:
    def __init__(self, name: str, help: str, labels: Sequence[str] = (), buckets: Sequence[float] = DEFAULT_BUCKETS) -> None:
        self.name, self.help, self.labels = name, help, tuple(labels)
        self.buckets = tuple(buckets)
        self._data: dict[tuple[str, ...], list[float]] = {}  # bucket counts..., sum, count

    def observe(self, value: float, *label_values: str) -> None:
        d = self._data.get(label_values)
        if d is None:
            d = self._data[label_values] = [0.0] * (len(self.buckets) + 2)
        i = bisect.bisect_left(self.buckets, value)
        if i < len(self.buckets):
            d[i] += 1
        d[-2] += value
        d[-1] += 1

    def render(self) -> list[str]:
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        for lv, d in sorted(self._data.items()):
            cum = 0.0
            for b, c in zip(self.buckets, d):
                cum += c
                le = 'le="%g"' % b
                out.append(f"{self.name}_bucket{_fmt_labels(self.labels, lv, le)} {cum:g}")
            inf = 'le="+Inf"'
            out.append(f"{self.name}_bucket{_fmt_labels(self.labels, lv, inf)} {d[-1]:g}")
            out.append(f"{self.name}_sum{_fmt_labels(self.labels, lv)} {d[-2]:.6f}")
            out.append(f"{self.name}_count{_fmt_labels(self.labels, lv)} {d[-1]:g}")
        return out


class Registry:
    def __init__(self) -> None:
        self._metrics: dict[str, Counter | Histogram] = {}
        self._lock = threading.Lock()

    def counter(self, name: str, help: str, labels: Sequence[str] = ()) -> Counter:
        with self._lock:
            m = self._metrics.get(name)
            if m is None:
                m = self._metrics[name] = Counter(name, help, labels)
            return m  # type: ignore[return-value]

    def gauge(self, name: str, help: str, labels: Sequence[str] = ()) -> Gauge:
        with self._lock:
            m = self._metrics.get(name)
            if m is None:
                m = self._metrics[name] = Gauge(name, help, labels)
            return m  # type: ignore[return-value]

    def histogram(self, name: str, help: str, labels: Sequence[str] = (), buckets: Sequence[float] = DEFAULT_BUCKETS) -> Histogram:
        with self._lock:
            m = self._metrics.get(name)
            if m is None:
                m = self._metrics[name] = Histogram(name, help, labels, buckets)
            return m  # type: ignore[return-value]

    def render(self) -> str:
        lines: list[str] = []
        for m in list(self._metrics.values()):
            lines.extend(m.render())
        return "\n".join(lines) + "\n"


REGISTRY = Registry()
