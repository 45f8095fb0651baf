"""Bucket notifications: which configurations match an event, the S3 event record, and delivery.

Configuration (PutBucketNotificationConfiguration): ``LambdaFunctionConfigurations`` with events
``s3:ObjectCreated:*`` / ``s3:ObjectRemoved:*`` (or one of their concrete names) and ``prefix`` / ``suffix``
filter rules. Records follow AWS's event message structure, version 2.1 (aws-contracts.md E.6): eventName
without the ``s3:`` prefix, the key form-URL-encoded, the ETag unquoted, a hex ``sequencer`` that grows per
key, no size/eTag for removals.

Delivery is durable before the S3 response: ``object_event`` (awaited by the writing request after its
metadata commit) hands each record to the ``deliver(function_arn, payload)`` callable, the Lambda engine's
event (asynchronous) invoke wired by ``S3Engine``, which returns once the event is appended and fsync'd to
Lambda's async queue log (``lambda/async``, group-committed: concurrent PUTs share one fsync). So a PUT that
was answered 200 has its notification on disk, and Lambda's queue delivers it at least once, across a
kill -9. A crash between the object commit and that append (before the response) can lose the event of an
object the client was never told is stored. Only writes that match a configuration pay the extra fsync.
A delivery that is refused (the function was deleted, the payload is refused) is logged and dropped, and
never fails the S3 request.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

import orjson

from nimbus.protocol.errors import host_id
from nimbus.services.s3.errors import InvalidArgument

if TYPE_CHECKING:
    from nimbus.services.s3.buckets import Buckets
    from nimbus.services.s3.objects import S3Object

log = logging.getLogger(__name__)

Deliver = Callable[[str, bytes], Awaitable[None]]

EVENT_FAMILIES = {
    "ObjectCreated": ("Put", "Post", "Copy", "CompleteMultipartUpload"),
    "ObjectRemoved": ("Delete", "DeleteMarkerCreated"),
    # sent for lifecycle expirations (lifecycle.py), never as ObjectRemoved, as on S3
    "LifecycleExpiration": ("Delete", "DeleteMarkerCreated"),
    "ObjectRestore": ("Post", "Completed"),  # RestoreObject of an archived object (archive.py)
}
VALID_EVENTS = {f"s3:{family}:*" for family in EVENT_FAMILIES} | {
    f"s3:{family}:{name}" for family, names in EVENT_FAMILIES.items() for name in names
}


@dataclass(slots=True, frozen=True)
class Origin:
    """Who caused an event (for the record's userIdentity / requestParameters / responseElements)."""

    region: str = "us-east-1"
    principal: str = "nimbus"
    source_ip: str = "127.0.0.1"
    request_id: str = ""
    host_id: str | None = ""  # None: derived from request_id (S3's x-amz-id-2), when a record needs it

    def host(self) -> str:
        return self.host_id if self.host_id is not None else host_id(self.request_id)


def _concrete(events: list[str]) -> set[str]:
    """The concrete event names (``ObjectCreated:Put``...) a configuration's events stand for."""
    out: set[str] = set()
    for event in events:
        _, family, name = event.split(":", 2)
        out.update(f"{family}:{n}" for n in (EVENT_FAMILIES[family] if name == "*" else (name,)))
    return out


def validate_configuration(config: dict[str, Any], function_exists: Callable[[str], bool] | None = None) -> dict[str, Any]:
    """Check a NotificationConfiguration and give every Lambda configuration an Id. Topic and queue
    destinations are refused: Nimbus serves neither SNS nor SQS, so it could never deliver to them."""
    unsupported = [k for k in ("TopicConfigurations", "QueueConfigurations") if config.get(k)]
    if unsupported:
        raise InvalidArgument(
            "Unable to validate the following destination configurations: Nimbus delivers notifications to Lambda "
            f"functions only ({', '.join(unsupported)} are not supported).",
            ArgumentName=unsupported[0],
        )
    out: list[dict[str, Any]] = []
    seen: list[tuple[str, str, str, str]] = []
    for item in config.get("LambdaFunctionConfigurations") or []:
        arn = item.get("LambdaFunctionArn", "")
        events = item.get("Events") or []
        if not events:
            raise InvalidArgument("A notification configuration must name at least one event.", ArgumentName="Event")
        for event in events:
            if event not in VALID_EVENTS:
                raise InvalidArgument("The event is not supported for notifications", ArgumentName=event)
        rules = ((item.get("Filter") or {}).get("Key") or {}).get("FilterRules") or []
        prefix = suffix = ""
        names: set[str] = set()
        for rule in rules:
            name = str(rule.get("Name", "")).lower()
            if name not in ("prefix", "suffix") or name in names:
                raise InvalidArgument(
                    "Cannot specify more than one prefix rule in a filter." if name in names
                    else "filter rule name must be either prefix or suffix",
                    ArgumentName="FilterRule.Name",
                )
            names.add(name)
            if name == "prefix":
                prefix = rule.get("Value", "")
            else:
                suffix = rule.get("Value", "")
        if function_exists is not None and not function_exists(arn):
            raise InvalidArgument(
                "Unable to validate the following destination configurations", ArgumentName=arn, ArgumentValue="Not found"
            )
        # AWS refuses two configurations whose events (a common concrete event: ObjectRemoved:* and
        # ObjectRemoved:Delete share one, ObjectRemoved:Delete and ObjectRemoved:DeleteMarkerCreated none)
        # and filters overlap.
        concrete = _concrete(events)
        for event_name in concrete:
            for other_event, other_prefix, other_suffix, _ in seen:
                if event_name == other_event and (prefix.startswith(other_prefix) or other_prefix.startswith(prefix)) and (
                    suffix.endswith(other_suffix) or other_suffix.endswith(suffix)
                ):
                    raise InvalidArgument(
                        "Configurations overlap. Configurations on the same bucket cannot share a common event type.",
                        ArgumentName="Event",
                    )
        for event_name in concrete:
            seen.append((event_name, prefix, suffix, arn))
        entry = dict(item)
        entry["Id"] = item.get("Id") or secrets.token_hex(16)
        entry["Filter"] = {"Key": {"FilterRules": [{"Name": r["Name"].lower(), "Value": r.get("Value", "")} for r in rules]}} if rules else None
        if entry["Filter"] is None:
            del entry["Filter"]
        out.append(entry)
    result: dict[str, Any] = {}
    if out:
        result["LambdaFunctionConfigurations"] = out
    if config.get("EventBridgeConfiguration") is not None:
        result["EventBridgeConfiguration"] = config["EventBridgeConfiguration"]
    return result


def event_matches(patterns: list[str], event_name: str) -> bool:
    family = event_name.split(":", 1)[0]
    return any(p == f"s3:{event_name}" or p == f"s3:{family}:*" for p in patterns)


def matching(config: dict[str, Any], event_name: str, key: str) -> list[tuple[str, str]]:
    """(configuration Id, function ARN) of every Lambda configuration this event matches."""
    out = []
    for item in config.get("LambdaFunctionConfigurations") or []:
        if not event_matches(item.get("Events") or [], event_name):
            continue
        ok = True
        for rule in ((item.get("Filter") or {}).get("Key") or {}).get("FilterRules") or []:
            value = rule.get("Value", "")
            if rule["Name"] == "prefix" and not key.startswith(value):
                ok = False
            if rule["Name"] == "suffix" and not key.endswith(value):
                ok = False
        if ok:
            out.append((item["Id"], item["LambdaFunctionArn"]))
    return out


class Sequencer:
    """Hex strings that grow with every event (AWS: compare per key after left-padding)."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> str:
        self._last = max(self._last + 1, time.time_ns())
        return f"{self._last:016X}"


def event_record(
    event_name: str,
    *,
    bucket: str,
    key: str,
    size: int | None,
    etag: str | None,
    configuration_id: str,
    origin: Origin,
    sequencer: str,
    owner: str,
    event_time: float,
    version_id: str | None = None,
) -> dict[str, Any]:
    obj: dict[str, Any] = {"key": quote_plus(key, safe="/")}
    if size is not None:
        obj["size"] = size
    if etag is not None:
        obj["eTag"] = etag.strip('"')
    if version_id is not None:  # versioned buckets (a version or delete marker created or removed)
        obj["versionId"] = version_id
    obj["sequencer"] = sequencer
    stamp = dt.datetime.fromtimestamp(event_time, dt.timezone.utc)
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": origin.region,
        "eventTime": stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z",
        "eventName": event_name,
        "userIdentity": {"principalId": origin.principal},
        "requestParameters": {"sourceIPAddress": origin.source_ip},
        "responseElements": {"x-amz-request-id": origin.request_id, "x-amz-id-2": origin.host()},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": owner}, "arn": f"arn:aws:s3:::{bucket}"},
            "object": obj,
        },
    }


class Notifier:
    """Matches object events against bucket configurations and hands each record durably to ``deliver``."""

    def __init__(self, deliver: Deliver | None = None, *, time_fn: Callable[[], float] = time.time) -> None:
        self.deliver = deliver
        self.time = time_fn
        self.sequencer = Sequencer()

    async def object_event(
        self, account: str, buckets: Buckets, bucket: str, event_name: str, obj: S3Object, origin: Origin | None,
        *, config: dict[str, Any] | None = None,
    ) -> None:
        """``config``: the bucket's notification configuration when the caller already read it (in the
        write's own transaction); None reads it now."""
        if config is None:
            try:
                config = buckets.get(account, bucket).notification
            except Exception:  # noqa: BLE001 - the bucket went away meanwhile: nothing to notify
                return
        if not config:
            return
        targets = matching(config, event_name, obj.key)
        if not targets:
            return
        origin = origin or Origin()
        removed = event_name.startswith(("ObjectRemoved", "LifecycleExpiration")) or obj.delete_marker
        sends = []
        for config_id, arn in targets:
            record = event_record(
                event_name, bucket=bucket, key=obj.key, size=None if removed else obj.size,
                etag=None if removed else obj.etag, configuration_id=config_id, origin=origin,
                sequencer=self.sequencer.next(), owner=account, event_time=self.time(), version_id=obj.version_id,
            )
            sends.append(self.enqueue(arn, orjson.dumps({"Records": [record]})))
        if len(sends) == 1:
            await sends[0]
        else:  # several configurations: their appends share one group commit
            await asyncio.gather(*sends)

    async def enqueue(self, function_arn: str, payload: bytes) -> None:
        """Hand one record to ``deliver`` and wait until it is durable (see the module docstring)."""
        if self.deliver is None:
            log.warning("s3 notification dropped: no Lambda engine function=%s", function_arn)
            return
        try:
            await self.deliver(function_arn, payload)
        except Exception:  # noqa: BLE001 - a refused delivery must not fail the object write
            log.exception("s3 notification delivery failed function=%s", function_arn)

    async def drain(self) -> None:
        """Nothing is buffered: every record was handed over before ``object_event`` returned."""

    async def aclose(self) -> None:
        """Nothing to stop (kept for the engine's lifecycle)."""
