"""Log groups, log streams and their events.

Groups and streams are metadata documents (``logs.group`` acct:region:group,
``logs.stream`` acct:region:group:stream; neither name may contain ':'). Each stream's events are one
durable log (``logs/<acct>/<region>/<group>/<stream>``): a record is an event (8-byte big-endian
timestamp in ms + the UTF-8 message) and its append time is the event's ingestionTime. A stream's
first/last event times and stored bytes are read from its log, so a PutLogEvents costs one log
append (group-committed with fsync) and no metadata write.

Tokens: GetLogEvents' ``f/<seq>/s`` (read forward from seq) and ``b/<seq>/s`` (read backward from before
seq), as AWS's tokens look; FilterLogEvents' nextToken is an opaque cursor (timestamp, eventId).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from nimbus.errors import ServiceError
from nimbus.services.logs.filters import PatternError, compile_pattern
from nimbus.storage import Log, LogRecord, LogStore, MetadataStore

log = logging.getLogger(__name__)

GROUP = "logs.group"
STREAM = "logs.stream"

# CloudWatch Logs quotas (PutLogEvents)
MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD_BYTES = 26
MAX_EVENT_BYTES = 256 * 1024  # the cut Lambda applies to one line of function output (the sink); PutLogEvents takes up to 1 MB
TOO_NEW_MS = 2 * 3600 * 1000
TOO_OLD_MS = 14 * 24 * 3600 * 1000
MAX_SPAN_MS = 24 * 3600 * 1000
DEFAULT_GET_LIMIT = 10_000
DEFAULT_FILTER_LIMIT = 10_000
MAX_RESPONSE_BYTES = 1_048_576
DESCENDING_SINCE_MS = 1_704_067_200_000  # FilterLogEvents startFromHead=false needs startTime ≥ 2024-01-01
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)
READ_CHUNK = 1000
MAX_TAGS = 50  # per log group (the model's TooManyTagsException)


class ResourceNotFoundException(ServiceError):
    code = "ResourceNotFoundException"
    status = 400


class ResourceAlreadyExistsException(ServiceError):
    code = "ResourceAlreadyExistsException"
    status = 400


class InvalidParameterException(ServiceError):
    code = "InvalidParameterException"
    status = 400


class LimitExceededException(ServiceError):
    code = "LimitExceededException"
    status = 400


class TooManyTagsException(ServiceError):
    code = "TooManyTagsException"
    status = 400


def encode_event(timestamp_ms: int, message: str) -> bytes:
    return timestamp_ms.to_bytes(8, "big", signed=True) + message.encode("utf-8")


def decode_event(payload: bytes) -> tuple[int, str]:
    return int.from_bytes(payload[:8], "big", signed=True), payload[8:].decode("utf-8", "replace")


def group_arn(region: str, account: str, group: str) -> str:
    return f"arn:aws:logs:{region}:{account}:log-group:{group}"


def group_name(name_or_arn: str) -> str:
    """A logGroupIdentifier may be a name or an ARN (with or without the trailing ``:*``)."""
    if name_or_arn.startswith("arn:"):
        parts = name_or_arn.split(":")
        if len(parts) >= 7 and parts[5] == "log-group":
            return parts[6]
    return name_or_arn


@dataclass(slots=True, frozen=True)
class Event:
    stream: str
    seq: int
    timestamp: int
    ingestion: int
    message: str

    @property
    def event_id(self) -> str:
        """56 digits, unique in the group: stream hash (20) + sequence (36)."""
        h = int.from_bytes(hashlib.blake2b(self.stream.encode(), digest_size=8).digest(), "big")
        return f"{h:020d}{self.seq:036d}"


@dataclass(slots=True, frozen=True)
class Appended:
    """The events one PutLogEvents call (or one sink write) made durable in one stream: (seq, timestamp,
    message) each, in log order. Given to the engine's listeners (subscription and metric filters)."""

    account: str
    region: str
    group: str
    stream: str
    events: list[tuple[int, int, str]]


class Listener(Protocol):
    """Told of appended events (synchronously, right after the append is durable: keep it to a match
    check) and of deleted streams and groups."""

    def appended(self, batch: Appended) -> None: ...

    def stream_deleted(self, account: str, region: str, group: str, stream: str) -> None: ...

    def group_deleted(self, account: str, region: str, group: str) -> None: ...


