"""Metric and composite alarms: PutMetricAlarm, PutCompositeAlarm, DescribeAlarms(ForMetric), DeleteAlarms, SetAlarmState, alarm actions on/off,
DescribeAlarmHistory; evaluated every ``NIMBUS_CLOUDWATCH_ALARM_S`` (default 60 s) against the stored data.

An alarm looks at its last ``EvaluationPeriods`` periods ending now; it goes to ALARM when at least
``DatapointsToAlarm`` of them breach, to OK when enough datapoints exist and fewer breach, and to
INSUFFICIENT_DATA when no period has data (TreatMissingData ``missing``, the default; ``breaching`` and
``notBreaching`` count an empty period as such, ``ignore`` keeps the current state). Actions are recorded in
the alarm's history as an ``Action`` item and never executed: Nimbus has no SNS, Auto Scaling or EC2.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from nimbus import arn
from nimbus.services.cloudwatch import alarm_rules, queries
from nimbus.services.cloudwatch.errors import (
    InvalidNextToken,
    InvalidParameterValueException,
    LimitExceededFault,
    ResourceNotFound,
    ResourceNotFoundException,
    ValidationException,
)
from nimbus.services.cloudwatch.statistics import is_percentile, is_statistic
from nimbus.services.cloudwatch.store import SEP, Metric, MetricStore

if TYPE_CHECKING:
    from nimbus.server import Nimbus

log = logging.getLogger(__name__)

ALARMS = "cloudwatch.alarms"
HISTORY = "cloudwatch.alarm-history"
DEFAULT_EVALUATE_S = 60.0
MAX_ALARMS = 10_000  # per account and region ("Alarms: 10,000 per Region per account" by default... any more: LimitExceeded)
MAX_HISTORY = 100  # items kept per alarm
STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")
_UTC = dt.timezone.utc
_OPERATORS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanOrEqualToThreshold": (lambda v, t: v >= t, "greater than or equal to"),
    "GreaterThanThreshold": (lambda v, t: v > t, "greater than"),
    "LessThanThreshold": (lambda v, t: v < t, "less than"),
    "LessThanOrEqualToThreshold": (lambda v, t: v <= t, "less than or equal to"),
}
_KEPT = (
    "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions", "InsufficientDataActions", "MetricName", "Namespace",
    "Statistic", "ExtendedStatistic", "Dimensions", "Period", "Unit", "EvaluationPeriods", "DatapointsToAlarm", "Threshold",
    "ComparisonOperator", "TreatMissingData", "EvaluateLowSampleCountPercentile", "Metrics", "ThresholdMetricId",
)


def _now_dt(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, _UTC)


def _key(account: str, region: str, name: str) -> str:
    return SEP.join((account, region, name))


class Alarms:
    def __init__(self, core: Nimbus, store: Callable[[], MetricStore]) -> None:
        self.core = core
        self.store = store
        extra = core.settings.extra or {}
        self.interval_s = float(extra.get("NIMBUS_CLOUDWATCH_ALARM_S") or DEFAULT_EVALUATE_S)
        self._task: asyncio.Task[Any] | None = None
        self._seq = 0

    @property
    def metadata(self) -> Any:
        return self.core.storage.metadata

    def start(self) -> None:
        if self._task is None:
            self._task = self.core.spawn(self._run(), "cloudwatch-alarms")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            await self.core.clock.sleep(self.interval_s)
            try:
                self.evaluate_all()
            except Exception:  # noqa: BLE001 - the next round tries again
                log.exception("alarm evaluation failed")

    # -- control plane ---------------------------------------------------------------------------
    def put(self, account: str, region: str, params: dict[str, Any]) -> None:
        name = params["AlarmName"]
        metrics = params.get("Metrics")
        if metrics:
            if params.get("MetricName") or params.get("Namespace"):
                raise ValidationException("Metrics list cannot be combined with MetricName or Namespace.")
        else:
            for needed in ("MetricName", "Namespace", "Period"):
                if params.get(needed) is None:
                    raise ValidationException(f"{needed} must not be null")
            statistic, extended = params.get("Statistic"), params.get("ExtendedStatistic")
            if (statistic is None) == (extended is None):
                raise ValidationException("Exactly one of Statistic or ExtendedStatistic must be specified.")
            if extended is not None and not is_percentile(extended):
                raise ValidationException(f"The value {extended} for parameter ExtendedStatistic is not supported.")
            if params["Period"] < 60 and params["Period"] not in (10, 30) or params["Period"] >= 60 and params["Period"] % 60:
                raise ValidationException("Period must be 10, 30 or a multiple of 60.")
        for needed in ("EvaluationPeriods", "ComparisonOperator"):
            if params.get(needed) is None:
                raise ValidationException(f"{needed} must not be null")
        if params["ComparisonOperator"] not in _OPERATORS:
            raise ValidationException(f"Comparison operator {params['ComparisonOperator']} is not supported by Nimbus (anomaly detection bands are not).")
        if params.get("Threshold") is None:
            raise ValidationException("Threshold must not be null")
        points = params.get("DatapointsToAlarm")
        if points is not None and points > params["EvaluationPeriods"]:
            raise ValidationException("DatapointsToAlarm must be less than or equal to EvaluationPeriods")
        now = self.core.clock.time()
        key = _key(account, region, name)
        old = self.metadata.get(ALARMS, key)
        if old is None and self.metadata.count(ALARMS, _key(account, region, "")) >= MAX_ALARMS:
            raise LimitExceededFault(f"The maximum number of alarms ({MAX_ALARMS}) has been reached.")
        doc = {k: params[k] for k in _KEPT if params.get(k) is not None}
        doc.setdefault("ActionsEnabled", True)
        for actions in ("OKActions", "AlarmActions", "InsufficientDataActions"):
            doc.setdefault(actions, [])
        doc.setdefault("Dimensions", [])
        _identity_and_state(doc, account, region, name, old, now)
        # tags are set when the alarm is created; PutMetricAlarm on an existing alarm leaves them (AWS: use TagResource)
        doc["_tags"] = old.get("_tags", {}) if old else {t["Key"]: t["Value"] for t in params.get("Tags") or []}
        with self.metadata.transaction():
            self.metadata.put(ALARMS, key, doc)
            self._history(account, region, name, now, "ConfigurationUpdate",
                          f"Alarm \"{name}\" {'updated' if old else 'created'}", {"type": "Update" if old else "Create"})

    def put_composite(self, account: str, region: str, params: dict[str, Any]) -> None:
        """PutCompositeAlarm: the rule is parsed and every alarm it names must exist (AWS refuses the rule
        otherwise); the alarm is evaluated at once, then whenever an alarm it names changes state."""
        name = params["AlarmName"]
        try:
            rule = alarm_rules.parse(params["AlarmRule"])
        except alarm_rules.RuleError as e:
            raise ValidationException(str(e)) from e
        missing = [ref for ref in alarm_rules.alarms_named(rule) if self._find(account, region, ref) is None]
        if missing:
            raise ValidationException(
                f"Could not save the composite alarm as alarms {missing} in the alarm rule do not exist")
        if name in [self._name_of(ref) for ref in alarm_rules.alarms_named(rule)]:
            raise ValidationException("A composite alarm cannot refer to itself in its AlarmRule.")
        now = self.core.clock.time()
        key = _key(account, region, name)
        old = self.metadata.get(ALARMS, key)
        if old is not None and old.get("_type") != "CompositeAlarm":
            raise ValidationException(f"The alarm {name} is a metric alarm; a composite alarm cannot replace it.")
        if old is None and self.metadata.count(ALARMS, _key(account, region, "")) >= MAX_ALARMS:
            raise LimitExceededFault(f"The maximum number of alarms ({MAX_ALARMS}) has been reached.")
        kept = ("AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions", "InsufficientDataActions", "AlarmRule",
                "ActionsSuppressor", "ActionsSuppressorWaitPeriod", "ActionsSuppressorExtensionPeriod")
        doc = {k: params[k] for k in kept if params.get(k) is not None}
        doc.setdefault("ActionsEnabled", True)
        for actions in ("OKActions", "AlarmActions", "InsufficientDataActions"):
            doc.setdefault(actions, [])
        if doc.get("ActionsSuppressor"):
            doc.setdefault("ActionsSuppressorWaitPeriod", 60)
            doc.setdefault("ActionsSuppressorExtensionPeriod", 60)
            doc["ActionsSuppressedBy"] = "None"
            doc["ActionsSuppressedReason"] = ""
        doc["_type"] = "CompositeAlarm"
        _identity_and_state(doc, account, region, name, old, now)
        doc["_tags"] = old.get("_tags", {}) if old else {t["Key"]: t["Value"] for t in params.get("Tags") or []}
        with self.metadata.transaction():
            self.metadata.put(ALARMS, key, doc)
            self._history(account, region, name, now, "ConfigurationUpdate",
                          f"Alarm \"{name}\" {'updated' if old else 'created'}", {"type": "Update" if old else "Create"},
                          alarm_type="CompositeAlarm")
        self._evaluate_composite(account, region, dict(doc), trigger=None)

    @staticmethod
    def _name_of(ref: str) -> str:
        return ref.split(":alarm:", 1)[1] if ref.startswith("arn:") and ":alarm:" in ref else ref

    def _find(self, account: str, region: str, ref: str) -> dict[str, Any] | None:
        """An alarm by name or by ARN (of this account and region)."""
        if ref.startswith("arn:"):
            try:
                parsed = arn.parse(ref)
            except ValueError:
                return None
            if (parsed.account, parsed.region) != (account, region) or not parsed.resource.startswith("alarm:"):
                return None
            ref = parsed.resource.split(":", 1)[1]
        doc = self.metadata.get(ALARMS, _key(account, region, ref))
        return dict(doc) if doc is not None else None

    def _evaluate_composite(self, account: str, region: str, doc: dict[str, Any], *, trigger: dict[str, Any] | None,
                            depth: int = 0) -> None:
        rule = alarm_rules.parse(doc["AlarmRule"])

        def state_of(ref: str) -> str | None:
            found = self._find(account, region, ref)
            return found["StateValue"] if found else None

        state = "ALARM" if alarm_rules.evaluate(rule, state_of) else "OK"
        if state == doc["StateValue"]:
            return
        # AWS's wording: the child whose transition made the composite change, or the creation/update
        if trigger is not None:
            when = _now_dt(trigger["StateUpdatedTimestamp"])
            reason = f"{trigger['AlarmArn']} transitioned to {trigger['StateValue']} at {when:%A %d %B, %Y %H:%M:%S} UTC"
            data = orjson.dumps({"triggeringAlarms": [{
                "arn": trigger["AlarmArn"],
                "state": {"value": trigger["StateValue"], "timestamp": when.isoformat(timespec="milliseconds")},
            }]}).decode()
        else:
            reason = f"Alarm rule evaluated to {'TRUE' if state == 'ALARM' else 'FALSE'}"
            data = orjson.dumps({"triggeringAlarms": []}).decode()
        self._transition(account, region, doc, state, reason, data, depth=depth + 1)

    def _cascade(self, account: str, region: str, child: dict[str, Any], depth: int) -> None:
        """Re-evaluate the composite alarms whose rule names ``child`` (by name or ARN)."""
        if depth > 20:  # a cycle of composites (AWS allows creating one) stops here
            return
        refs = {child["AlarmName"], child["AlarmArn"]}
        for _, doc in self.metadata.list(ALARMS, _key(account, region, "")):
            if doc.get("_type") != "CompositeAlarm":
                continue
            try:
                named = set(alarm_rules.alarms_named(alarm_rules.parse(doc["AlarmRule"])))
            except alarm_rules.RuleError:
                continue
            if named & refs:
                self._evaluate_composite(account, region, dict(doc), trigger=child, depth=depth)

    def _get(self, account: str, region: str, name: str) -> dict[str, Any]:
        doc = self.metadata.get(ALARMS, _key(account, region, name))
        if doc is None:
            raise ResourceNotFound(f"Alarm {name} not found")
        return dict(doc)

    def _all(self, account: str, region: str) -> list[dict[str, Any]]:
        return [doc for _, doc in self.metadata.list(ALARMS, _key(account, region, ""))]

    @staticmethod
    def _wire(doc: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in doc.items() if not k.startswith("_")}
        for stamp in ("AlarmConfigurationUpdatedTimestamp", "StateUpdatedTimestamp", "StateTransitionedTimestamp"):
            if stamp in out:
                out[stamp] = _now_dt(out[stamp])
        return out

    def describe(self, account: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
        names = params.get("AlarmNames")
        prefix = params.get("AlarmNamePrefix")
        if names and prefix:
            raise ValidationException("AlarmNames and AlarmNamePrefix cannot be specified together.")
        types = params.get("AlarmTypes") or ["MetricAlarm"]  # AWS: without AlarmTypes, only metric alarms
        state = params.get("StateValue")
        action_prefix = params.get("ActionPrefix")
        limit = params.get("MaxRecords") or 50
        start = 0
        if params.get("NextToken"):
            try:
                start = int(params["NextToken"])
            except ValueError as e:
                raise InvalidNextToken("The service couldn't process the pagination token.") from e
        found = []
        for doc in self._all(account, region):
            if doc.get("_type", "MetricAlarm") not in types:
                continue
            if names and doc["AlarmName"] not in names:
                continue
            if prefix and not doc["AlarmName"].startswith(prefix):
                continue
            if state and doc["StateValue"] != state:
                continue
            if action_prefix and not any(
                a.startswith(action_prefix) for k in ("OKActions", "AlarmActions", "InsufficientDataActions") for a in doc.get(k, [])
            ):
                continue
            found.append({**self._wire(doc), "_kind": doc.get("_type", "MetricAlarm")})
        page = found[start : start + limit]
        out: dict[str, Any] = {
            "MetricAlarms": [a for a in page if a.pop("_kind") == "MetricAlarm"],
            "CompositeAlarms": [a for a in page if "AlarmRule" in a],
        }
        if start + limit < len(found):
            out["NextToken"] = str(start + limit)
        return out

    def for_metric(self, account: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
        wanted = Metric.of(params["Namespace"], params["MetricName"], params.get("Dimensions"))
        out = []
        for doc in self._all(account, region):
            if "MetricName" not in doc or Metric.of(doc["Namespace"], doc["MetricName"], doc.get("Dimensions")) != wanted:
                continue
            if any(params.get(k) is not None and params[k] != doc.get(k) for k in ("Statistic", "ExtendedStatistic", "Period", "Unit")):
                continue
            out.append(self._wire(doc))
        return {"MetricAlarms": out}

    def delete(self, account: str, region: str, names: list[str]) -> None:
        missing = [n for n in names if self.metadata.get(ALARMS, _key(account, region, n)) is None]
        if missing:
            raise ResourceNotFound(f"The following alarms were not found: {missing}")
        with self.metadata.transaction():
            for name in names:
                self.metadata.delete(ALARMS, _key(account, region, name))
                for key, _ in self.metadata.list(HISTORY, _key(account, region, name) + SEP):
                    self.metadata.delete(HISTORY, key)

    def set_actions_enabled(self, account: str, region: str, names: list[str], enabled: bool) -> None:
        with self.metadata.transaction():
            for name in names:
                key = _key(account, region, name)
                doc = self.metadata.get(ALARMS, key)
                if doc is not None:
                    doc["ActionsEnabled"] = enabled
                    self.metadata.put(ALARMS, key, doc)

    def set_state(self, account: str, region: str, name: str, state: str, reason: str, data: str | None) -> None:
        doc = self._get(account, region, name)
        if data is not None:
            try:
                orjson.loads(data)
            except orjson.JSONDecodeError as e:
                raise ValidationException("StateReasonData must be valid JSON.") from e
        self._transition(account, region, doc, state, reason, data, force=True)

    # -- tags (alarms are the only taggable resources Nimbus keeps) ------------------------------
    def _tagged(self, resource_arn: str) -> tuple[str, dict[str, Any]]:
        try:
            parsed = arn.parse(resource_arn)
        except ValueError as e:
            raise InvalidParameterValueException(f"Invalid ARN: {resource_arn}") from e
        kind, _, name = parsed.resource.partition(":")
        if parsed.service != "cloudwatch" or kind != "alarm" or not name:
            raise ResourceNotFoundException(f"Resource {resource_arn} not found", ResourceType=kind or None, ResourceId=resource_arn)
        key = _key(parsed.account, parsed.region, name)
        doc = self.metadata.get(ALARMS, key)
        if doc is None:
            raise ResourceNotFoundException(f"Alarm {name} not found", ResourceType="alarm", ResourceId=resource_arn)
        return key, dict(doc)

    def tags(self, resource_arn: str) -> list[dict[str, str]]:
        _, doc = self._tagged(resource_arn)
        return [{"Key": k, "Value": v} for k, v in sorted(doc.get("_tags", {}).items())]

    def tag(self, resource_arn: str, tags: list[dict[str, str]]) -> None:
        key, doc = self._tagged(resource_arn)
        doc["_tags"] = {**doc.get("_tags", {}), **{t["Key"]: t["Value"] for t in tags}}
        self.metadata.put(ALARMS, key, doc)

    def untag(self, resource_arn: str, keys: list[str]) -> None:
        key, doc = self._tagged(resource_arn)
        doc["_tags"] = {k: v for k, v in doc.get("_tags", {}).items() if k not in set(keys)}
        self.metadata.put(ALARMS, key, doc)

    def history(self, account: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
        name = params.get("AlarmName")
        prefix = _key(account, region, name) + SEP if name else _key(account, region, "")
        kind = params.get("HistoryItemType")
        start = params.get("StartDate")
        end = params.get("EndDate")
        items = []
        for _, doc in self.metadata.list(HISTORY, prefix):
            when = _now_dt(doc["Timestamp"])
            if kind and doc["HistoryItemType"] != kind:
                continue
            if (start is not None and when < start) or (end is not None and when > end):
                continue
            items.append({**doc, "Timestamp": when})
        items.sort(key=lambda item: item["Timestamp"], reverse=params.get("ScanBy") != "TimestampAscending")
        limit = params.get("MaxRecords") or 100
        return {"AlarmHistoryItems": items[:limit]}

    # -- evaluation ------------------------------------------------------------------------------
    def _history(self, account: str, region: str, name: str, now: float, kind: str, summary: str, data: dict[str, Any], *,
                 alarm_type: str = "MetricAlarm") -> None:
        prefix = _key(account, region, name) + SEP
        self._seq += 1  # items of the same instant stay apart, in order
        self.metadata.put(HISTORY, f"{prefix}{now:017.6f}.{self._seq:010d}", {
            "AlarmName": name, "AlarmType": alarm_type, "Timestamp": now, "HistoryItemType": kind,
            "HistorySummary": summary, "HistoryData": orjson.dumps(data).decode(),
        })
        keys = [k for k, _ in self.metadata.list(HISTORY, prefix)]
        for old in keys[: max(0, len(keys) - MAX_HISTORY)]:
            self.metadata.delete(HISTORY, old)

    def _transition(self, account: str, region: str, doc: dict[str, Any], state: str, reason: str, data: str | None, *,
                    force: bool = False, depth: int = 0) -> None:
        now = self.core.clock.time()
        old = doc["StateValue"]
        if old == state and not force:
            return
        doc.update({"StateValue": state, "StateReason": reason, "StateUpdatedTimestamp": now})
        if data is not None:
            doc["StateReasonData"] = data
        if old != state:
            doc["StateTransitionedTimestamp"] = now
        name = doc["AlarmName"]
        alarm_type = doc.get("_type", "MetricAlarm")
        with self.metadata.transaction():
            self.metadata.put(ALARMS, _key(account, region, name), doc)
            self._history(account, region, name, now, "StateUpdate", f"Alarm updated from {old} to {state}", {
                "version": "1.0", "oldState": {"stateValue": old}, "newState": {"stateValue": state, "stateReason": reason},
            }, alarm_type=alarm_type)
            actions = {"OK": "OKActions", "ALARM": "AlarmActions", "INSUFFICIENT_DATA": "InsufficientDataActions"}[state]
            if old != state and doc.get("ActionsEnabled", True) and doc.get(actions):
                for action in doc[actions]:
                    self._history(account, region, name, now, "Action",
                                  f"Nimbus does not execute alarm actions: {action} was not called",
                                  {"actionState": "Skipped", "notificationResource": action}, alarm_type=alarm_type)
        if old != state:
            self._cascade(account, region, doc, depth)

    def evaluate_all(self) -> int:
        """Evaluate every alarm once; returns how many changed state."""
        changed = 0
        for key, doc in self.metadata.list(ALARMS, ""):
            account, region, _ = key.split(SEP, 2)
            if doc.get("_type") == "CompositeAlarm":
                continue  # evaluated when an alarm it names changes state
            try:
                changed += int(self.evaluate(account, region, dict(doc)))
            except Exception:  # noqa: BLE001 - one alarm's bad definition must not stop the others
                log.exception("alarm evaluation failed alarm=%s", doc.get("AlarmName"))
        return changed

    def _series(self, account: str, region: str, doc: dict[str, Any], start: float, end: float) -> tuple[dict[int, float], int]:
        if doc.get("Metrics"):
            results = queries.evaluate(self.store(), account, region, doc["Metrics"], start, end)
            wanted = doc.get("ThresholdMetricId")
            chosen = next((series for qid, _, series in results if wanted is None or qid == wanted), {})
            periods = [q["MetricStat"]["Period"] for q in doc["Metrics"] if q.get("MetricStat")] + [
                q["Period"] for q in doc["Metrics"] if q.get("Period")]
            return chosen, min(periods) if periods else 60
        period = int(doc["Period"])
        stat = doc.get("Statistic") or doc.get("ExtendedStatistic")
        if not stat or not is_statistic(stat):
            return {}, period
        metric = Metric.of(doc["Namespace"], doc["MetricName"], doc.get("Dimensions"))
        window = queries.Window.of(start, end, period)
        return queries.series(self.store(), account, region, metric, window, stat=stat, unit=doc.get("Unit")), period

    def evaluate(self, account: str, region: str, doc: dict[str, Any]) -> bool:
        now = self.core.clock.time()
        periods = int(doc["EvaluationPeriods"])
        needed = int(doc.get("DatapointsToAlarm") or periods)
        period = int(doc.get("Period") or 60)
        end = int(now) // 60 * 60 + 60 if period >= 60 else int(now) + 1
        start = end - periods * period
        series, period = self._series(account, region, doc, start, end)
        grid = [start + i * period for i in range(periods)]
        compare, words = _OPERATORS[doc["ComparisonOperator"]]
        threshold = float(doc["Threshold"])
        missing = doc.get("TreatMissingData") or "missing"
        present = [(ts, series[ts]) for ts in grid if ts in series]
        breaching = [(ts, v) for ts, v in present if compare(v, threshold)]
        empty = periods - len(present)
        if missing == "breaching":
            breaching_count, known = len(breaching) + empty, periods
        elif missing == "notBreaching":
            breaching_count, known = len(breaching), periods
        else:
            breaching_count, known = len(breaching), len(present)
        if known == 0:
            if missing == "ignore":
                return False
            state = "INSUFFICIENT_DATA"
            reason = f"Insufficient Data: {periods} datapoint{'s were' if periods != 1 else ' was'} unknown."
        elif breaching_count >= needed:
            state = "ALARM"
            shown = ", ".join(f"{v!r} ({_now_dt(ts):%d/%m/%y %H:%M:%S})" for ts, v in breaching[-needed:])
            reason = (f"Threshold Crossed: {breaching_count} out of the last {periods} datapoints [{shown}] "
                      f"{'was' if breaching_count == 1 else 'were'} {words} the threshold ({threshold!r}) "
                      f"(minimum {needed} datapoint{'s' if needed != 1 else ''} for OK -> ALARM transition).")
        else:
            state = "OK"
            shown = ", ".join(f"{v!r} ({_now_dt(ts):%d/%m/%y %H:%M:%S})" for ts, v in present[-needed:])
            reason = (f"Threshold Crossed: {len(present) - len(breaching)} out of the last {periods} datapoints [{shown}] "
                      f"{'was' if len(present) - len(breaching) == 1 else 'were'} not {words} the threshold ({threshold!r}) "
                      f"(minimum {needed} datapoint{'s' if needed != 1 else ''} for ALARM -> OK transition).")
        if state == doc["StateValue"]:
            return False
        data = orjson.dumps({
            "version": "1.0", "queryDate": _now_dt(now).isoformat(), "statistic": doc.get("Statistic") or doc.get("ExtendedStatistic"),
            "period": period, "recentDatapoints": [v for _, v in present], "threshold": threshold,
            "evaluatedDatapoints": [{"timestamp": _now_dt(ts).isoformat(), "value": v} for ts, v in present],
        }).decode()
        self._transition(account, region, doc, state, reason, data)
        return True


def _identity_and_state(doc: dict[str, Any], account: str, region: str, name: str, old: dict[str, Any] | None, now: float) -> None:
    """A Put*Alarm's name, ARN and update time; the state of the alarm it replaces carries over (a new one
    starts INSUFFICIENT_DATA)."""
    doc.update({
        "AlarmName": name,
        "AlarmArn": arn.build("cloudwatch", region, account, f"alarm:{name}"),
        "AlarmConfigurationUpdatedTimestamp": now,
        "StateValue": old["StateValue"] if old else "INSUFFICIENT_DATA",
        "StateReason": old["StateReason"] if old else "Unchecked: Initial alarm creation",
        "StateUpdatedTimestamp": old["StateUpdatedTimestamp"] if old else now,
        "StateTransitionedTimestamp": old.get("StateTransitionedTimestamp", now) if old else now,
    })
    if old is not None and old.get("StateReasonData"):
        doc["StateReasonData"] = old["StateReasonData"]
