"""CloudWatchApi: metrics (PutMetricData, ListMetrics, GetMetricStatistics, GetMetricData) and metric alarms.

Served over all three protocols the model lists (smithy-rpc-v2-cbor, json, query): the codec hands the same
params whatever the wire. Rules the model does not state are AWS's documented limits, worded as AWS words
them (docs/services/cloudwatch.md lists them and where Nimbus chose).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import math
from typing import TYPE_CHECKING, Any

import orjson

from nimbus.services.base import RequestContext
from nimbus.services.cloudwatch import queries
from nimbus.services.cloudwatch.alarms import Alarms
from nimbus.services.cloudwatch.builtin import BuiltinMetrics
from nimbus.services.cloudwatch.dashboards import Dashboards
from nimbus.services.cloudwatch.errors import (
    InvalidNextToken,
    InvalidParameterCombinationException,
    InvalidParameterValueException,
    MissingRequiredParameterException,
    RequestEntityTooLarge,
    ValidationException,
)
from nimbus.services.cloudwatch.statistics import Stats, is_percentile
from nimbus.services.cloudwatch.store import RECENTLY_ACTIVE_S, Metric, MetricStore

if TYPE_CHECKING:
    from nimbus.server import Nimbus

# AWS's PutMetricData quotas (CloudWatch User Guide, "CloudWatch service quotas")
MAX_METRIC_DATA = 1000
MAX_DIMENSIONS = 30
MAX_PAYLOAD_BYTES = 1_048_576
MAX_VALUES = 150
MAX_PAST_S = 14 * 86400
MAX_FUTURE_S = 2 * 3600
MAX_DATAPOINTS_PER_CALL = 1440  # GetMetricStatistics
MAX_QUERIES = 500  # GetMetricData
DEFAULT_MAX_DATAPOINTS = 100_800
LIST_PAGE = 500
INLINE_BUCKETS = 64  # PutMetricData batches touching more buckets are written from a worker thread
_UTC = dt.timezone.utc


def create_api(core: Nimbus) -> CloudWatchApi:
    return CloudWatchApi(core)


def _epoch(value: Any) -> float:
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=_UTC)).timestamp()
    return float(value)


def _time(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, _UTC)


def _token(doc: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(doc)).decode("ascii")


def _untoken(token: str, kind: type) -> Any:
    """A token this API handed out: of ``kind`` (a list for ListMetrics, a dict for GetMetricData)."""
    try:
        doc = orjson.loads(base64.urlsafe_b64decode(token.encode("ascii")))
    except (binascii.Error, ValueError, UnicodeEncodeError) as e:
        raise InvalidNextToken("The service couldn't process the pagination token.") from e
    if not isinstance(doc, kind):
        raise InvalidNextToken("The service couldn't process the pagination token.")
    return doc


class CloudWatchApi:
    def __init__(self, core: Nimbus) -> None:
        self.core = core
        self._store: MetricStore | None = None
        self.builtin = BuiltinMetrics(core, self.store)
        self.alarms = Alarms(core, self.store)

    def store(self) -> MetricStore:
        if self._store is None:
            self._store = MetricStore(self.core.storage.metadata)
        return self._store

    async def start(self) -> None:
        self.builtin.start()
        self.alarms.start()

    async def aclose(self) -> None:
        await self.builtin.aclose()
        await self.alarms.aclose()

    # ------------------------------------------------------------------ PutMetricData

    async def put_metric_data(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any] | None:
        request = ctx.extra.get("request")
        size = len(request.body) if request is not None and isinstance(request.body, (bytes, bytearray)) else 0
        if size > MAX_PAYLOAD_BYTES:
            raise RequestEntityTooLarge(f"Request size {size} exceeded {MAX_PAYLOAD_BYTES} bytes")
        namespace = params["Namespace"]
        if namespace.startswith("AWS/"):
            raise InvalidParameterValueException(f"The value {namespace} for parameter Namespace is invalid.")
        data = list(params.get("MetricData") or [])
        for entity in params.get("EntityMetricData") or []:  # the Entity itself is not kept
            data.extend(entity.get("MetricData") or [])
        if not data:
            raise MissingRequiredParameterException("The parameter MetricData is required.")
        if len(data) > MAX_METRIC_DATA:
            raise InvalidParameterValueException(
                f"The collection MetricData must not have a size greater than {MAX_METRIC_DATA}."
            )
        now = self.core.clock.time()
        batch: dict[tuple[Metric, int, int, str], Stats] = {}
        for index, datum in enumerate(data, 1):
            self._add_datum(batch, namespace, datum, f"MetricData.member.{index}", now)
        if len(batch) > INLINE_BUCKETS:  # a big batch (~30-70 ms for 1,000 buckets) off the event loop
            await asyncio.to_thread(self.store().add, ctx.account_id, ctx.region, batch, now=now)
        else:
            self.store().add(ctx.account_id, ctx.region, batch, now=now)
        return None

    def _add_datum(self, batch: dict[tuple[Metric, int, int, str], Stats], namespace: str, datum: dict[str, Any], where: str, now: float) -> None:
        name = datum.get("MetricName")
        if not name:
            raise MissingRequiredParameterException(f"The parameter {where}.MetricName is required.")
        dims = datum.get("Dimensions") or []
        if len(dims) > MAX_DIMENSIONS:
            raise InvalidParameterValueException(f"The collection {where}.Dimensions must not have a size greater than {MAX_DIMENSIONS}.")
        seen: set[str] = set()
        for d_index, dim in enumerate(dims, 1):
            if "Value" not in dim:
                raise MissingRequiredParameterException(f"The parameter {where}.Dimensions.member.{d_index}.Value is required.")
            if dim["Name"] in seen:
                raise InvalidParameterValueException(f"The value {dim['Name']} for parameter {where}.Dimensions.member.{d_index}.Name is duplicated.")
            seen.add(dim["Name"])
        when = _epoch(datum["Timestamp"]) if datum.get("Timestamp") is not None else now
        if when < now - MAX_PAST_S:
            raise InvalidParameterValueException(f"The parameter {where}.Timestamp must specify a time within the past two weeks.")
        if when > now + MAX_FUTURE_S:
            raise InvalidParameterValueException(f"The parameter {where}.Timestamp must specify a time no more than two hours in the future.")
        resolution = datum.get("StorageResolution", 60)
        if resolution not in (1, 60):
            raise InvalidParameterValueException(f"The value {resolution} for parameter {where}.StorageResolution is invalid.")
        has_value, has_values, has_set = "Value" in datum, "Values" in datum, "StatisticValues" in datum
        if has_value and has_set:
            raise InvalidParameterCombinationException(
                f"The parameters {where}.Value and {where}.StatisticValues are mutually exclusive and you have specified both."
            )
        if has_values and (has_value or has_set):
            other = "Value" if has_value else "StatisticValues"
            raise InvalidParameterCombinationException(
                f"The parameters {where}.Values and {where}.{other} are mutually exclusive and you have specified both."
            )
        if not (has_value or has_values or has_set):
            raise InvalidParameterCombinationException(
                f"At least one of the parameters {where}.Value, {where}.Values or {where}.StatisticValues must be specified."
            )
        stats = Stats()
        if has_value:
            stats.add_value(self._finite(datum["Value"], f"{where}.Value"))
        elif has_values:
            values = datum["Values"]
            counts = datum.get("Counts")
            if len(values) > MAX_VALUES:
                raise InvalidParameterValueException(f"The collection {where}.Values must not have a size greater than {MAX_VALUES}.")
            if counts is not None and len(counts) != len(values):
                raise InvalidParameterValueException(f"The parameters {where}.Values and {where}.Counts must be of the same size.")
            for v_index, value in enumerate(values):
                count = 1.0 if counts is None else self._finite(counts[v_index], f"{where}.Counts.member.{v_index + 1}")
                if count < 0:
                    raise InvalidParameterValueException(f"The value {count} for parameter {where}.Counts.member.{v_index + 1} is invalid.")
                number = self._finite(value, f"{where}.Values.member.{v_index + 1}")
                if count > 0:  # a value counted 0 times was not observed
                    stats.add_value(number, count)
            if stats.count == 0:
                return
        else:
            s = datum["StatisticValues"]
            n, total = self._finite(s["SampleCount"], f"{where}.StatisticValues.SampleCount"), self._finite(s["Sum"], f"{where}.StatisticValues.Sum")
            lo, hi = self._finite(s["Minimum"], f"{where}.StatisticValues.Minimum"), self._finite(s["Maximum"], f"{where}.StatisticValues.Maximum")
            if n <= 0:
                raise InvalidParameterValueException(f"The value {n} for parameter {where}.StatisticValues.SampleCount is invalid.")
            if lo > hi:
                raise InvalidParameterCombinationException(
                    f"The parameter {where}.StatisticValues.Maximum must be greater than {where}.StatisticValues.Minimum."
                )
            stats.add_set(n, total, lo, hi)
        metric = Metric.of(namespace, name, dims)
        unit = datum.get("Unit") or "None"
        second = int(when)
        buckets = [(60, second // 60 * 60)]
        if resolution == 1:
            buckets.append((1, second))
        for res, bucket in buckets:
            key = (metric, res, bucket, unit)
            found = batch.get(key)
            if found is None:
                copy = Stats()
                copy.merge(stats)
                batch[key] = copy
            else:
                found.merge(stats)

    @staticmethod
    def _finite(value: Any, where: str) -> float:
        number = float(value)
        if not math.isfinite(number) or abs(number) > 2.0**360 or (number != 0 and abs(number) < 2.0**-360):  # AWS: 2^-360 to 2^360
            raise InvalidParameterValueException(f"The value {value} for parameter {where} is invalid.")
        return number

    # ------------------------------------------------------------------ ListMetrics

    async def list_metrics(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params.get("MetricName")
        filters = [(f["Name"], f.get("Value")) for f in params.get("Dimensions") or []]
        recent = params.get("RecentlyActive")
        if recent is not None and recent != "PT3H":
            raise InvalidParameterValueException(f"The value {recent} for parameter RecentlyActive is invalid.")
        now = self.core.clock.time()
        after = _untoken(params["NextToken"], list) if params.get("NextToken") else None
        if after is not None and not (
            len(after) == 3 and isinstance(after[0], str) and isinstance(after[1], str) and isinstance(after[2], list)
            and all(isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in after[2])
        ):
            raise InvalidNextToken("The service couldn't process the pagination token.")
        out: list[dict[str, Any]] = []
        last_key: list[Any] | None = None
        next_token = None
        for metric, doc in self.store().metrics(ctx.account_id, ctx.region, params.get("Namespace")):
            if name is not None and metric.name != name:
                continue
            key = [metric.namespace, metric.name, [list(p) for p in metric.dimensions]]
            if after is not None and key <= after:
                continue
            dims = dict(metric.dimensions)
            if any(k not in dims or (v is not None and dims[k] != v) for k, v in filters):
                continue
            if recent is not None and now - float(doc.get("seen", 0)) > RECENTLY_ACTIVE_S:
                continue
            if len(out) == LIST_PAGE:
                next_token = _token(last_key)
                break
            out.append(metric.wire())
            last_key = key
        result: dict[str, Any] = {"Metrics": out}
        if next_token is not None:
            result["NextToken"] = next_token
        return result

    # ------------------------------------------------------------------ GetMetricStatistics

    async def get_metric_statistics(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        start, end, period = _epoch(params["StartTime"]), _epoch(params["EndTime"]), params["Period"]
        statistics = params.get("Statistics") or []
        extended = params.get("ExtendedStatistics") or []
        if not statistics and not extended:
            raise MissingRequiredParameterException("Must specify either Statistics or ExtendedStatistics")
        for name in extended:
            if not is_percentile(name):
                raise InvalidParameterValueException(f"The value {name} for parameter ExtendedStatistics is not supported.")
        queries.check_period(period, "Period")
        if start >= end:
            raise InvalidParameterValueException("The parameter StartTime must be less than the parameter EndTime.")
        window = queries.Window.of(start, end, period)
        if window.periods() > MAX_DATAPOINTS_PER_CALL:
            raise InvalidParameterCombinationException(
                f"You have requested up to {window.periods()} datapoints, which exceeds the limit of {MAX_DATAPOINTS_PER_CALL}. "
                "You may reduce the datapoints requested by increasing Period, or decreasing the time range."
            )
        metric = Metric.of(params["Namespace"], params["MetricName"], params.get("Dimensions"))
        unit = params.get("Unit")
        points = []
        grouped = queries.aggregate(self.store(), ctx.account_id, ctx.region, metric, window, unit=unit, by_unit=True)
        for (when, stored_unit), stats in sorted(grouped.items()):
            point: dict[str, Any] = {"Timestamp": _time(when), "Unit": stored_unit}
            for name in statistics:
                value = stats.statistic(name)
                if value is not None:
                    point[name] = value
            if extended:
                point["ExtendedStatistics"] = {
                    name: value for name in extended if (value := stats.statistic(name)) is not None
                }
            points.append(point)
        return {"Label": params["MetricName"], "Datapoints": points}

    # ------------------------------------------------------------------ GetMetricData

    async def get_metric_data(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        start, end = _epoch(params["StartTime"]), _epoch(params["EndTime"])
        if start >= end:
            raise ValidationException("The parameter StartTime must be less than the parameter EndTime.")
        queries_in = params["MetricDataQueries"]
        if not queries_in:
            raise MissingRequiredParameterException("The parameter MetricDataQueries is required.")
        if len(queries_in) > MAX_QUERIES:
            raise ValidationException(f"The collection MetricDataQueries must not have a size greater than {MAX_QUERIES}.")
        scan = params.get("ScanBy") or "TimestampDescending"
        max_points = params.get("MaxDatapoints") or DEFAULT_MAX_DATAPOINTS
        results = queries.evaluate(self.store(), ctx.account_id, ctx.region, queries_in, start, end)
        offset = _untoken(params["NextToken"], dict).get("o", 0) if params.get("NextToken") else 0
        if not isinstance(offset, int) or offset < 0:
            raise InvalidNextToken("The service couldn't process the pagination token.")
        out: list[dict[str, Any]] = []
        position = 0
        remaining = max_points
        cut = False
        for query_id, label, series in results:
            ordered = sorted(series.items(), reverse=scan == "TimestampDescending")
            begin = min(max(offset - position, 0), len(ordered))
            position += len(ordered)
            taken = ordered[begin : begin + remaining]
            remaining -= len(taken)
            partial = begin + len(taken) < len(ordered)
            cut = cut or partial
            out.append({
                "Id": query_id, "Label": label, "Timestamps": [_time(ts) for ts, _ in taken],
                "Values": [v for _, v in taken], "StatusCode": "PartialData" if partial else "Complete", "Messages": [],
            })
        result: dict[str, Any] = {"MetricDataResults": out, "Messages": []}
        if cut:
            result["NextToken"] = _token({"o": offset + max_points})
        return result

    # ------------------------------------------------------------------ alarms

    async def put_metric_alarm(self, ctx: RequestContext, params: dict[str, Any]) -> None:
        self.alarms.put(ctx.account_id, ctx.region, params)

    async def put_composite_alarm(self, ctx: RequestContext, params: dict[str, Any]) -> None:
        self.alarms.put_composite(ctx.account_id, ctx.region, params)

    async def describe_alarms(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.alarms.describe(ctx.account_id, ctx.region, params)

    async def describe_alarms_for_metric(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.alarms.for_metric(ctx.account_id, ctx.region, params)

    async def delete_alarms(self, ctx: RequestContext, params: dict[str, Any]) -> None:
        self.alarms.delete(ctx.account_id, ctx.region, params["AlarmNames"])

    async def set_alarm_state(self, ctx: RequestContext, params: dict[str, Any]) -> None:
        self.alarms.set_state(ctx.account_id, ctx.region, params["AlarmName"], params["StateValue"], params["StateReason"],
                              params.get("StateReasonData"))

    async def enable_alarm_actions(self, ctx: RequestContext, params: dict[str, Any]) -> None:
        self.alarms.set_actions_enabled(ctx.account_id, ctx.region, params["AlarmNames"], True)

    async def disable_alarm_actions(self, ctx: RequestContext, params: dict[str, Any]) -> None:
        self.alarms.set_actions_enabled(ctx.account_id, ctx.region, params["AlarmNames"], False)

    async def describe_alarm_history(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.alarms.history(ctx.account_id, ctx.region, params)

    async def tag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.alarms.tag(params["ResourceARN"], params["Tags"])
        return {}

    async def untag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.alarms.untag(params["ResourceARN"], params["TagKeys"])
        return {}

    async def list_tags_for_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"Tags": self.alarms.tags(params["ResourceARN"])}

    # ------------------------------------------------------------------ dashboards

    def _dashboards(self) -> Dashboards:
        return Dashboards(self.core.storage.metadata)

    async def put_dashboard(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        messages = self._dashboards().put(ctx.account_id, params["DashboardName"], params["DashboardBody"], now=self.core.clock.time())
        return {"DashboardValidationMessages": messages}

    async def get_dashboard(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._dashboards().get(ctx.account_id, params["DashboardName"])

    async def list_dashboards(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._dashboards().list(ctx.account_id, params.get("DashboardNamePrefix"), params.get("NextToken"))

    async def delete_dashboards(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._dashboards().delete(ctx.account_id, params["DashboardNames"])
        return {}
