"""HttpEndpoint destinations: the configuration rules (create, describe, update) and the deliverer that POSTs
each batch to the endpoint, retrying for ``RetryOptions.DurationInSeconds``, then backs up to S3.

AWS's developer guide, "HTTP endpoint delivery request and response specifications": a POST with
``{"requestId", "timestamp", "records": [{"data": base64}]}`` and the ``X-Amz-Firehose-*`` headers; the
endpoint answers 200 with ``{"requestId": same, "timestamp"}``, anything else is a failure. The request id
stays the same across the attempts of one request. Choices where AWS is silent ([choice] in
docs/services/firehose.md): ``http://`` URLs are accepted (AWS takes https only) so a local webhook works;
the requests of a batch are sent one after the other; failed records are written under
``http-endpoint-failed/`` as the same JSON lines as processing failures (rawData is what was sent).

The batch, transform, S3 writes (with their own retries) and checkpoint are the Deliverer's: the
checkpoint moves once every request of the batch succeeded or its records are in the backup, so a crash
in between sends the batch again (at least once).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import gzip
import contextlib
import logging
import math
import ssl
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any

import httptools
import orjson

from nimbus.services.firehose import compression
from nimbus.services.firehose import metrics as m
from nimbus.services.firehose.delivery import RETRY_BACKOFF_S, Deliverer, DeliveryConfig, PlannedObject, _error_output_type
from nimbus.services.firehose.errors import InvalidArgumentException
from nimbus.services.firehose.prefixes import Layout
from nimbus.services.firehose.transform import Failed, LambdaProcessor, SourceRecord, Transformed, error_record

log = logging.getLogger(__name__)

API = "HttpEndpoint"  # the stream document's "api" for these destinations
# HttpEndpointBufferingHints / HttpEndpointRetryOptions ranges and AWS's defaults (botocore model, API reference)
DEFAULT_SIZE_MB, MIN_SIZE_MB, MAX_SIZE_MB = 5, 1, 64
DEFAULT_INTERVAL_S, MIN_INTERVAL_S, MAX_INTERVAL_S = 300, 0, 900
DEFAULT_RETRY_S, MAX_RETRY_S = 300, 7200
DEFAULT_REQUEST_TIMEOUT_S = 180.0  # "HTTP endpoints have 3 minutes to respond" (NIMBUS_FIREHOSE_HTTP_TIMEOUT_S)
MAX_ACCESS_KEY = 4096
MAX_COMMON_ATTRIBUTES = 50
ERROR_OUTPUT_TYPE = "http-endpoint-failed"  # contracts A.4 (!{firehose:error-output-type})
BACKUP_MODES = ("FailedDataOnly", "AllData")
MAX_RESPONSE_BYTES = 64 * 1024  # what is read of an answer (the error message keeps a truncated part)
_RECORD_OVERHEAD = len(b'{"data":""},')


def _bad(message: str) -> InvalidArgumentException:
    return InvalidArgumentException(message)


# ------------------------------------------------------------------------------------ configuration


def check_url(url: str) -> None:
    parts = urllib.parse.urlsplit(url or "")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        # AWS accepts https:// only; Nimbus also takes http:// for local endpoints [choice]
        raise _bad(f"EndpointConfiguration.Url {url!r} must be an https:// (or, on Nimbus, http://) URL with a host.")
    try:
        parts.port
    except ValueError as e:
        raise _bad(f"EndpointConfiguration.Url {url!r} has an invalid port.") from e


def normalize(conf: dict[str, Any], *, min_interval_s: float) -> dict[str, Any]:
    """Validate an HttpEndpointDestinationConfiguration (its S3Configuration and processors are checked by
    the caller, which knows S3 destinations) and fill in AWS's defaults."""
    out = copy.deepcopy(conf)
    ep = out.get("EndpointConfiguration") or {}
    check_url(ep.get("Url", ""))
    if "Name" in ep and not str(ep["Name"]).strip():
        raise _bad("EndpointConfiguration.Name must not be blank.")
    if len(ep.get("AccessKey") or "") > MAX_ACCESS_KEY:
        raise _bad(f"EndpointConfiguration.AccessKey is longer than {MAX_ACCESS_KEY} characters.")
    if any(ch in (ep.get("AccessKey") or "") + ep.get("Url", "") for ch in "\r\n"):
        raise _bad("EndpointConfiguration: Url and AccessKey cannot hold line breaks.")
    hints = out.get("BufferingHints") or {}
    size = hints.get("SizeInMBs", DEFAULT_SIZE_MB)
    interval = hints.get("IntervalInSeconds", DEFAULT_INTERVAL_S)
    if not MIN_SIZE_MB <= size <= MAX_SIZE_MB:
        raise _bad(f"BufferingHints.SizeInMBs must be between {MIN_SIZE_MB} and {MAX_SIZE_MB}.")
    if not max(min_interval_s, MIN_INTERVAL_S) <= interval <= MAX_INTERVAL_S:
        raise _bad(f"BufferingHints.IntervalInSeconds must be between {MIN_INTERVAL_S} and {MAX_INTERVAL_S}.")
    out["BufferingHints"] = {"SizeInMBs": size, "IntervalInSeconds": interval}
    rc = out.setdefault("RequestConfiguration", {})
    enc = rc.setdefault("ContentEncoding", "NONE")
    if enc not in ("NONE", "GZIP"):
        raise _bad(f"RequestConfiguration.ContentEncoding {enc!r} is not one of NONE, GZIP.")
    attrs = rc.setdefault("CommonAttributes", [])
    if len(attrs) > MAX_COMMON_ATTRIBUTES:
        raise _bad(f"RequestConfiguration.CommonAttributes holds at most {MAX_COMMON_ATTRIBUTES} attributes.")
    names = [a.get("AttributeName") for a in attrs]
    if len(set(names)) != len(names):
        raise _bad("RequestConfiguration.CommonAttributes: attribute names must be unique.")
    retry = out.setdefault("RetryOptions", {}).setdefault("DurationInSeconds", DEFAULT_RETRY_S)
    if not 0 <= retry <= MAX_RETRY_S:
        raise _bad(f"RetryOptions.DurationInSeconds must be between 0 and {MAX_RETRY_S}.")
    mode = out.setdefault("S3BackupMode", "FailedDataOnly")
    if mode not in BACKUP_MODES:
        raise _bad(f"S3BackupMode {mode!r} is not one of {', '.join(BACKUP_MODES)}.")
    out.setdefault("CloudWatchLoggingOptions", {"Enabled": False})
    cw = out["CloudWatchLoggingOptions"]
    if cw.get("Enabled") and not (cw.get("LogGroupName") and cw.get("LogStreamName")):
        raise _bad("CloudWatchLoggingOptions: LogGroupName and LogStreamName are required when Enabled.")
    if (out.get("SecretsManagerConfiguration") or {}).get("Enabled"):
        raise _bad("SecretsManagerConfiguration is not supported by Nimbus; give EndpointConfiguration.AccessKey.")
    pc = out.get("ProcessingConfiguration")
    if pc is None:
        out["ProcessingConfiguration"] = {"Enabled": False, "Processors": []}
    else:
        for p in pc.get("Processors") or []:
            if p.get("Type") not in ("Lambda",):
                raise _bad(f"Processor type {p.get('Type')} is not supported by Nimbus for an HttpEndpoint destination (Lambda only).")
    if not out.get("S3Configuration"):
        raise _bad("S3Configuration is required for an HttpEndpoint destination.")
    return out