class LogGroups:
    """The logs engine. Synchronous metadata, async appends. Raises the logs service's errors."""

    def __init__(self, metadata: MetadataStore, logs: LogStore, *, clock_time: Callable[[], float] = time.time) -> None:
        self.db = metadata
        self.store = logs
        self.now = clock_time
        self._logs: dict[str, Log] = {}
        self._known: set[str] = set()  # stream keys known to exist (auto-create fast path)
        self._trimmed: dict[str, float] = {}
        self._retention: dict[str, int | None] = {}  # group key -> retention in ms (cache for put_events)
        self.listeners: list[Listener] = []

    # --- names ----------------------------------------------------------------------------------

    @staticmethod
    def _gkey(account: str, region: str, group: str) -> str:
        return f"{account}:{region}:{group}"

    def _log(self, account: str, region: str, group: str, stream: str) -> Log:
        name = f"logs/{account}/{region}/{group}/{stream}"
        lg = self._logs.get(name)
        if lg is None:
            lg = self._logs[name] = self.store.open(name)
        return lg

    def _group(self, account: str, region: str, group: str) -> dict[str, Any]:
        doc = self.db.get(GROUP, self._gkey(account, region, group))
        if doc is None:
            raise ResourceNotFoundException("The specified log group does not exist.")
        return doc

    def _stream(self, account: str, region: str, group: str, stream: str) -> dict[str, Any]:
        doc = self.db.get(STREAM, f"{self._gkey(account, region, group)}:{stream}")
        if doc is None:
            self._group(account, region, group)
            raise ResourceNotFoundException("The specified log stream does not exist.")
        return doc

    # --- groups ---------------------------------------------------------------------------------

    def create_group(self, account: str, region: str, group: str, *, tags: dict[str, str] | None = None, log_class: str | None = None) -> None:
        """CreateLogGroup. Groups AWS's own services write to (Lambda's) are made by ``_insert_group``."""
        if group.lower().startswith("aws/"):
            raise InvalidParameterException("Log groups starting with AWS/ are reserved for AWS.")
        self._insert_group(account, region, group, tags=tags, log_class=log_class)

    def _insert_group(self, account: str, region: str, group: str, *, tags: dict[str, str] | None = None, log_class: str | None = None) -> None:
        doc = {
            "logGroupName": group,
            "creationTime": int(self.now() * 1000),
            "metricFilterCount": 0,
            "arn": group_arn(region, account, group) + ":*",
            "logGroupArn": group_arn(region, account, group),
            "logGroupClass": log_class or "STANDARD",
            "tags": dict(tags or {}),
        }
        if not self.db.insert(GROUP, self._gkey(account, region, group), doc):
            raise ResourceAlreadyExistsException("The specified log group already exists")

    async def delete_group(self, account: str, region: str, group: str) -> None:
        self._group(account, region, group)
        gkey = self._gkey(account, region, group)
        streams = self.db.list(STREAM, gkey + ":")
        with self.db.transaction():
            for key, _ in streams:
                self.db.delete(STREAM, key)
            self.db.delete(GROUP, gkey)
        self._retention.pop(gkey, None)
        for listener in self.listeners:
            listener.group_deleted(account, region, group)
        for _, doc in streams:
            await self._drop(account, region, group, doc["logStreamName"])

    async def _drop(self, account: str, region: str, group: str, stream: str) -> None:
        name = f"logs/{account}/{region}/{group}/{stream}"
        self._logs.pop(name, None)
        self._known.discard(f"{self._gkey(account, region, group)}:{stream}")
        await self.store.drop(name)

    def describe_groups(
        self,
        account: str,
        region: str,
        *,
        prefix: str | None,
        pattern: str | None,
        token: str | None,
        limit: int | None,
        log_class: str | None = None,
        identifiers: list[str] | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        if prefix and pattern:
            raise InvalidParameterException("LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.")
        if identifiers and (prefix or pattern):
            raise InvalidParameterException("logGroupIdentifiers cannot be combined with logGroupNamePrefix or logGroupNamePattern.")
        base = f"{account}:{region}:"
        filtered = bool(pattern or identifiers or log_class)
        # unfiltered, a page needs one row past its end (is there a next page?), not every group
        rows = self.db.list(GROUP, base + (prefix or ""), after=base + token if token else None,
                            limit=None if filtered else (limit or 50) + 1)
        if pattern:
            # a case-sensitive substring search (the model: "datalogs" does not match "DataLogs")
            rows = [(k, d) for k, d in rows if pattern in d["logGroupName"]]
        if identifiers:
            wanted = {group_name(i) for i in identifiers}
            rows = [(k, d) for k, d in rows if d["logGroupName"] in wanted]
        if log_class:
            rows = _of_class(rows, log_class)
        limit = limit or 50
        page = rows[:limit]
        out = []
        for _, d in page:
            if pattern:
                # "If you specify logGroupNamePattern ..., only arn, creationTime, and logGroupName are included"
                out.append({k: d[k] for k in ("logGroupName", "creationTime", "arn")})
                continue
            g = {k: v for k, v in d.items() if k != "tags"}
            g["storedBytes"] = sum(
                self._log(account, region, d["logGroupName"], s["logStreamName"]).size_bytes
                for _, s in self.db.list(STREAM, f"{base}{d['logGroupName']}:")
            )
            out.append(g)
        nxt = page[-1][0][len(base) :] if len(rows) > limit and page else None
        return out, nxt

    def list_groups(
        self,
        account: str,
        region: str,
        *,
        pattern: str | None = None,
        log_class: str | None = None,
        tag_filters: list[dict[str, Any]] | None = None,
        token: str | None = None,
        limit: int | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """ListLogGroups: name, ARN and class of each group, in name order. ``pattern`` is the model's small
        regular expression (``^`` for a prefix, ``|`` between at most five alternatives, ``.`` any character;
        case-sensitive); each tag filter needs its key with one of its values (any value when none is given),
        all filters together."""
        base = f"{account}:{region}:"
        rows = self.db.list(GROUP, base, after=base + token if token else None)
        if pattern:
            try:
                regex = re.compile(pattern)
            except re.error as e:
                raise InvalidParameterException(f"Invalid logGroupNamePattern: {pattern}") from e
            rows = [(k, d) for k, d in rows if regex.search(d["logGroupName"])]
        if log_class:
            rows = _of_class(rows, log_class)
        for f in tag_filters or []:
            key, values = f["key"], f.get("values") or []
            rows = [(k, d) for k, d in rows
                    if key in (d.get("tags") or {}) and (not values or d["tags"][key] in values)]
        limit = limit or 50
        page = rows[:limit]
        out = [{"logGroupName": d["logGroupName"], "logGroupArn": group_arn(region, account, d["logGroupName"]),
                "logGroupClass": d.get("logGroupClass", "STANDARD")} for _, d in page]
        nxt = page[-1][0][len(base):] if len(rows) > limit and page else None
        return out, nxt

    def put_retention(self, account: str, region: str, group: str, days: int) -> None:
        if days not in RETENTION_DAYS:
            raise InvalidParameterException(
                f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: {list(RETENTION_DAYS)}"
            )
        doc = self._group(account, region, group)
        doc["retentionInDays"] = days
        self.db.put(GROUP, self._gkey(account, region, group), doc)
        self._retention.pop(self._gkey(account, region, group), None)

    def delete_retention(self, account: str, region: str, group: str) -> None:
        doc = self._group(account, region, group)
        doc.pop("retentionInDays", None)
        self.db.put(GROUP, self._gkey(account, region, group), doc)
        self._retention.pop(self._gkey(account, region, group), None)

    def tag_group(self, account: str, region: str, group: str, tags: dict[str, str], *, resource_arn: str | None = None) -> None:
        """TagLogGroup, or TagResource when ``resource_arn`` is given (its error for > 50 tags differs)."""
        doc = self._group(account, region, group)
        merged = {**doc.get("tags", {}), **tags}
        if len(merged) > MAX_TAGS:
            if resource_arn is not None:
                raise TooManyTagsException("A resource can have no more than 50 tags.", resourceName=resource_arn)
            raise InvalidParameterException("A log group can have no more than 50 tags.")
        doc["tags"] = merged
        self.db.put(GROUP, self._gkey(account, region, group), doc)

    def untag_group(self, account: str, region: str, group: str, keys: list[str]) -> None:
        doc = self._group(account, region, group)
        for k in keys:
            doc.setdefault("tags", {}).pop(k, None)
        self.db.put(GROUP, self._gkey(account, region, group), doc)

    def group_tags(self, account: str, region: str, group: str) -> dict[str, str]:
        return dict(self._group(account, region, group).get("tags") or {})

    # --- streams --------------------------------------------------------------------------------

    def create_stream(self, account: str, region: str, group: str, stream: str) -> None:
        self._group(account, region, group)
        if ":" in stream or "*" in stream:
            raise InvalidParameterException("Log stream names cannot contain ':' or '*'.")
        key = f"{self._gkey(account, region, group)}:{stream}"
        doc = {
            "logStreamName": stream,
            "creationTime": int(self.now() * 1000),
            "arn": f"{group_arn(region, account, group)}:log-stream:{stream}",
        }
        if not self.db.insert(STREAM, key, doc):
            raise ResourceAlreadyExistsException("The specified log stream already exists")
        self._known.add(key)

    async def delete_stream(self, account: str, region: str, group: str, stream: str) -> None:
        self._stream(account, region, group, stream)
        self.db.delete(STREAM, f"{self._gkey(account, region, group)}:{stream}")
        for listener in self.listeners:
            listener.stream_deleted(account, region, group, stream)
        await self._drop(account, region, group, stream)

    def _stream_out(self, account: str, region: str, group: str, doc: dict[str, Any]) -> dict[str, Any]:
        out = dict(doc)
        lg = self._log(account, region, group, doc["logStreamName"])
        if lg.next_seq > lg.first_seq:
            first = lg.read(lg.first_seq, 1)
            last = lg.read(lg.next_seq - 1, 1)
            if first and last:
                out["firstEventTimestamp"] = decode_event(first[0].payload)[0]
                out["lastEventTimestamp"] = decode_event(last[0].payload)[0]
                out["lastIngestionTime"] = last[0].timestamp_ms
        out["uploadSequenceToken"] = str(lg.next_seq).zfill(56)
        # LogStream.storedBytes "is always reported as zero" since 2019 (the model); the group's counts
        out["storedBytes"] = 0
        return out

    def describe_streams(
        self, account: str, region: str, group: str, *, prefix: str | None, order_by: str | None, descending: bool, token: str | None, limit: int | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        self._group(account, region, group)
        if prefix and order_by == "LastEventTime":
            raise InvalidParameterException("Cannot order by LastEventTime with a logStreamNamePrefix.")
        base = f"{self._gkey(account, region, group)}:"
        streams = [self._stream_out(account, region, group, d) for _, d in self.db.list(STREAM, base + (prefix or ""))]
        if order_by == "LastEventTime":
            streams.sort(key=lambda s: (s.get("lastEventTimestamp") or 0, s["logStreamName"]), reverse=descending)
        elif descending:
            streams.reverse()
        start = _offset(token)
        limit = limit or 50
        page = streams[start : start + limit]
        return page, (_offset_token(start + limit) if start + limit < len(streams) else None)

    # --- events ---------------------------------------------------------------------------------

    async def put_events(self, account: str, region: str, group: str, stream: str, events: list[dict[str, Any]], *, auto_create: bool = False) -> dict[str, Any]:
        key = f"{self._gkey(account, region, group)}:{stream}"
        if key not in self._known:
            if self.db.get(STREAM, key) is None:
                if not auto_create:
                    self._stream(account, region, group, stream)
                if self.db.get(GROUP, self._gkey(account, region, group)) is None:
                    try:
                        self._insert_group(account, region, group)
                    except ResourceAlreadyExistsException:
                        pass
                try:
                    self.create_stream(account, region, group, stream)
                except ResourceAlreadyExistsException:
                    pass
            self._known.add(key)
        if len(events) > MAX_BATCH_EVENTS:
            raise InvalidParameterException(f"The batch of log events in a single PutLogEvents request cannot exceed {MAX_BATCH_EVENTS} events.")
        size = sum(len(e["message"].encode("utf-8")) + EVENT_OVERHEAD_BYTES for e in events)
        if size > MAX_BATCH_BYTES:
            raise InvalidParameterException(f"Upload too large: {size} bytes exceeds the maximum allowed of {MAX_BATCH_BYTES} bytes.")
        prev = None
        for e in events:
            if prev is not None and e["timestamp"] < prev:
                raise InvalidParameterException("Log events in a single PutLogEvents request must be in chronological order.")
            prev = e["timestamp"]
        now_ms = int(self.now() * 1000)
        gkey = self._gkey(account, region, group)
        if gkey in self._retention:
            retention = self._retention[gkey]
        else:
            gdoc = self.db.get(GROUP, gkey)
            retention = int(gdoc["retentionInDays"]) * 86_400_000 if gdoc and gdoc.get("retentionInDays") else None
            self._retention[gkey] = retention
        # Events older than 14 days are "too old"; younger ones from before the group's retention period
        # are "expired". The end indexes are exclusive (one old event at index 0 → tooOldLogEventEndIndex
        # 1, as AWS answers); tooNewLogEventStartIndex is the first too-new event.
        too_old_before = now_ms - TOO_OLD_MS
        expired_before = now_ms - retention if retention else too_old_before
        rejected: dict[str, int] = {}
        valid: list[tuple[int, str]] = []
        for i, e in enumerate(events):
            ts = int(e["timestamp"])
            if ts > now_ms + TOO_NEW_MS:
                rejected.setdefault("tooNewLogEventStartIndex", i)
            elif ts < too_old_before:
                rejected["tooOldLogEventEndIndex"] = i + 1
            elif ts < expired_before:
                rejected["expiredLogEventEndIndex"] = i + 1
            else:
                valid.append((ts, e["message"]))
        # the 24-hour span applies to the valid events only (the model: "For valid events ... the time
        # span in a single batch cannot exceed 24 hours")
        if valid and valid[-1][0] - valid[0][0] > MAX_SPAN_MS:
            raise InvalidParameterException("The batch of log events in a single PutLogEvents request cannot span more than 24 hours.")
        # no per-event cut: the model's event limit (1 MB) is above what the batch limit lets through
        payloads = [encode_event(ts, message) for ts, message in valid]
        lg = self._log(account, region, group, stream)
        if payloads:
            seqs = await lg.append(payloads)
            if self.listeners:
                batch = Appended(account, region, group, stream, [(seq, ts, msg) for seq, (ts, msg) in zip(seqs, valid)])
                for listener in self.listeners:
                    try:
                        listener.appended(batch)
                    except Exception:  # noqa: BLE001 - the events are stored; a filter's failure must not fail the put
                        log.exception("log listener failed group=%s stream=%s", group, stream)
        if retention:
            await self._maybe_trim(lg, now_ms - retention)
        out: dict[str, Any] = {"nextSequenceToken": str(lg.next_seq).zfill(56)}
        if rejected:
            out["rejectedLogEventsInfo"] = rejected
        return out

    async def _maybe_trim(self, lg: Log, cutoff_ms: int) -> None:
        last = self._trimmed.get(lg.name, 0.0)
        if self.now() - last < 60:
            return
        self._trimmed[lg.name] = self.now()
        await lg.trim(lg.seq_at_or_after_time(cutoff_ms))

    def _cutoff(self, gdoc: dict[str, Any]) -> int:
        days = gdoc.get("retentionInDays")
        return int(self.now() * 1000) - int(days) * 86_400_000 if days else -(1 << 62)

    # --- reads for the filters' catch-up --------------------------------------------------------

    def group_exists(self, account: str, region: str, group: str) -> bool:
        return self.db.get(GROUP, self._gkey(account, region, group)) is not None

    def stream_names(self, account: str, region: str, group: str) -> list[str]:
        return [d["logStreamName"] for _, d in self.db.list(STREAM, f"{self._gkey(account, region, group)}:")]

    def stream_log(self, account: str, region: str, group: str, stream: str) -> Log:
        """The durable log of a stream (records: ``decode_event`` payloads, append time = ingestion)."""
        return self._log(account, region, group, stream)

    def scan(
        self, account: str, region: str, group: str, *, start_time: int, end_time: int, streams: list[str] | None = None,
    ) -> Iterator[tuple[int, list[Event]]]:
        """Logs Insights' (and exports') read: every stream's (or ``streams``') events with ``start_time <=
        timestamp <= end_time`` (ms, both inclusive), in chunks of at most READ_CHUNK log records: (records read,
        events in range). Events past the group's retention are left out, as from every read."""
        gdoc = self._group(account, region, group)
        cutoff = self._cutoff(gdoc)
        for stream in self.stream_names(account, region, group) if streams is None else streams:
            lg = self._log(account, region, group, stream)
            seq, end = lg.first_seq, lg.next_seq
            while seq < end:
                chunk = lg.read(seq, min(READ_CHUNK, end - seq))
                if not chunk:
                    break
                out = []
                for rec in chunk:
                    if rec.timestamp_ms < cutoff or rec.seq >= end:
                        continue
                    ts, msg = decode_event(rec.payload)
                    if start_time <= ts <= end_time:
                        out.append(Event(stream, rec.seq, ts, rec.timestamp_ms, msg))
                yield len(chunk), out
                seq = chunk[-1].seq + 1

    def get_events(
        self,
        account: str,
        region: str,
        group: str,
        stream: str,
        *,
        start_time: int | None,
        end_time: int | None,
        token: str | None,
        limit: int | None,
        start_from_head: bool,
    ) -> dict[str, Any]:
        gdoc = self._group(account, region, group)
        self._stream(account, region, group, stream)
        lg = self._log(account, region, group, stream)
        cutoff = self._cutoff(gdoc)
        limit = limit or DEFAULT_GET_LIMIT
        if token:
            direction, pos = _parse_token(token)
        else:
            direction, pos = ("f", lg.first_seq) if start_from_head else ("b", lg.next_seq)
        pos = max(pos, lg.first_seq)

        def wanted(rec: LogRecord) -> tuple[int, str] | None:
            if rec.timestamp_ms < cutoff:
                return None
            ts, msg = decode_event(rec.payload)
            if start_time is not None and ts < start_time:
                return None
            if end_time is not None and ts >= end_time:
                return None
            return ts, msg

        # a page holds up to `limit` events and up to 1 MB of them (at least one event)
        picked: list[tuple[LogRecord, int, str]] = []
        size = 0
        full = False
        if direction == "f":
            seq = pos
            while len(picked) < limit and not full and seq < lg.next_seq:
                chunk = lg.read(seq, READ_CHUNK)
                if not chunk:
                    break
                for rec in chunk:
                    seq = rec.seq + 1
                    w = wanted(rec)
                    if w is not None:
                        if picked and size + _event_bytes(rec) > MAX_RESPONSE_BYTES:
                            full = True
                            break
                        picked.append((rec, *w))
                        size += _event_bytes(rec)
                        if len(picked) >= limit:
                            break
            fwd = picked[-1][0].seq + 1 if picked else pos
            bwd = picked[0][0].seq if picked else pos
        else:
            end = pos
            while len(picked) < limit and not full and end > lg.first_seq:
                start = max(lg.first_seq, end - READ_CHUNK)
                chunk = lg.read(start, end - start)
                for rec in reversed(chunk):
                    w = wanted(rec)
                    if w is not None:
                        if picked and size + _event_bytes(rec) > MAX_RESPONSE_BYTES:
                            full = True
                            break
                        picked.append((rec, *w))
                        size += _event_bytes(rec)
                        if len(picked) >= limit:
                            break
                end = start
                if not chunk:
                    break
            picked.reverse()
            fwd = picked[-1][0].seq + 1 if picked else pos
            bwd = picked[0][0].seq if picked else pos
        return {
            "events": [{"timestamp": ts, "message": msg, "ingestionTime": rec.timestamp_ms} for rec, ts, msg in picked],
            "nextForwardToken": f"f/{fwd:056d}/s",
            "nextBackwardToken": f"b/{bwd:056d}/s",
        }

    def filter_events(
        self,
        account: str,
        region: str,
        group: str,
        *,
        stream_names: list[str] | None,
        stream_prefix: str | None,
        start_time: int | None,
        end_time: int | None,
        pattern: str | None,
        token: str | None,
        limit: int | None,
        start_from_head: bool = True,
    ) -> dict[str, Any]:
        gdoc = self._group(account, region, group)
        if not start_from_head and start_time is not None and start_time < DESCENDING_SINCE_MS:
            raise InvalidParameterException("startFromHead set to false is supported only when startTime is on or after Jan 1, 2024 00:00:00 UTC.")
        if stream_names and stream_prefix:
            raise InvalidParameterException("logStreamNames and logStreamNamePrefix are mutually exclusive parameters.")
        try:
            match = compile_pattern(pattern)
        except PatternError as e:
            raise InvalidParameterException(str(e)) from e
        base = f"{self._gkey(account, region, group)}:"
        streams = [d["logStreamName"] for _, d in self.db.list(STREAM, base + (stream_prefix or ""))]
        if stream_names:
            wanted_names = set(stream_names)
            streams = [s for s in streams if s in wanted_names]
        cutoff = self._cutoff(gdoc)
        # the first request's startFromHead sets the direction; a nextToken carries it on (the model)
        after, ascending = _parse_cursor(token) if token else (None, start_from_head)
        limit = limit or DEFAULT_FILTER_LIMIT
        found: list[Event] = []
        for stream in streams:
            lg = self._log(account, region, group, stream)
            seq = lg.first_seq
            while seq < lg.next_seq:
                chunk = lg.read(seq, READ_CHUNK)
                if not chunk:
                    break
                for rec in chunk:
                    if rec.timestamp_ms < cutoff:
                        continue
                    ts, msg = decode_event(rec.payload)
                    if start_time is not None and ts < start_time:
                        continue
                    if end_time is not None and ts > end_time:
                        continue
                    if not match(msg):
                        continue
                    found.append(Event(stream, rec.seq, ts, rec.timestamp_ms, msg))
                seq = chunk[-1].seq + 1
        found.sort(key=lambda e: (e.timestamp, e.event_id), reverse=not ascending)
        if after is not None:
            found = [e for e in found if ((e.timestamp, e.event_id) > after) == ascending and (e.timestamp, e.event_id) != after]
        # a page holds up to `limit` events and up to 1 MB of them (at least one event), as GetLogEvents
        page: list[Event] = []
        size = 0
        for e in found[:limit]:
            n = len(e.message.encode("utf-8")) + EVENT_OVERHEAD_BYTES
            if page and size + n > MAX_RESPONSE_BYTES:
                break
            page.append(e)
            size += n
        out: dict[str, Any] = {
            "events": [
                {"logStreamName": e.stream, "timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingestion, "eventId": e.event_id}
                for e in page
            ],
            "searchedLogStreams": [{"logStreamName": s, "searchedCompletely": True} for s in streams],
        }
        if len(found) > len(page) and page:
            out["nextToken"] = _cursor_token(page[-1].timestamp, page[-1].event_id, ascending)
        return out


def _of_class(rows: list[tuple[str, dict[str, Any]]], log_class: str) -> list[tuple[str, dict[str, Any]]]:
    """The groups of a class; INFREQUENT_ACCESS and ESSENTIALS each select both (the model's logGroupClass doc)."""
    classes = {"INFREQUENT_ACCESS", "ESSENTIALS"} if log_class in ("INFREQUENT_ACCESS", "ESSENTIALS") else {log_class}
    return [(k, d) for k, d in rows if d.get("logGroupClass", "STANDARD") in classes]


def _event_bytes(rec: LogRecord) -> int:
    """An event's share of a 1 MB page: its message bytes + 26, as PutLogEvents counts them."""
    return len(rec.payload) - 8 + EVENT_OVERHEAD_BYTES


def _parse_token(token: str) -> tuple[str, int]:
    parts = token.split("/")
    if len(parts) < 2 or parts[0] not in ("f", "b") or not parts[1].isdigit():
        raise InvalidParameterException("The specified nextToken is invalid.")
    return parts[0], int(parts[1])


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode())
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidParameterException("The specified nextToken is invalid.") from e


def _offset_token(n: int) -> str:
    return base64.urlsafe_b64encode(str(n).encode()).decode()


def _cursor_token(ts: int, event_id: str, ascending: bool) -> str:
    return base64.urlsafe_b64encode(f"{ts}:{event_id}:{'a' if ascending else 'd'}".encode()).decode()


def _parse_cursor(token: str) -> tuple[tuple[int, str], bool]:
    """(timestamp, eventId) of the last event served, and whether the pages run oldest first."""
    try:
        ts, event_id, direction = base64.urlsafe_b64decode(token.encode()).decode().split(":")
        if direction not in ("a", "d") or not event_id.isdigit():
            raise ValueError(direction)
        return (int(ts), event_id), direction == "a"
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidParameterException("The specified nextToken is invalid.") from e
