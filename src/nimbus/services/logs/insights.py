"""Logs Insights queries: StartQuery / GetQueryResults / StopQuery / DescribeQueries.

A query is parsed when it is started (a syntax error is a MalformedQueryException then, with AWS's
``queryCompileError``), then runs as a background task: ``Scheduled`` until the task starts, ``Running``
while it scans the groups' events in the time range (yielding to the loop between chunks of 1,000 log
records), then ``Complete`` (or ``Cancelled`` by StopQuery, ``Failed`` on an unexpected error). Each event
becomes a record with ``@timestamp``, ``@message``, ``@logStream``, ``@log`` (``account:group``),
``@ingestionTime``, ``@ptr`` and, for a message that is a JSON object, its fields flattened with dots
(``a.b``, ``list.0``), as Insights discovers them.

Queries live in memory (the last 1,000; at most 30 running at once, as AWS's account quota): they do not
survive a restart, where AWS keeps them for 7 days.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from nimbus.errors import ServiceError
from nimbus.services.logs.groups import (
    Event,
    InvalidParameterException,
    LimitExceededException,
    LogGroups,
    ResourceNotFoundException,
    decode_event,
    group_name,
)
from nimbus.services.logs.insights_query import Query, QueryError, Run, parse, render

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 1000  # rows, when neither the query nor StartQuery sets one
MAX_RUNNING = 30  # concurrent queries per account (CloudWatch Logs quotas)
KEEP = 1000  # finished queries remembered
MAX_GROUPS = 50
MAX_FLATTENED_FIELDS = 200
MAX_PAGE_ROWS = 10_000  # rows per GetQueryResults answer  # Insights discovers up to 200 fields of a JSON event


class MalformedQueryException(ServiceError):
    code = "MalformedQueryException"
    status = 400


@dataclass(slots=True)
class QueryState:
    query_id: str
    account: str
    region: str
    groups: list[str]
    query_string: str
    start_s: int
    end_s: int
    limit: int
    parsed: Query
    create_ms: int
    status: str = "Scheduled"
    results: list[list[dict[str, str]]] = field(default_factory=list)
    statistics: dict[str, float] = field(default_factory=lambda: {"recordsMatched": 0.0, "recordsScanned": 0.0, "bytesScanned": 0.0})
    task: asyncio.Task[None] | None = None
    finished_ms: int | None = None


def flatten(doc: dict[str, Any], prefix: str = "", out: dict[str, Any] | None = None) -> dict[str, Any]:
    out = {} if out is None else out
    for k, v in doc.items():
        if len(out) >= MAX_FLATTENED_FIELDS:
            break
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            flatten(v, name + ".", out)
        elif isinstance(v, list):
            flatten({str(i): x for i, x in enumerate(v)}, name + ".", out)
        else:
            out[name] = v
    return out


def record_of(account: str, group: str, e: Event) -> dict[str, Any]:
    r: dict[str, Any] = {}
    if e.message[:1] == "{":
        try:
            doc = orjson.loads(e.message)
        except orjson.JSONDecodeError:
            doc = None
        if isinstance(doc, dict):
            flatten(doc, out=r)
    r.update({
        "@timestamp": e.timestamp,
        "@message": e.message,
        "@logStream": e.stream,
        "@log": f"{account}:{group}",
        "@ingestionTime": e.ingestion,
        "@ptr": base64.urlsafe_b64encode(f"{group}\n{e.stream}\n{e.seq}".encode()).decode().rstrip("="),
    })
    return r


class Queries:
    def __init__(self, engine: LogGroups, *, clock_time: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.now = clock_time
        self._queries: dict[str, QueryState] = {}

    async def aclose(self) -> None:
        tasks = [q.task for q in self._queries.values() if q.task is not None and not q.task.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def start(
        self,
        account: str,
        region: str,
        *,
        group: str | None,
        groups: list[str] | None,
        identifiers: list[str] | None,
        query_string: str,
        start_s: int,
        end_s: int,
        limit: int | None,
        language: str | None,
        request_id: str = "",
    ) -> str:
        given = [x for x in (group, groups, identifiers) if x]
        if len(given) != 1:
            raise InvalidParameterException("Exactly one of logGroupName, logGroupNames or logGroupIdentifiers must be specified.")
        if language not in (None, "CWLI"):
            raise InvalidParameterException(f"Nimbus runs Logs Insights QL (CWLI) queries only, not {language}.")
        names = [group] if group else [group_name(g) for g in (groups or identifiers or [])]
        if len(names) > MAX_GROUPS:
            raise InvalidParameterException(f"A query can name at most {MAX_GROUPS} log groups.")
        if end_s < start_s:
            raise InvalidParameterException("endTime cannot be before startTime.")
        for name in names:
            if not self.engine.group_exists(account, region, name):
                raise ResourceNotFoundException(
                    f"Log group '{name}' does not exist for account ID '{account}' (Service: AWSLogs; Status Code: 400; "
                    f"Error Code: ResourceNotFoundException; Request ID: {request_id}; Proxy: null)"
                )
        try:
            parsed = parse(query_string)
        except QueryError as e:
            raise MalformedQueryException(
                str(e), queryCompileError={"location": {"startCharOffset": e.start, "endCharOffset": e.end}, "message": str(e)}
            ) from e
        running = sum(1 for q in self._queries.values() if q.account == account and q.status in ("Scheduled", "Running"))
        if running >= MAX_RUNNING:
            raise LimitExceededException(f"Account maximum query concurrency limit of [{MAX_RUNNING}] reached.")
        effective = min(x for x in (parsed.limit, limit) if x is not None) if (parsed.limit or limit) else DEFAULT_LIMIT
        q = QueryState(
            str(uuid.uuid4()), account, region, names, query_string, start_s, end_s, effective, parsed, int(self.now() * 1000)
        )
        self._queries[q.query_id] = q
        self._forget_old()
        q.task = asyncio.get_running_loop().create_task(self._run(q), name=f"logs-query-{q.query_id}")
        return q.query_id

    def _forget_old(self) -> None:
        done = [q for q in self._queries.values() if q.status not in ("Scheduled", "Running")]
        for q in sorted(done, key=lambda q: q.create_ms)[: max(0, len(self._queries) - KEEP)]:
            self._queries.pop(q.query_id, None)

    async def _run(self, q: QueryState) -> None:
        await asyncio.sleep(0)  # answered Scheduled first
        if q.status != "Scheduled":
            return
        q.status = "Running"
        run = Run(q.parsed, limit=q.limit)
        scanned = size = 0
        try:
            for name in q.groups:
                try:
                    chunks = self.engine.scan(q.account, q.region, name, start_time=q.start_s * 1000, end_time=q.end_s * 1000 + 999)
                    for _, events in chunks:
                        scanned += len(events)
                        size += sum(len(e.message.encode("utf-8")) for e in events)
                        run.feed(record_of(q.account, name, e) for e in events)
                        q.statistics = {"recordsMatched": float(run.matched), "recordsScanned": float(scanned), "bytesScanned": float(size)}
                        await asyncio.sleep(0)
                        if q.status != "Running":
                            return
                except ResourceNotFoundException:
                    continue  # the group was deleted meanwhile
            rows = run.results()
            shown = q.parsed.shown()
            stats = q.parsed.has_stats
            q.results = [_row(r, shown, with_ptr=not stats) for r in rows]
            q.status = "Complete"
        except asyncio.CancelledError:
            q.status = "Cancelled"
            raise
        except Exception:  # noqa: BLE001 - a query failing is its own status, never the server's
            log.exception("logs insights query failed id=%s", q.query_id)
            q.status = "Failed"
        finally:
            q.finished_ms = int(self.now() * 1000)

    def _get(self, account: str, query_id: str) -> QueryState:
        q = self._queries.get(query_id)
        if q is None or q.account != account:
            raise ResourceNotFoundException(f"Query {query_id} does not exist.")
        return q

    def results(self, account: str, query_id: str, *, token: str | None = None, max_items: int | None = None) -> dict[str, Any]:
        """GetQueryResults: up to ``max_items`` rows (10,000 when not given) from ``token`` on."""
        q = self._get(account, query_id)
        rows = q.results if q.status == "Complete" else []
        start = 0
        if token:
            if not token.isdigit():
                raise InvalidParameterException("The specified nextToken is invalid.")
            start = int(token)
        n = max_items if max_items else MAX_PAGE_ROWS
        out: dict[str, Any] = {
            "queryLanguage": "CWLI",
            "results": rows[start : start + n],
            "statistics": dict(q.statistics),
            "status": q.status,
        }
        if start + n < len(rows):
            out["nextToken"] = str(start + n)
        return out

    def stop(self, account: str, query_id: str) -> bool:
        q = self._get(account, query_id)
        if q.status not in ("Scheduled", "Running"):
            return False
        q.status = "Cancelled"
        return True

    def describe(
        self, account: str, region: str, *, group: str | None, status: str | None, max_results: int | None, token: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        qs = [q for q in self._queries.values() if q.account == account and q.region == region]
        if group:
            qs = [q for q in qs if group in q.groups]
        if status:
            qs = [q for q in qs if q.status == status]
        qs.sort(key=lambda q: q.create_ms, reverse=True)
        start = int(token) if token and token.isdigit() else 0
        n = max_results or 1000
        page = qs[start : start + n]
        out = []
        for q in page:
            # the query string as AWS records it: the groups and time range in front
            sources = " ".join(f'SOURCE "{g}"' if i == 0 else f'"{g}"' for i, g in enumerate(q.groups))
            out.append({
                "queryLanguage": "CWLI",
                "queryId": q.query_id,
                "queryString": f"{sources} START={q.start_s}000 END={q.end_s}999 | {q.query_string}",
                "status": q.status,
                "createTime": q.create_ms,
                "logGroupName": q.groups[0],
            })
        return out, (str(start + n) if start + n < len(qs) else None)


def log_record(engine: LogGroups, account: str, region: str, pointer: str) -> dict[str, str]:
    """GetLogRecord: every field of the event a result's ``@ptr`` points at (times in epoch ms)."""
    try:
        group, stream, seq = base64.urlsafe_b64decode(pointer + "=" * (-len(pointer) % 4)).decode().split("\n")
        position = int(seq)
    except ValueError as e:
        raise InvalidParameterException("The specified logRecordPointer is invalid.") from e
    if not engine.group_exists(account, region, group) or stream not in engine.stream_names(account, region, group):
        raise ResourceNotFoundException("The specified log record does not exist.")
    lg = engine.stream_log(account, region, group, stream)
    recs = lg.read(position, 1) if lg.first_seq <= position < lg.next_seq else []
    if not recs or recs[0].seq != position:
        raise ResourceNotFoundException("The specified log record does not exist.")
    ts, message = decode_event(recs[0].payload)
    r = record_of(account, group, Event(stream, position, ts, recs[0].timestamp_ms, message))
    r.pop("@ptr", None)
    return {k: (str(v) if k in ("@timestamp", "@ingestionTime") else render(k, v)) for k, v in r.items()}


