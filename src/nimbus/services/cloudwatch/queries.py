"""Datapoints over periods: the arithmetic behind GetMetricStatistics, GetMetricData and alarms.

Periods start at StartTime floored to the resolution read (a minute, or a second for periods under 60 s),
then every ``period`` seconds; a bucket belongs to the period its start falls in. CloudWatch says only that
it rounds StartTime for older data; Nimbus never rounds further than that floor.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from nimbus.services.cloudwatch import expressions
from nimbus.services.cloudwatch.errors import InvalidParameterValueException, MissingRequiredParameterException, ValidationException
from nimbus.services.cloudwatch.statistics import Stats, is_statistic
from nimbus.services.cloudwatch.store import Metric, MetricStore

HIGH_RESOLUTION_PERIODS = (1, 5, 10, 30)
_METRIC_ID = re.compile(r"^[a-z][a-zA-Z0-9_]*$")


def check_period(period: int, where: str) -> None:
    if period < 60 and period not in HIGH_RESOLUTION_PERIODS:
        raise InvalidParameterValueException(f"The parameter {where} must be 1, 5, 10, 30 or a multiple of 60.")
    if period >= 60 and period % 60:
        raise InvalidParameterValueException(f"The parameter {where} must be a multiple of 60.")


@dataclass(slots=True, frozen=True)
class Window:
    start: int  # epoch seconds, floored to the resolution
    end: int  # exclusive
    period: int

    @property
    def resolution(self) -> int:
        return 1 if self.period < 60 else 60

    @classmethod
    def of(cls, start: float, end: float, period: int) -> Window:
        resolution = 1 if period < 60 else 60
        first = int(start) // resolution * resolution
        return cls(first, int(end) if end == int(end) else int(end) + 1, period)

    def periods(self) -> int:
        return max(0, -(-(self.end - self.start) // self.period))


def aggregate(
    store: MetricStore, account: str, region: str, metric: Metric, window: Window, *, unit: str | None,
    by_unit: bool = False,
) -> dict[tuple[int, str], Stats]:
    """(period start, unit or "") -> merged Stats; units kept apart only with ``by_unit``."""
    out: dict[tuple[int, str], Stats] = {}
    for bucket, units in store.buckets(account, region, metric, window.resolution, window.start, window.end):
        period_start = window.start + (bucket - window.start) // window.period * window.period
        for name, stats in units.items():
            if unit is not None and name != unit:
                continue
            key = (period_start, name if by_unit else "")
            found = out.get(key)
            if found is None:
                out[key] = stats
            else:
                found.merge(stats)
    return out


def series(
    store: MetricStore, account: str, region: str, metric: Metric, window: Window, *, stat: str, unit: str | None
) -> dict[int, float]:
    """One statistic per period that has data (periods without data, or without the values a percentile
    needs, are left out, as CloudWatch leaves them out)."""
    out: dict[int, float] = {}
    for (start, _), stats in aggregate(store, account, region, metric, window, unit=unit).items():
        value = stats.statistic(stat)
        if value is not None:
            out[start] = value
    return out


def evaluate(
    store: MetricStore, account: str, region: str, queries_in: list[dict[str, Any]], start: float, end: float
) -> list[tuple[str, str, dict[int, float]]]:
    """(id, label, series) of each query that returns data, in request order."""
    values: dict[str, expressions.Value] = {}
    labels: dict[str, str] = {}
    metric_ids: list[str] = []
    pending: dict[str, dict[str, Any]] = {}
    periods: list[int] = []
    seen: set[str] = set()
    for index, query in enumerate(queries_in, 1):
        qid = query["Id"]
        where = f"MetricDataQueries.member.{index}"
        if not _METRIC_ID.match(qid):
            raise ValidationException(
                f"The value {qid} for parameter {where}.Id is invalid: it must start with a lowercase letter and hold only letters, digits and underscores."
            )
        if qid in seen:
            raise ValidationException(f"The value {qid} for parameter {where}.Id is duplicated.")
        seen.add(qid)
        stat, expression = query.get("MetricStat"), query.get("Expression")
        if (stat is None) == (expression is None):
            raise ValidationException(f"Exactly one of {where}.MetricStat and {where}.Expression must be specified.")
        if stat is not None:
            check_period(stat["Period"], f"{where}.MetricStat.Period")
            if not is_statistic(stat["Stat"]):
                raise ValidationException(f"The value {stat['Stat']} for parameter {where}.MetricStat.Stat is not supported.")
            m = stat["Metric"]
            if not m.get("Namespace") or not m.get("MetricName"):
                raise MissingRequiredParameterException(f"The parameters {where}.MetricStat.Metric.Namespace and MetricName are required.")
            metric = Metric.of(m["Namespace"], m["MetricName"], m.get("Dimensions"))
            window = Window.of(start, end, stat["Period"])
            values[qid] = series(store, account, region, metric, window, stat=stat["Stat"], unit=stat.get("Unit"))
            labels[qid] = query.get("Label") or metric.name
            metric_ids.append(qid)
            periods.append(stat["Period"])
        else:
            pending[qid] = query
    while pending:
        progressed = False
        for qid, query in list(pending.items()):
            refs = expressions.references(query["Expression"]) & set(pending)
            if refs - {qid}:
                continue
            period = query.get("Period") or (min(periods) if periods else 60)
            window = Window.of(start, end, period)
            grid = [window.start + i * period for i in range(window.periods())]
            try:
                value = expressions.evaluate(query["Expression"], values, labels, metric_ids, grid)
            except (expressions.ExpressionError, RecursionError) as e:
                raise ValidationException(f"Error in expression '{qid}': {e}") from e
            if isinstance(value, float):
                value = {} if math.isnan(value) else dict.fromkeys(grid, value)
            values[qid] = value
            labels[qid] = query.get("Label") or qid
            del pending[qid]
            progressed = True
        if not progressed:
            raise ValidationException(f"Circular dependency between expressions: {', '.join(sorted(pending))}")
    out: list[tuple[str, str, dict[int, float]]] = []
    for query in queries_in:
        if query.get("ReturnData") is False:
            continue
        qid = query["Id"]
        value = values[qid]
        if isinstance(value, list):
            out.extend((qid, item.label, item.series) for item in value)
        elif isinstance(value, dict):
            out.append((qid, labels[qid], {ts: v for ts, v in value.items() if not math.isnan(v)}))
    return out
