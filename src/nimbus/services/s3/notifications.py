"""Bucket notifications: which configurations match an event, the S3 event record, and delivery.

Configuration (PutBucketNotificationConfiguration): ``LambdaFunctionConfigurations`` with events
``s3:ObjectCreated:*`` / ``s3:ObjectRemoved:*`` (or one of their concrete names) and ``prefix`` / ``suffix``
filter rules. Records follow AWS's event message structure, version 2.1 (aws-contracts.md E.6): eventName
without the ``s3:`` prefix, the key form-URL-encoded, the ETag unquoted, a hex ``sequencer`` that grows per
key, no size/eTag for removals.

Delivery is asynchronous: a matching event is put on a bounded queue (a full queue makes the writer
wait) and one dispatcher task hands each record, in order, to the ``deliver(function_arn, payload)``
callable: the Lambda engine's event (asynchronous) invoke, wired by ``S3Engine``. A delivery that fails
is logged and dropped; events queued but not yet handed over when the server dies are lost (see
docs/services/s3.md).
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

from nimbus.services.s3.errors import InvalidArgument

if TYPE_CHECKING:
    from nimbus.services.s3.buckets import Buckets
    from nimbus.services.s3.objects import S3Object

log = logging.getLogger(__name__)

Deliver = Callable[[str, bytes], Awaitable[None]]

EVENT_FAMILIES = {
    "ObjectCreated": ("Put", "Post", "Copy", "CompleteMultipartUpload"),
    "ObjectRemoved": ("Delete", "DeleteMarkerCreated"),
}
VALID_EVENTS = {f"s3:{family}:*" for family in EVENT_FAMILIES} | {
    f"s3:{family}:{name}" for family, names in EVENT_FAMILIES.items() for name in names
}
QUEUE_SIZE = 10_000


@dataclass(slots=True, frozen=True)
class Origin:
    """Who caused an event (for the record's userIdentity / requestParameters / responseElements)."""

    region: str = "us-east-1"
    principal: str = "nimbus"
    source_ip: str = "127.0.0.1"
    request_id: str = ""
    host_id: str = ""


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
        # AWS refuses two configurations whose events and filters overlap.
        for family in {e.split(":")[1] for e in events}:
            for other_family, other_prefix, other_suffix, _ in seen:
                if family == other_family and (prefix.startswith(other_prefix) or other_prefix.startswith(prefix)) and (
                    suffix.endswith(other_suffix) or other_suffix.endswith(suffix)
                ):
                    raise InvalidArgument(
                        "Configurations overlap. Configurations on the same bucket cannot share a common event type.",
                        ArgumentName="Event",
                    )
        for family in {e.split(":")[1] for e in events}:
            seen.append((family, prefix, suffix, arn))
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
) -> dict[str, Any]:
    obj: dict[str, Any] = {"key": quote_plus(key, safe="/")}
    if size is not None:
        obj["size"] = size
    if etag is not None:
        obj["eTag"] = etag.strip('"')
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
        "responseElements": {"x-amz-request-id": origin.request_id, "x-amz-id-2": origin.host_id},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": owner}, "arn": f"arn:aws:s3:::{bucket}"},
            "object": obj,
        },
    }


class Notifier:
    """Matches object events against bucket configurations and hands records to ``deliver`` in order."""

    def __init__(self, deliver: Deliver | None = None, *, time_fn: Callable[[], float] = time.time) -> None:
        self.deliver = deliver
        self.time = time_fn
        self.sequencer = Sequencer()
        self._queue: asyncio.Queue[tuple[str, bytes]] | None = None
        self._task: asyncio.Task[None] | None = None

    async def object_event(
        self, account: str, buckets: Buckets, bucket: str, event_name: str, obj: S3Object, origin: Origin | None
    ) -> None:
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
        removed = event_name.startswith("ObjectRemoved")
        for config_id, arn in targets:
            record = event_record(
                event_name, bucket=bucket, key=obj.key, size=None if removed else obj.size,
                etag=None if removed else obj.etag, configuration_id=config_id, origin=origin,
                sequencer=self.sequencer.next(), owner=account, event_time=self.time(),
            )
            await self.enqueue(arn, orjson.dumps({"Records": [record]}))

    async def enqueue(self, function_arn: str, payload: bytes) -> None:
        if self.deliver is None:
            log.warning("s3 notification dropped: no Lambda engine function=%s", function_arn)
            return
        if self._queue is None:
            self._queue = asyncio.Queue(QUEUE_SIZE)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._dispatch(), name="s3-notifications")
        await self._queue.put((function_arn, payload))

    async def _dispatch(self) -> None:
        assert self._queue is not None
        while True:
            arn, payload = await self._queue.get()
            try:
                if self.deliver is not None:
                    await self.deliver(arn, payload)
            except Exception:  # noqa: BLE001 - one failed delivery must not stop the others
                log.exception("s3 notification delivery failed function=%s", arn)
            finally:
                self._queue.task_done()

    async def drain(self) -> None:
        """Wait until every queued record was handed to ``deliver`` (tests, shutdown)."""
        if self._queue is not None:
            await self._queue.join()

    async def aclose(self) -> None:
        if self._task is not None:
            if self._queue is not None:
                try:
                    await asyncio.wait_for(self._queue.join(), 5)
                except asyncio.TimeoutError:
                    log.warning("s3 notifications not delivered at shutdown count=%d", self._queue.qsize())
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
            self._task = None