def _row(r: dict[str, Any], shown: list[str] | None, *, with_ptr: bool) -> list[dict[str, str]]:
    names = shown if shown is not None else [k for k in r if k != "@ptr"]
    out = [{"field": n, "value": render(n, r[n])} for n in names if r.get(n) is not None]
    if with_ptr and "@ptr" in r:
        out.append({"field": "@ptr", "value": r["@ptr"]})
    return out


FIELDS_WINDOW_MS = 15 * 60 * 1000  # GetLogGroupFields looks at 15 minutes of events, as AWS does


def group_fields(engine: LogGroups, account: str, region: str, group: str, at_s: int | None, *, now_s: float) -> list[dict[str, Any]]:
    """GetLogGroupFields: the fields of the group's events in the 15 minutes up to now, or the 8 minutes
    either side of ``at_s``, each with the percentage of those events that have it (the system fields and
    the keys Insights discovers in JSON events), most common first."""
    if at_s is None:
        end = int(now_s * 1000)
        start = end - FIELDS_WINDOW_MS
    else:
        start, end = at_s * 1000 - 8 * 60 * 1000, at_s * 1000 + 8 * 60 * 1000
    counts: dict[str, int] = {}
    total = 0
    for _, events in engine.scan(account, region, group, start_time=start, end_time=end):
        for e in events:
            total += 1
            for name in record_of(account, group, e):
                if name != "@ptr":  # a pointer, not a field of the event
                    counts[name] = counts.get(name, 0) + 1
    if not total:
        return []
    return [{"name": k, "percent": round(v * 100 / total)} for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
