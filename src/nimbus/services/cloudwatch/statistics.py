"""Statistic sets and the statistics CloudWatch computes from them (pure).

A ``Stats`` is what one metric holds for one unit over one minute (or second): sample count, sum, minimum,
maximum, and the values themselves as value -> count (capped: beyond ``MAX_DISTINCT_VALUES`` distinct
values percentiles are no longer available for that bucket, as CloudWatch's own percentiles need raw values
or a StatisticSet-free publication).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

MAX_DISTINCT_VALUES = 1000  # per bucket; past it percentiles of that bucket are unavailable
BASIC_STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d{1,10})?|100)$")


@dataclass(slots=True)
class Stats:
    count: float = 0.0
    total: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf
    values: dict[float, float] | None = field(default_factory=dict)

    def add_value(self, value: float, count: float = 1.0) -> None:
        self.count += count
        self.total += value * count
        self.minimum = min(self.minimum, value)
        self.maximum = max(self.maximum, value)
        if self.values is not None:
            self.values[value] = self.values.get(value, 0.0) + count
            if len(self.values) > MAX_DISTINCT_VALUES:
                self.values = None

    def add_set(self, count: float, total: float, minimum: float, maximum: float) -> None:
        """A StatisticSet: no values, so the bucket can no longer answer percentiles."""
        self.count += count
        self.total += total
        self.minimum = min(self.minimum, minimum)
        self.maximum = max(self.maximum, maximum)
        self.values = None

    def merge(self, other: Stats) -> None:
        self.count += other.count
        self.total += other.total
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)
        if self.values is None or other.values is None:
            self.values = None
        else:
            for value, count in other.values.items():
                self.values[value] = self.values.get(value, 0.0) + count
            if len(self.values) > MAX_DISTINCT_VALUES:
                self.values = None

    # -- storage form: [count, sum, min, max, [[value, count], ...] | null] --------------------------
    def to_doc(self) -> list[Any]:
        values = None if self.values is None else [[v, c] for v, c in self.values.items()]
        return [self.count, self.total, self.minimum, self.maximum, values]

    @classmethod
    def from_doc(cls, doc: list[Any]) -> Stats:
        values = None if doc[4] is None else {float(v): float(c) for v, c in doc[4]}
        return cls(float(doc[0]), float(doc[1]), float(doc[2]), float(doc[3]), values)

    # -- statistics ------------------------------------------------------------------------------
    def statistic(self, name: str) -> float | None:
        if name == "SampleCount":
            return self.count
        if name == "Sum":
            return self.total
        if name == "Average":
            return self.total / self.count if self.count else None
        if name == "Minimum":
            return self.minimum if self.count else None
        if name == "Maximum":
            return self.maximum if self.count else None
        found = _PERCENTILE.match(name)
        if found is not None:
            return self.percentile(float(found.group(1)))
        return None

    def percentile(self, p: float) -> float | None:
        """Nearest-rank percentile of the values (None when the bucket kept no values)."""
        if self.values is None or not self.values or self.count <= 0:
            return None
        ordered = sorted(self.values.items())
        total = sum(c for _, c in ordered)
        rank = max(1.0, math.ceil(p / 100.0 * total))
        seen = 0.0
        for value, count in ordered:
            seen += count
            if seen >= rank:
                return value
        return ordered[-1][0]


def is_statistic(name: str) -> bool:
    return name in BASIC_STATISTICS or _PERCENTILE.match(name) is not None


def is_percentile(name: str) -> bool:
    return _PERCENTILE.match(name) is not None


def merged(parts: Iterable[Stats]) -> Stats:
    out = Stats()
    for part in parts:
        out.merge(part)
    return out