def merge_update(old: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """HttpEndpointDestinationUpdate merged into the stored configuration: given fields replace, the rest
    stay; ``S3Update`` merges into S3Configuration; an EndpointConfiguration without AccessKey keeps the
    current key [choice] (AWS never returns it, so a client could not send it back)."""
    merged = copy.deepcopy(old)
    for name, value in update.items():
        if name == "S3Update":
            merged["S3Configuration"] = {**(old.get("S3Configuration") or {}), **value}
        elif name == "EndpointConfiguration":
            ep = dict(value)
            if "AccessKey" not in ep and "AccessKey" in (old.get("EndpointConfiguration") or {}):
                ep["AccessKey"] = old["EndpointConfiguration"]["AccessKey"]
            merged[name] = ep
        elif name in ("BufferingHints", "RequestConfiguration", "RetryOptions"):
            merged[name] = {**(old.get(name) or {}), **value}
        else:
            merged[name] = value
    if old.get("S3BackupMode") == "AllData" and merged.get("S3BackupMode") == "FailedDataOnly":
        raise _bad("S3BackupMode cannot be changed from AllData to FailedDataOnly.")
    return merged


def describe(dest: dict[str, Any], s3_description: dict[str, Any]) -> dict[str, Any]:
    """HttpEndpointDestinationDescription: the AccessKey is never returned (AWS's description has no such
    member), the S3 configuration becomes S3DestinationDescription."""
    ep = dest["EndpointConfiguration"]
    out: dict[str, Any] = {"EndpointConfiguration": {k: ep[k] for k in ("Url", "Name") if k in ep}}
    for k in ("BufferingHints", "CloudWatchLoggingOptions", "RequestConfiguration", "ProcessingConfiguration",
              "RoleARN", "RetryOptions", "S3BackupMode"):
        if k in dest:
            out[k] = copy.deepcopy(dest[k])
    for p in out.get("ProcessingConfiguration", {}).get("Processors") or []:
        if p.get("Type") == "Lambda":
            names = {x["ParameterName"] for x in p.get("Parameters") or []}
            for pname, default in (("NumberOfRetries", "3"), ("BufferSizeInMBs", "1"), ("BufferIntervalInSeconds", "60")):
                if pname not in names:
                    p.setdefault("Parameters", []).append({"ParameterName": pname, "ParameterValue": default})
    out["S3DestinationDescription"] = s3_description
    return out


@dataclass(slots=True, frozen=True)
class HttpTarget:
    """Where and how a stream's batches are POSTed (rebuilt from the stream document on each change)."""

    url: str
    access_key: str | None
    gzip: bool
    common_attributes: dict[str, str] = field(default_factory=dict)
    retry_s: float = DEFAULT_RETRY_S
    backup_all: bool = False
    timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S


def delivery_config(doc: dict[str, Any], *, bucket: str, timeout_s: float) -> DeliveryConfig:
    """The DeliveryConfig of an HttpEndpoint stream: its S3Configuration is where backups and error records go."""
    dest = doc["destination"]
    s3 = dest["S3Configuration"]
    processor = None
    pc = dest.get("ProcessingConfiguration") or {}
    if pc.get("Enabled"):
        for p in pc.get("Processors") or []:
            if p["Type"] == "Lambda":
                processor = LambdaProcessor.from_parameters({x["ParameterName"]: x["ParameterValue"] for x in p.get("Parameters") or []})
    rc = dest.get("RequestConfiguration") or {}
    ep = dest["EndpointConfiguration"]
    target = HttpTarget(
        url=ep["Url"], access_key=ep.get("AccessKey"), gzip=rc.get("ContentEncoding") == "GZIP",
        common_attributes={a["AttributeName"]: a["AttributeValue"] for a in rc.get("CommonAttributes") or []},
        retry_s=float((dest.get("RetryOptions") or {}).get("DurationInSeconds", DEFAULT_RETRY_S)),
        backup_all=dest.get("S3BackupMode") == "AllData", timeout_s=timeout_s,
    )
    return DeliveryConfig(
        stream_name=doc["name"], stream_arn=doc["arn"], account_id=doc["account"], region=doc["region"],
        version=str(doc["version"]), bucket=bucket, layout=Layout(s3.get("Prefix"), s3.get("ErrorOutputPrefix")),
        compression=s3.get("CompressionFormat", "UNCOMPRESSED"), processor=processor, http=target,
        kinesis_source=doc["type"] == "KinesisStreamAsSource", destination=ep["Url"],
    )


# ------------------------------------------------------------------------------------------ wire


class EndpointFailure(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def request_body(request_id: str, timestamp_ms: int, records: list[bytes]) -> bytes:
    return orjson.dumps({
        "requestId": request_id, "timestamp": timestamp_ms,
        "records": [{"data": base64.b64encode(r).decode("ascii")} for r in records],
    })


def request_headers(target: HttpTarget, request_id: str, source_arn: str) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "X-Amz-Firehose-Protocol-Version": "1.0",
        "X-Amz-Firehose-Request-Id": request_id,
        "X-Amz-Firehose-Source-Arn": source_arn,
        "User-Agent": "Nimbus-Firehose/1.0",
    }
    if target.access_key is not None:
        headers["X-Amz-Firehose-Access-Key"] = target.access_key
    if target.common_attributes:
        headers["X-Amz-Firehose-Common-Attributes"] = orjson.dumps({"commonAttributes": target.common_attributes}).decode()
    if target.gzip:
        headers["Content-Encoding"] = "gzip"
    return headers


def check_response(request_id: str, status: int, body: bytes) -> None:
    """Raise EndpointFailure unless the answer is 200 with ``{"requestId": same, "timestamp": number}``."""
    text = body[:1024].decode("utf-8", "replace")
    if status != 200:  # a 2xx other than 200 fails too, as on AWS
        raise EndpointFailure(
            "HttpEndpoint.DestinationException",
            f"The following response was received from the endpoint destination. {status}: {text}",
        )
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        doc = None
    if not isinstance(doc, dict) or doc.get("requestId") != request_id or not isinstance(doc.get("timestamp"), (int, float)):
        raise EndpointFailure(
            "HttpEndpoint.InvalidResponseFromDestination",
            f"The response received from the endpoint is invalid (a JSON object with this request's requestId and a timestamp is expected): {text}",
        )


class _Answer:
    """httptools callbacks: the status comes from the parser, the body is kept up to MAX_RESPONSE_BYTES."""

    def __init__(self) -> None:
        self.body = bytearray()
        self.headers_done = False
        self.done = False

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, data: bytes) -> None:
        room = MAX_RESPONSE_BYTES - len(self.body)
        if room > 0:
            self.body += data[:room]

    def on_message_complete(self) -> None:
        self.done = True


