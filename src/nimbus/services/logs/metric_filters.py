"""Metric filters: PutMetricFilter / DescribeMetricFilters / DeleteMetricFilter / TestMetricFilter, and the
metric values they produce.

Filters are metadata documents (``logs.metric-filter`` acct:region:group:filter), at most 100 per group
as AWS, loaded into memory; the group's ``metricFilterCount`` follows them. As a listener of the logs
engine, every event made durable in the group (PutLogEvents, function output) is run through each
filter's pattern; a match adds the transformation's ``metricValue`` (a number, a space-delimited pattern's
``$field`` or a JSON selector ``$.a.b``, whose value must be numeric) to the metric; a minute in which
events arrive but none matches adds the ``defaultValue`` once, when there is one.

Nimbus serves no CloudWatch metrics API: the running values are exposed on ``/_nimbus/metrics`` as
``nimbus_logs_metric_filter_value{namespace,metric,dimensions}`` (the sum of the values emitted since the
server started; ``dimensions`` is ``Name=value,...`` sorted by name, empty without dimensions) and
``nimbus_logs_metric_filter_events_total{namespace,metric}`` (the events that produced a value). They
start from zero at each start, as Prometheus counters do.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nimbus.metrics import REGISTRY
from nimbus.services.cloudwatch.feed import FEED
from nimbus.services.logs.filters import PatternError, compile_extractor
from nimbus.services.logs.groups import (
    GROUP,
    Appended,
    InvalidParameterException,
    LimitExceededException,
    LogGroups,
    ResourceNotFoundException,
)
from nimbus.services.logs.json_patterns import json_value
from nimbus.services.logs.space_patterns import field_names
from nimbus.storage import MetadataStore

KIND = "logs.metric-filter"
MAX_FILTERS_PER_GROUP = 100  # "The maximum number of metric filters that can be associated with a log group is 100."
MAX_DIMENSIONS = 3
DEFAULT_DESCRIBE_LIMIT = 50
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")

VALUE = REGISTRY.gauge(
    "nimbus_logs_metric_filter_value",
    "Sum of the values CloudWatch Logs metric filters emitted since the server started.",
    ("namespace", "metric", "dimensions"),
)
EVENTS = REGISTRY.counter(
    "nimbus_logs_metric_filter_events_total", "Log events that emitted a metric filter value.", ("namespace", "metric")
)

Extractor = Callable[[str], "dict[str, str] | None"]


@dataclass(slots=True)
class _Live:
    key: str
    doc: dict[str, Any]
    extract: Extractor
    matched_minute: int | None = None  # the last minute with a match or a default value emitted


def _number(text: Any) -> float | None:
    if isinstance(text, bool):
        return None
    if isinstance(text, (int, float)):
        return float(text)
    if isinstance(text, str) and _NUMBER.fullmatch(text.strip()):
        return float(text)
    return None


def _resolve(selector: str, message: str, extracted: dict[str, str], parsed: list[Any]) -> Any:
    """The value of ``$field`` (from the extracted fields) or ``$.a.b`` (from the message as JSON)."""
    if selector.startswith("$."):
        if not parsed:
            try:
                parsed.append(json.loads(message))
            except ValueError:
                parsed.append(None)
        return json_value(parsed[0], selector) if isinstance(parsed[0], dict) else None
    return extracted.get(selector)


class MetricFilters:
    """The metric filters of every group and their running values. A listener of the logs engine."""

    def __init__(self, engine: LogGroups, metadata: MetadataStore, *, clock_time: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.db = metadata
        self.now = clock_time
        self._by_group: dict[str, list[_Live]] = {}
        for key, doc in self.db.list(KIND):
            try:
                extract = compile_extractor(doc.get("filterPattern"))
            except PatternError:
                continue
            self._by_group.setdefault(key.rsplit(":", 1)[0], []).append(_Live(key, doc, extract))

    @staticmethod
    def _gkey(account: str, region: str, group: str) -> str:
        return f"{account}:{region}:{group}"

    # --- control plane --------------------------------------------------------------------------

    def put(
        self, account: str, region: str, group: str, name: str, *, pattern: str, transformations: list[dict[str, Any]],
        extra: dict[str, Any] | None = None,
    ) -> None:
        if not self.engine.group_exists(account, region, group):
            raise ResourceNotFoundException("The specified log group does not exist.")
        try:
            extract = compile_extractor(pattern)
        except PatternError as e:
            raise InvalidParameterException(str(e)) from e
        fields = field_names(pattern)
        out_transformations = [self._transformation(t, fields) for t in transformations]
        gkey = self._gkey(account, region, group)
        lives = self._by_group.setdefault(gkey, [])
        existing = next((lv for lv in lives if lv.doc["filterName"] == name), None)
        if existing is None and len(lives) >= MAX_FILTERS_PER_GROUP:
            raise LimitExceededException("Resource limit exceeded.")
        doc: dict[str, Any] = {
            "filterName": name,
            "filterPattern": pattern,
            "metricTransformations": out_transformations,
            "creationTime": int(self.now() * 1000),
            "logGroupName": group,
            "applyOnTransformedLogs": False,
        }
        for k, v in (extra or {}).items():
            if v is not None:
                doc[k] = v
        key = f"{gkey}:{name}"
        if existing is not None:
            existing.doc, existing.extract = doc, extract
            self.db.put(KIND, key, doc)
            return
        lives.append(_Live(key, doc, extract))
        with self.db.transaction():
            self.db.put(KIND, key, doc)
            self._count(gkey, len(lives))

    def _transformation(self, t: dict[str, Any], fields: set[str]) -> dict[str, Any]:
        value = str(t["metricValue"]).strip()
        if not (_number(value) is not None or value.startswith("$.") or value in fields):
            raise InvalidParameterException(
                f"Invalid metric value {value!r}: a number, a JSON selector ($.field) or a field of the space-delimited filter pattern."
            )
        dims = dict(t.get("dimensions") or {})
        if len(dims) > MAX_DIMENSIONS:
            raise InvalidParameterException(f"A metric filter can have no more than {MAX_DIMENSIONS} dimensions.")
        for dim, selector in dims.items():
            if not (selector.startswith("$.") or selector in fields):
                raise InvalidParameterException(f"Invalid dimension value {selector!r} for {dim}: a JSON selector or a field of the pattern.")
        if dims and t.get("defaultValue") is not None:
            raise InvalidParameterException("A metric filter with dimensions cannot have a defaultValue.")
        out: dict[str, Any] = {"metricName": t["metricName"], "metricNamespace": t["metricNamespace"], "metricValue": value}
        if t.get("defaultValue") is not None:
            out["defaultValue"] = float(t["defaultValue"])
        if dims:
            out["dimensions"] = dims
        if t.get("unit"):
            out["unit"] = t["unit"]
        return out

    def _count(self, gkey: str, n: int) -> None:
        gdoc = self.db.get(GROUP, gkey)
        if gdoc is not None:
            gdoc["metricFilterCount"] = n
            self.db.put(GROUP, gkey, gdoc)

    def describe(
        self, account: str, region: str, *, group: str | None, prefix: str | None, metric_name: str | None,
        namespace: str | None, token: str | None, limit: int | None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        if bool(metric_name) != bool(namespace):
            raise InvalidParameterException("metricName and metricNamespace must be specified together.")
        if group is not None:
            if not self.engine.group_exists(account, region, group):
                raise ResourceNotFoundException("The specified log group does not exist.")
            lives = list(self._by_group.get(self._gkey(account, region, group), []))
            if prefix:
                lives = [lv for lv in lives if lv.doc["filterName"].startswith(prefix)]
        else:
            base = f"{account}:{region}:"
            lives = [lv for gkey, lvs in self._by_group.items() if gkey.startswith(base) for lv in lvs]
        if metric_name:
            lives = [lv for lv in lives if any(t["metricName"] == metric_name and t["metricNamespace"] == namespace
                                               for t in lv.doc["metricTransformations"])]
        # "The results are ASCII-sorted by filter name."
        lives.sort(key=lambda lv: (lv.doc["filterName"], lv.doc["logGroupName"]))
        if token:
            try:
                after = tuple(json.loads(base64.urlsafe_b64decode(token.encode())))
            except ValueError as e:
                raise InvalidParameterException("The specified nextToken is invalid.") from e
            lives = [lv for lv in lives if (lv.doc["filterName"], lv.doc["logGroupName"]) > after]
        limit = limit or DEFAULT_DESCRIBE_LIMIT
        page = lives[:limit]
        nxt = None
        if len(lives) > limit:
            last = page[-1].doc
            nxt = base64.urlsafe_b64encode(json.dumps([last["filterName"], last["logGroupName"]]).encode()).decode()
        return [dict(lv.doc) for lv in page], nxt

    def delete(self, account: str, region: str, group: str, name: str) -> None:
        if not self.engine.group_exists(account, region, group):
            raise ResourceNotFoundException("The specified log group does not exist.")
        gkey = self._gkey(account, region, group)
        lives = self._by_group.get(gkey, [])
        live = next((lv for lv in lives if lv.doc["filterName"] == name), None)
        if live is None:
            raise ResourceNotFoundException("The specified metric filter does not exist.")
        lives.remove(live)
        with self.db.transaction():
            self.db.delete(KIND, live.key)
            self._count(gkey, len(lives))

    @staticmethod
    def test(pattern: str, messages: list[str]) -> list[dict[str, Any]]:
        """TestMetricFilter: the matching messages, numbered from 1 as AWS numbers them, with the values
        the pattern extracts."""
        try:
            extract = compile_extractor(pattern)
        except PatternError as e:
            raise InvalidParameterException(str(e)) from e
        out = []
        for i, message in enumerate(messages, start=1):
            values = extract(message)
            if values is not None:
                out.append({"eventNumber": i, "eventMessage": message, "extractedValues": values})
        return out

    # --- engine listener ------------------------------------------------------------------------

    def appended(self, batch: Appended) -> None:
        lives = self._by_group.get(self._gkey(batch.account, batch.region, batch.group))
        if not lives:
            return
        minute = int(self.now()) // 60
        for live in lives:
            matched = False
            for _, _, message in batch.events:
                matched = self._emit(live, message, batch.account, batch.region) or matched
            if matched:
                live.matched_minute = minute
            elif live.matched_minute != minute:
                # "the value reported during a period when logs are ingested but no matching logs are
                # found": once per minute without a match, not once per event
                live.matched_minute = minute
                for t in live.doc["metricTransformations"]:
                    if t.get("defaultValue") is not None:
                        VALUE.inc(t["metricNamespace"], t["metricName"], "", amount=float(t["defaultValue"]))
                        FEED.metric(batch.account, batch.region, t["metricNamespace"], t["metricName"], float(t["defaultValue"]),
                                    unit=t.get("unit") or "None")

    def _emit(self, live: _Live, message: str, account: str = "", region: str = "") -> bool:
        """Add the values of one event; whether the pattern matched it."""
        extracted = live.extract(message)
        if extracted is None:
            return False
        parsed: list[Any] = []
        for t in live.doc["metricTransformations"]:
            ns, name = t["metricNamespace"], t["metricName"]
            raw = t["metricValue"]
            value = _number(raw) if not raw.startswith("$") else _number(_resolve(raw, message, extracted, parsed))
            if value is None:
                continue
            dims = []
            for dim, selector in sorted((t.get("dimensions") or {}).items()):
                v = _resolve(selector, message, extracted, parsed)
                if v is None:
                    break
                dims.append(f"{dim}={v if isinstance(v, str) else json.dumps(v)}")
            else:
                VALUE.inc(ns, name, ",".join(dims), amount=value)
                EVENTS.inc(ns, name)
                if account:  # CloudWatch metrics (GetMetricStatistics...): an in-memory update, flushed by CloudWatch
                    FEED.metric(account, region, ns, name, value, unit=t.get("unit") or "None",
                                dimensions=tuple((d, v) for d, _, v in (p.partition("=") for p in dims)))
        return True

    def stream_deleted(self, account: str, region: str, group: str, stream: str) -> None:
        return None

    def group_deleted(self, account: str, region: str, group: str) -> None:
        for live in self._by_group.pop(self._gkey(account, region, group), []):
            self.db.delete(KIND, live.key)