async def post(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> tuple[int, bytes]:
    """One POST on its own connection (``Connection: close``), on the event loop: a slow endpoint holds
    no worker thread. ``timeout_s`` bounds connecting, then sending and the whole answer. Raises
    EndpointFailure for transport failures and timeouts."""
    parts = urllib.parse.urlsplit(url)
    https = parts.scheme == "https"
    host = parts.hostname or ""
    port = parts.port or (443 if https else 80)
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=ssl.create_default_context() if https else None), timeout_s,
        )
    except asyncio.TimeoutError as e:
        raise EndpointFailure("HttpEndpoint.RequestTimeout", f"No connection to the endpoint within {timeout_s:g} seconds.") from e
    except OSError as e:
        raise EndpointFailure("HttpEndpoint.ConnectionFailed", f"Unable to connect to the endpoint: {e}") from e
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    authority = parts.netloc.rpartition("@")[2]
    head = [f"POST {path} HTTP/1.1", f"Host: {authority}", f"Content-Length: {len(body)}", "Connection: close"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    try:
        return await asyncio.wait_for(_exchange(reader, writer, ("\r\n".join(head) + "\r\n\r\n").encode(), body), timeout_s)
    except asyncio.TimeoutError as e:
        raise EndpointFailure("HttpEndpoint.RequestTimeout", f"The endpoint did not answer within {timeout_s:g} seconds.") from e
    except (OSError, httptools.HttpParserError) as e:
        raise EndpointFailure("HttpEndpoint.ConnectionReset", f"The connection to the endpoint failed: {type(e).__name__}: {e}") from e
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.wait_closed(), 1.0)


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes, body: bytes) -> tuple[int, bytes]:
    writer.write(head)
    writer.write(body)
    await writer.drain()
    answer = _Answer()
    parser = httptools.HttpResponseParser(answer)
    while not answer.done:
        data = await reader.read(65536)
        if not data:  # closed: the end of a body delimited by the connection, or a broken answer
            if not answer.headers_done:
                raise ConnectionResetError("the endpoint closed the connection before answering")
            break
        parser.feed_data(data)
    return parser.get_status_code(), bytes(answer.body)


def split_requests(items: list[Transformed], max_bytes: int) -> list[list[Transformed]]:
    """The batch's records in requests whose body stays within the size hint (base64 and JSON counted);
    a record bigger than that alone goes in a request of its own."""
    out: list[list[Transformed]] = []
    cur: list[Transformed] = []
    size = 100  # requestId, timestamp, braces
    for t in items:
        n = 4 * math.ceil(len(t.data) / 3) + _RECORD_OVERHEAD
        if cur and size + n > max_bytes:
            out.append(cur)
            cur, size = [], 100
        cur.append(t)
        size += n
    if cur:
        out.append(cur)
    return out


# ------------------------------------------------------------------------------------- deliverer


class HttpEndpointDeliverer(Deliverer):
    """The Deliverer of an HttpEndpoint stream: the same loop, buffer, transform and checkpoint; a flush
    POSTs the batch instead of writing an object, then writes what has to be backed up."""

    async def flush_once(self) -> int:
        cfg = self.config()
        target: HttpTarget = cfg.http
        batch = await self.collect(cfg)
        if batch is None:
            return 0
        http_failed: list[Failed] = []
        for chunk in split_requests(batch.ok, self.buffer.size_bytes):
            failure = await self._send(cfg, target, chunk)
            if failure is not None:
                code, message, attempts = failure
                ending = int(self.clock.time() * 1000)
                http_failed += [Failed(SourceRecord(t.source.seq, t.source.arrival_ms, t.data), code, message, attempts, ending, None) for t in chunk]
        plan = self._backup_plan(cfg, batch.sources, batch.failed, http_failed)
        count, first = len(batch.sources), batch.sources[0].arrival_ms
        return await self._deliver(cfg, plan, count, first, batch.source_bytes, batch.end_seq)

    async def _send(self, cfg: DeliveryConfig, target: HttpTarget, chunk: list[Transformed]) -> tuple[str, str, int] | None:
        """POST one request until it succeeds (None) or the retry duration, counted from the first failure,
        has passed: then (errorCode, errorMessage, attempts). Each retry takes the endpoint's current
        configuration, so an UpdateDestination fixing a wrong URL or key applies to a batch being retried."""
        request_id = str(uuid.uuid4())
        payload = request_body(request_id, int(self.clock.time() * 1000), [t.data for t in chunk])
        labels = cfg.labels
        attempts = 0
        first_failure: float | None = None
        sent_with: HttpTarget | None = None
        body, headers = payload, {}
        while True:
            attempts += 1
            if attempts > 1:
                target = getattr(self.config(), "http", None) or target
            if target != sent_with:
                body = gzip.compress(payload) if target.gzip else payload
                headers = request_headers(target, request_id, cfg.stream_arn)
                sent_with = target
            try:
                status, answer = await post(target.url, body, headers, target.timeout_s)
                check_response(request_id, status, answer)
            except EndpointFailure as e:
                m.HTTP_REQUESTS.inc(*labels, "failure")
                self.counters.delivery_failures += 1
                self.counters.last_error = f"{e.code}: {e.message}"
                self.log_error(cfg, e.code, e.message)
                now = self.clock.time()
                if first_failure is None:
                    first_failure = now
                left = target.retry_s - (now - first_failure)
                if left <= 0:
                    log.warning("firehose http endpoint gave up stream=%s records=%d attempts=%d error=%s",
                                cfg.stream_name, len(chunk), attempts, e.code)
                    return e.code, e.message, attempts
                delay = min(RETRY_BACKOFF_S[min(attempts - 1, len(RETRY_BACKOFF_S) - 1)], left)
                log.info("firehose http endpoint failed stream=%s attempt=%d retry_in=%.1fs error=%s",
                         cfg.stream_name, attempts, delay, e.code)
                await self._sleep_unless_closing(delay)
                continue
            n = sum(len(t.data) for t in chunk)
            m.HTTP_REQUESTS.inc(*labels, "success")
            m.HTTP_RECORDS.inc(*labels, amount=len(chunk))
            m.HTTP_BYTES.inc(*labels, amount=n)
            self.counters.delivered_records += len(chunk)
            self.counters.delivered_bytes += n
            return None

    def _backup_plan(
        self, cfg: DeliveryConfig, sources: list[SourceRecord], processing_failed: list[Failed], http_failed: list[Failed]
    ) -> list[PlannedObject]:
        """Objects for the S3 backup bucket: error records by error-output-type (processing-failed,
        http-endpoint-failed; uncompressed, as S3 destinations write theirs) and, with AllData, every source
        record in one object under the backup prefix with the backup's compression."""
        plan: list[PlannedObject] = []
        by_type: dict[str, list[Failed]] = {}
        for f in processing_failed:
            by_type.setdefault(_error_output_type(f), []).append(f)
        if http_failed:
            by_type[ERROR_OUTPUT_TYPE] = http_failed
        for etype, items in by_type.items():
            oldest = min(f.source.arrival_ms for f in items)
            key = cfg.layout.error_prefix(oldest, etype) + cfg.layout.object_name(cfg.stream_name, cfg.version, oldest, str(uuid.uuid4()), "")
            plan.append(PlannedObject(cfg.bucket, key, b"".join(error_record(f) for f in items), None, len(items), "error"))
        if cfg.http.backup_all and sources:
            oldest = min(s.arrival_ms for s in sources)
            ext = compression.extension(cfg.compression, None)
            key = cfg.layout.prefix(oldest) + cfg.layout.object_name(cfg.stream_name, cfg.version, oldest, str(uuid.uuid4()), ext)
            body = compression.compress(cfg.compression, b"".join(s.data for s in sources))
            plan.append(PlannedObject(cfg.bucket, key, body, compression.content_encoding(cfg.compression), len(sources), "backup"))
        return plan
