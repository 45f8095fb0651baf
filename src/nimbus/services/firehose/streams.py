"""Delivery streams: the control plane (create, describe, list, update, delete, tags, encryption) and the
data plane entry (put records), over metadata documents, one durable buffer and one deliverer each.

aws-contracts.md A.1/A.2/A.3/A.7/A.9. Rules the model does not state and choices made here:

* Status: ``CREATING`` for ``create_delay_s`` after CreateDeliveryStream (persisted as an instant, so a
  restart does not reset it), then ``ACTIVE``. Put* while CREATING → ResourceNotFoundException, while
  DELETING → ResourceInUseException (A.2 [choice]).
* DeleteDeliveryStream drops buffered, undelivered data, as AWS does: the stream goes DELETING, its
  deliverer stops, it stays DELETING for ``delete_delay_s`` (default 0), then its log and checkpoint are
  dropped, then the document. A crash mid-delete is finished at the next start.
* Each stream incarnation has its own log (``firehose/<account>/<region>/<name>/<incarnation>``), so a
  stream re-created under the same name never sees its predecessor's records.
* UpdateDestination merges the given fields into the S3 configuration (S3DestinationUpdate and
  ExtendedS3DestinationUpdate both apply to Nimbus's S3 destinations); S3BackupMode cannot go back to
  Disabled and DynamicPartitioning cannot change (A.2).
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import logging
import re
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nimbus import arn as arns
from nimbus.clock import Clock
from nimbus.config import ConfigError
from nimbus.services.firehose import compression
from nimbus.services.firehose import http_endpoint
from nimbus.services.firehose import metrics as m
from nimbus.services.firehose.buffer import StreamBuffer
from nimbus.services.firehose.delivery import (
    DEFAULT_RETENTION_S,
    BackupTarget,
    Deliverer,
    DeliveryConfig,
    ObjectSink,
    parse_metadata_query,
)
from nimbus.services.firehose.errors import (
    ConcurrentModificationException,
    InvalidArgumentException,
    LimitExceededException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from nimbus.services.firehose.kinesis_source import KinesisSource
from nimbus.services.firehose.prefixes import Layout, PrefixError, resolve_time_zone, validate
from nimbus.services.firehose.quotas import StreamQuota, default_rates
from nimbus.services.firehose.transform import FunctionInvoker, LambdaProcessor, Transformer
from nimbus.storage import LogStore, MetadataStore

log = logging.getLogger(__name__)

KIND = "firehose.stream"
DESTINATION_ID = "destinationId-000000000001"  # A.1 [observed]

# A.3 defaults and ranges
DEFAULT_SIZE_MB = 5
DEFAULT_INTERVAL_S = 300
MIN_SIZE_MB, MAX_SIZE_MB = 1, 128
MIN_INTERVAL_S, MAX_INTERVAL_S = 0, 900
# A.7 / A.8 limits
MAX_RECORD_BYTES = 1_024_000
MAX_BATCH_RECORDS = 500
MAX_BATCH_BYTES = 4 * 1024 * 1024
MAX_STREAMS_PER_REGION = 5000
MAX_TAGS = 50
KINESIS_START_POSITIONS = ("TRIM_HORIZON", "LATEST")
# A.5 processor parameters Nimbus evaluates, with their ranges
_PROCESSOR_PARAMS: dict[str, set[str]] = {
    "Lambda": {"LambdaArn", "NumberOfRetries", "RoleArn", "BufferSizeInMBs", "BufferIntervalInSeconds"},
    "MetadataExtraction": {"MetadataExtractionQuery", "JsonParsingEngine"},
    "AppendDelimiterToRecord": {"Delimiter"},
}
_ALL_PROCESSOR_TYPES = {"Lambda", "RecordDeAggregation", "Decompression", "CloudWatchLogProcessing", "MetadataExtraction", "AppendDelimiterToRecord"}
_NAME = re.compile(r"^[a-zA-Z0-9_.-]{1,64}$")
_LAMBDA_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:[a-zA-Z0-9_-]{1,64}(:(\$LATEST|[a-zA-Z0-9_-]+))?$")
_KINESIS_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:kinesis:[a-z0-9-]+:\d{12}:stream/[a-zA-Z0-9_.-]{1,128}$")
_BUCKET_ARN = re.compile(r"^arn:[a-z-]+:s3:::([a-z0-9][a-z0-9.-]{1,253}[a-z0-9])$")
_FILE_EXTENSION = re.compile(r"^$|^\.[0-9a-z!\-_.*'()]+$")
_S3_FIELDS = (
    "RoleARN", "BucketARN", "Prefix", "ErrorOutputPrefix", "BufferingHints", "CompressionFormat",
    "EncryptionConfiguration", "CloudWatchLoggingOptions",
)
_EXTENDED_FIELDS = _S3_FIELDS + (
    "ProcessingConfiguration", "S3BackupMode", "S3BackupConfiguration", "DataFormatConversionConfiguration",
    "DynamicPartitioningConfiguration", "FileExtension", "CustomTimeZone",
)


@dataclass(slots=True, frozen=True)
class FirehoseSettings:
    create_delay_s: float = 1.0
    encryption_delay_s: float = 1.0  # how long encryption stays ENABLING / DISABLING after Start/Stop
    delete_delay_s: float = 0.0  # how long a deleted stream stays DELETING (delivery already stopped)
    retention_s: float = DEFAULT_RETENTION_S
    min_interval_s: float = MIN_INTERVAL_S
    kinesis_start: str = "TRIM_HORIZON"  # where a KinesisStreamAsSource stream starts reading (issue 7; AWS: LATEST)
    quotas: bool = False  # per-stream Direct PUT throughput quotas (quotas.py)
    quota_records_per_s: float | None = None  # None: AWS's default for the stream's region (A.8)
    quota_bytes_per_s: float | None = None
    http_timeout_s: float = http_endpoint.DEFAULT_REQUEST_TIMEOUT_S  # how long an HTTP endpoint has to answer

    @classmethod
    def from_env(cls, extra: dict[str, str] | Any) -> FirehoseSettings:
        def num(name: str, default: float) -> float:
            value = extra.get(name) if extra else None
            return float(value) if value not in (None, "") else default

        return cls(
            create_delay_s=num("NIMBUS_FIREHOSE_CREATE_DELAY_S", 1.0),
            encryption_delay_s=num("NIMBUS_FIREHOSE_ENCRYPTION_DELAY_S", 1.0),
            delete_delay_s=num("NIMBUS_FIREHOSE_DELETE_DELAY_S", 0.0),
            retention_s=num("NIMBUS_FIREHOSE_RETENTION_S", DEFAULT_RETENTION_S),
            min_interval_s=num("NIMBUS_FIREHOSE_MIN_INTERVAL_S", MIN_INTERVAL_S),
            kinesis_start=_start_position((extra.get("NIMBUS_FIREHOSE_KINESIS_START") if extra else None) or "TRIM_HORIZON"),
            quotas=str((extra.get("NIMBUS_FIREHOSE_QUOTAS") if extra else None) or "off").strip().lower() in ("1", "on", "true", "yes"),
            quota_records_per_s=_rate(extra, "NIMBUS_FIREHOSE_QUOTA_RECORDS_PER_S"),
            quota_bytes_per_s=_rate(extra, "NIMBUS_FIREHOSE_QUOTA_BYTES_PER_S"),
            http_timeout_s=num("NIMBUS_FIREHOSE_HTTP_TIMEOUT_S", http_endpoint.DEFAULT_REQUEST_TIMEOUT_S),
        )


def _rate(extra: Any, name: str) -> float | None:
    value = extra.get(name) if extra else None
    if value in (None, ""):
        return None
    try:
        rate = float(value)
    except ValueError as e:
        raise ConfigError(f"{name} is not a number: {value!r}") from e
    if rate <= 0:
        raise ConfigError(f"{name} must be positive")
    return rate


def _start_position(value: str) -> str:
    v = value.strip().upper()
    if v not in KINESIS_START_POSITIONS:
        raise ConfigError(f"NIMBUS_FIREHOSE_KINESIS_START must be one of {', '.join(KINESIS_START_POSITIONS)}, not {value!r}")
    return v


def _bad(message: str) -> InvalidArgumentException:
    return InvalidArgumentException(message)


def bucket_of(bucket_arn: str) -> str:
    m = _BUCKET_ARN.match(bucket_arn or "")
    if not m:
        raise _bad(f"BucketARN {bucket_arn!r} is not a valid S3 bucket ARN (arn:aws:s3:::bucket-name).")
    return m.group(1)


@dataclass(slots=True)
class _Live:
    doc: dict[str, Any]
    buffer: StreamBuffer | None = None
    deliverer: Deliverer | None = None
    config: DeliveryConfig | None = None
    lock: asyncio.Lock | None = None
    source: KinesisSource | None = None
    quota: StreamQuota | None = None
    labels: tuple[str, str, str] = ("", "", "")


class DeliveryStreams:
    """The Firehose engine. ``start()`` resumes delivery of every stored stream."""

    def __init__(
        self,
        metadata: MetadataStore,
        logs: LogStore,
        clock: Clock,
        *,
        sink: ObjectSink,
        invoker: FunctionInvoker | None,
        settings: FirehoseSettings | None = None,
        kinesis: Callable[[], Any] | None = None,
        spill_dir: Path | None = None,
        error_log: Callable[[str, str, str, str, dict[str, Any]], None] | None = None,
    ) -> None:
        self.metadata = metadata
        self.error_log = error_log  # CloudWatchLoggingOptions' messages (sinks.CloudWatchErrorLog)
        self.spill_dir = spill_dir  # batches waiting for a failing destination (Deliverer.spill_dir)
        self.logs = logs
        self.clock = clock
        self.sink = sink
        self.invoker = invoker
        self.settings = settings or FirehoseSettings()
        self.kinesis = kinesis  # the Kinesis engine ("kinesis.engine"), for KinesisStreamAsSource
        self._live: dict[str, _Live] = {}
        self._started = False
        self._tasks: set[asyncio.Task[Any]] = set()

    # ----------------------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        if self.spill_dir is not None:  # copies of what the logs hold past their checkpoints: not needed now
            # (a few files at most; no await before the streams are open, since start() is already marked done
            # and a flush that comes meanwhile must find them)
            shutil.rmtree(self.spill_dir, ignore_errors=True)
        for key, doc in self.metadata.list(KIND):
            if doc.get("status") == "DELETING":
                await self._finish_delete(key, doc)
                continue
            try:
                self._open(key, doc)
            except Exception:  # noqa: BLE001 - one broken stream must not stop the others
                log.exception("firehose stream failed to resume key=%s", key)

    async def aclose(self) -> None:
        for live in list(self._live.values()):
            if live.source is not None:
                await live.source.aclose()
            if live.deliverer is not None:
                await live.deliverer.aclose()
        for t in list(self._tasks):
            t.cancel()
        self._live.clear()
        self._started = False

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------------------------ helpers

    @staticmethod
    def key(account: str, region: str, name: str) -> str:
        return f"{account}/{region}/{name}"

    def _doc(self, account: str, region: str, name: str) -> dict[str, Any]:
        doc = self.metadata.get(KIND, self.key(account, region, name))
        if doc is None:
            raise ResourceNotFoundException(f"Firehose {name} under account {account} not found.")
        return doc

    def status(self, doc: dict[str, Any]) -> str:
        if doc["status"] == "CREATING" and self.clock.time() >= doc["active_at"]:
            return "ACTIVE"
        return str(doc["status"])

    def _open(self, key: str, doc: dict[str, Any]) -> _Live:
        live = self._live.get(key)
        if live is not None:
            return live
        cfg = self._delivery_config(doc)
        dest = doc["destination"]
        hints = dest["BufferingHints"]
        logname = f"firehose/{key}/{doc['incarnation']}"
        buffer = StreamBuffer(
            self.logs.open(logname), self.metadata, f"{key}/{doc['incarnation']}", self.clock,
            size_bytes=int(hints["SizeInMBs"]) * 1024 * 1024, interval_s=float(hints["IntervalInSeconds"]),
        )
        transformer = None
        if self.invoker is not None:
            transformer = Transformer(self.invoker, self.clock, stream_arn=doc["arn"], region=doc["region"])
        live = _Live(doc=doc, buffer=buffer, config=cfg, lock=asyncio.Lock(), labels=(doc["account"], doc["region"], doc["name"]))
        live.deliverer = self._deliverer(live, doc, transformer)
        live.deliverer.start()
        if doc["type"] == "KinesisStreamAsSource" and self.kinesis is not None:
            live.source = self._source(key, doc, live)
            live.source.start()
        if self.settings.quotas and doc["type"] == "DirectPut":
            records_per_s, bytes_per_s = default_rates(doc["region"])
            live.quota = StreamQuota(
                self.settings.quota_records_per_s or records_per_s, self.settings.quota_bytes_per_s or bytes_per_s,
                self.clock.monotonic,
            )
        self._live[key] = live
        return live

    def _deliverer(self, live: _Live, doc: dict[str, Any], transformer: Transformer | None) -> Deliverer:
        """The deliverer of the stream's destination type, reading the stream's buffer."""
        assert live.buffer is not None
        cfg = live.config
        deliverer_class = http_endpoint.HttpEndpointDeliverer if doc.get("api") == http_endpoint.API else Deliverer
        deliverer = deliverer_class(
            live.buffer, lambda: live.config or cfg, self.sink, self.clock, transformer=transformer,
            retention_s=self.settings.retention_s, spill_dir=self.spill_dir,
        )
        deliverer.error_log = self.error_log
        return deliverer

    def _source(self, key: str, doc: dict[str, Any], live: _Live | None) -> KinesisSource:
        src = doc["source"]

        async def append(payloads: list[bytes]) -> None:
            assert live is not None and live.buffer is not None
            await live.buffer.append(payloads, arrival_ms=int(self.clock.time() * 1000))
            self._count_incoming(live, payloads)

        def on_error(message: str) -> None:
            if live is not None and live.deliverer is not None:
                live.deliverer.counters.last_error = message
            log.warning("firehose kinesis source stream=%s %s", key, message)

        assert self.kinesis is not None
        return KinesisSource(
            self.kinesis, self.metadata, self.clock, key=f"{key}/{doc['incarnation']}",
            stream_arn=src["KinesisStreamARN"], incarnation=src.get("incarnation"), append=append, on_error=on_error,
        )

    @staticmethod
    def _count_incoming(live: _Live, payloads: list[bytes]) -> None:
        n = sum(len(p) for p in payloads)
        assert live.deliverer is not None
        c = live.deliverer.counters
        c.incoming_records += len(payloads)
        c.incoming_bytes += n
        m.INCOMING_RECORDS.inc(*live.labels, amount=len(payloads))
        m.INCOMING_BYTES.inc(*live.labels, amount=n)

    def _delivery_config(self, doc: dict[str, Any]) -> DeliveryConfig:
        cfg = self._delivery_config_of(doc)
        cw = doc["destination"].get("CloudWatchLoggingOptions") or {}
        if cw.get("Enabled") and cw.get("LogGroupName") and cw.get("LogStreamName"):
            cfg = dataclasses.replace(cfg, error_log=(cw["LogGroupName"], cw["LogStreamName"]))
        if not cfg.destination:
            cfg = dataclasses.replace(cfg, destination=f"arn:aws:s3:::{cfg.bucket}")
        return cfg

    def _delivery_config_of(self, doc: dict[str, Any]) -> DeliveryConfig:
        dest = doc["destination"]
        if doc.get("api") == http_endpoint.API:
            return http_endpoint.delivery_config(
                doc, bucket=bucket_of(dest["S3Configuration"]["BucketARN"]), timeout_s=self.settings.http_timeout_s,
            )
        dp = bool((dest.get("DynamicPartitioningConfiguration") or {}).get("Enabled"))
        processor = None
        append_delimiter = False
        queries: dict[str, list[str]] | None = None
        pc = dest.get("ProcessingConfiguration") or {}
        if pc.get("Enabled"):
            for p in pc.get("Processors") or []:
                params = {x["ParameterName"]: x["ParameterValue"] for x in p.get("Parameters") or []}
                if p["Type"] == "Lambda":
                    processor = LambdaProcessor.from_parameters(params)
                elif p["Type"] == "AppendDelimiterToRecord":
                    append_delimiter = True
                elif p["Type"] == "MetadataExtraction" and "MetadataExtractionQuery" in params:
                    queries = parse_metadata_query(params["MetadataExtractionQuery"])
        backup = None
        if dest.get("S3BackupMode") == "Enabled" and dest.get("S3BackupConfiguration"):
            b = dest["S3BackupConfiguration"]
            backup = BackupTarget(
                bucket_of(b["BucketARN"]),
                Layout(b.get("Prefix"), b.get("ErrorOutputPrefix")),
                b.get("CompressionFormat", "UNCOMPRESSED"),
            )
        return DeliveryConfig(
            stream_name=doc["name"],
            stream_arn=doc["arn"],
            account_id=doc["account"],
            region=doc["region"],
            version=str(doc["version"]),
            bucket=bucket_of(dest["BucketARN"]),
            layout=Layout(dest.get("Prefix"), dest.get("ErrorOutputPrefix"), time_zone=dest.get("CustomTimeZone"), dynamic_partitioning=dp),
            compression=dest.get("CompressionFormat", "UNCOMPRESSED"),
            file_extension=dest.get("FileExtension") or None,
            processor=processor,
            append_delimiter=append_delimiter,
            metadata_queries=queries,
            dynamic_partitioning=dp,
            backup=backup,
            kinesis_source=doc["type"] == "KinesisStreamAsSource",
        )

    # ------------------------------------------------------------------------------- validation

    def _check_destination(self, dest: dict[str, Any], *, extended: bool) -> dict[str, Any]:
        """Validate an S3 destination configuration and return it with AWS's defaults filled in."""
        out = copy.deepcopy(dest)
        bucket_of(out.get("BucketARN", ""))
        if not out.get("RoleARN"):
            raise _bad("RoleARN is required.")
        hints = out.get("BufferingHints")
        if hints is None or hints == {}:
            out["BufferingHints"] = {"SizeInMBs": DEFAULT_SIZE_MB, "IntervalInSeconds": DEFAULT_INTERVAL_S}
        else:
            if ("SizeInMBs" in hints) != ("IntervalInSeconds" in hints):
                raise _bad("BufferingHints: SizeInMBs and IntervalInSeconds must be specified together.")
            size, interval = hints["SizeInMBs"], hints["IntervalInSeconds"]
            if not MIN_SIZE_MB <= size <= MAX_SIZE_MB:
                raise _bad(f"BufferingHints.SizeInMBs must be between {MIN_SIZE_MB} and {MAX_SIZE_MB}.")
            if not max(self.settings.min_interval_s, 0) <= interval <= MAX_INTERVAL_S:
                raise _bad(f"BufferingHints.IntervalInSeconds must be between {MIN_INTERVAL_S} and {MAX_INTERVAL_S}.")
        fmt = out.setdefault("CompressionFormat", "UNCOMPRESSED")
        if fmt not in compression.FORMATS:
            raise _bad(f"CompressionFormat {fmt!r} is not one of {', '.join(compression.FORMATS)}.")
        out.setdefault("EncryptionConfiguration", {"NoEncryptionConfig": "NoEncryption"})
        cw = out.setdefault("CloudWatchLoggingOptions", {"Enabled": False})
        if cw.get("Enabled") and not (cw.get("LogGroupName") and cw.get("LogStreamName")):
            raise _bad("CloudWatchLoggingOptions: LogGroupName and LogStreamName are required when Enabled.")
        if not extended:
            try:  # S3DestinationConfiguration's prefixes follow the same rules (A.4)
                validate(out.get("Prefix"), out.get("ErrorOutputPrefix"))
            except PrefixError as e:
                raise _bad(str(e)) from e
            return out
        ext = out.get("FileExtension")
        if ext is not None and not _FILE_EXTENSION.match(ext):
            raise _bad(f"FileExtension {ext!r} must match ^$|\\.[0-9a-z!\\-_.*'()]+")
        try:
            resolve_time_zone(out.get("CustomTimeZone"))
        except PrefixError as e:
            raise _bad(str(e)) from e
        if out.get("DataFormatConversionConfiguration", {}).get("Enabled"):
            raise _bad("DataFormatConversionConfiguration (Parquet/ORC) is not supported by Nimbus.")
        dp = out.get("DynamicPartitioningConfiguration")
        if dp is not None:
            dp.setdefault("RetryOptions", {"DurationInSeconds": 300})
        pc = out.get("ProcessingConfiguration")
        if pc is not None:
            self._check_processing(pc)
        else:
            out["ProcessingConfiguration"] = {"Enabled": False, "Processors": []}
        mode = out.setdefault("S3BackupMode", "Disabled")
        if mode == "Enabled":
            backup = out.get("S3BackupConfiguration")
            if not backup:
                raise _bad("S3BackupConfiguration is required when S3BackupMode is Enabled.")
            out["S3BackupConfiguration"] = self._check_destination(backup, extended=False)
        try:
            validate(out.get("Prefix"), out.get("ErrorOutputPrefix"), dynamic_partitioning=bool((dp or {}).get("Enabled")))
            if mode == "Enabled":
                validate(out["S3BackupConfiguration"].get("Prefix"), out["S3BackupConfiguration"].get("ErrorOutputPrefix"))
        except PrefixError as e:
            raise _bad(str(e)) from e
        return out

    def _check_http_destination(self, conf: dict[str, Any]) -> dict[str, Any]:
        """Validate an HttpEndpoint destination (its backup S3Configuration as an S3 destination) and fill
        in AWS's defaults."""
        out = http_endpoint.normalize(conf, min_interval_s=self.settings.min_interval_s)
        out["S3Configuration"] = self._check_destination(out["S3Configuration"], extended=False)
        if out["ProcessingConfiguration"].get("Processors"):
            self._check_processing(out["ProcessingConfiguration"])
        return out

    def _check_processing(self, pc: dict[str, Any]) -> None:
        lambdas = 0
        for p in pc.get("Processors") or []:
            ptype = p.get("Type")
            if ptype not in _ALL_PROCESSOR_TYPES:
                raise _bad(f"Processor type {ptype!r} is not valid.")
            if ptype not in _PROCESSOR_PARAMS:
                raise _bad(f"Processor type {ptype} is not supported by Nimbus.")
            params: dict[str, str] = {}
            for item in p.get("Parameters") or []:
                name, value = item.get("ParameterName"), item.get("ParameterValue")
                if name not in _PROCESSOR_PARAMS[ptype]:
                    raise _bad(f"Processor parameter {name!r} is not valid for processor type {ptype}.")
                params[name] = value
            if ptype == "Lambda":
                lambdas += 1
                arn = params.get("LambdaArn")
                if not arn:
                    raise _bad("Processor parameter LambdaArn is required for processor type Lambda.")
                if not _LAMBDA_ARN.match(arn):
                    raise _bad(f"LambdaArn {arn!r} is not a valid Lambda function ARN.")
                _check_number(params, "NumberOfRetries", 0, 300, integer=True)
                _check_number(params, "BufferSizeInMBs", 0.2, 3, integer=False)
                _check_number(params, "BufferIntervalInSeconds", 0, 900, integer=True)
            elif ptype == "MetadataExtraction":
                query = params.get("MetadataExtractionQuery")
                if not query:
                    raise _bad("Processor parameter MetadataExtractionQuery is required for MetadataExtraction.")
                if params.get("JsonParsingEngine", "JQ-1.6") != "JQ-1.6":
                    raise _bad("JsonParsingEngine must be JQ-1.6.")
                try:
                    parse_metadata_query(query)
                except ValueError as e:
                    raise _bad(str(e)) from e
            elif ptype == "AppendDelimiterToRecord" and params.get("Delimiter", "\\n") not in ("\\n", "\n"):
                raise _bad("Nimbus supports only the default newline Delimiter for AppendDelimiterToRecord.")
        if lambdas > 1:
            raise _bad("At most one Lambda processor can be configured.")

    # --------------------------------------------------------------------------- control plane

    async def create(self, account: str, region: str, params: dict[str, Any]) -> str:
        name = params["DeliveryStreamName"]
        if not _NAME.match(name):
            raise _bad(f"DeliveryStreamName {name!r} must match [a-zA-Z0-9_.-]{{1,64}}.")
        stype = params.get("DeliveryStreamType", "DirectPut")
        if stype not in ("DirectPut", "KinesisStreamAsSource"):
            raise _bad(f"DeliveryStreamType {stype} is not supported by Nimbus (DirectPut, KinesisStreamAsSource).")
        source = params.get("KinesisStreamSourceConfiguration")
        kinesis_stream = None
        if stype == "KinesisStreamAsSource":
            kinesis_stream = self._check_source(source)
        elif source is not None:
            raise _bad("KinesisStreamSourceConfiguration is only valid with DeliveryStreamType KinesisStreamAsSource.")
        given = [k for k in params if k.endswith("DestinationConfiguration")]
        if len(given) != 1:
            raise _bad("Exactly one destination configuration must be specified.")
        if given[0] not in ("ExtendedS3DestinationConfiguration", "S3DestinationConfiguration", "HttpEndpointDestinationConfiguration"):
            raise _bad(f"{given[0]} is not supported by Nimbus; use ExtendedS3DestinationConfiguration or HttpEndpointDestinationConfiguration.")
        extended = given[0] == "ExtendedS3DestinationConfiguration"
        api = "ExtendedS3" if extended else "S3"
        if given[0] == "HttpEndpointDestinationConfiguration":
            api = http_endpoint.API
            dest = self._check_http_destination(params[given[0]])
        else:
            dest = self._check_destination(params[given[0]], extended=extended)
        if api == "S3":  # the old API is an Extended S3 destination without the extended features
            dest.update(ProcessingConfiguration={"Enabled": False, "Processors": []}, S3BackupMode="Disabled")
        tags = {t["Key"]: t.get("Value", "") for t in params.get("Tags") or []}
        _check_tags(tags)
        if self.metadata.count(KIND, f"{account}/{region}/") >= MAX_STREAMS_PER_REGION:
            raise LimitExceededException(f"You have already consumed your firehose quota of {MAX_STREAMS_PER_REGION} hoses.")
        encryption = params.get("DeliveryStreamEncryptionConfigurationInput")
        now = self.clock.time()
        arn = arns.build("firehose", region, account, f"deliverystream/{name}")
        doc: dict[str, Any] = {
            "name": name, "arn": arn, "account": account, "region": region, "type": stype,
            "status": "CREATING", "active_at": now + self.settings.create_delay_s, "created": now, "updated": now,
            "version": 1, "incarnation": uuid.uuid4().hex, "destination": dest,
            "api": api, "tags": tags,
            "encryption": _encryption_doc(encryption, "ENABLED") if encryption else None,
        }
        if kinesis_stream is not None:
            if encryption:
                raise _bad("Encryption is not supported for a KinesisStreamAsSource delivery stream; encrypt the Kinesis stream instead.")
            doc["source"] = {
                "KinesisStreamARN": source["KinesisStreamARN"], "RoleARN": source["RoleARN"],
                "DeliveryStartTimestamp": now, "incarnation": kinesis_stream.incarnation,
                "start": self.settings.kinesis_start,
            }
        key = self.key(account, region, name)
        if not self.metadata.insert(KIND, key, doc):
            raise ResourceInUseException(f"Firehose {name} under accountId {account} already exists")
        if kinesis_stream is not None and self.settings.kinesis_start == "LATEST":
            self._source(key, doc, None).start_at_latest(kinesis_stream)  # as AWS documents
        # TRIM_HORIZON (the default, issue 7): no checkpoint, so each shard is read from its oldest record
        self._open(key, doc)
        return arn

    def _check_source(self, source: dict[str, Any] | None) -> Any:
        if not source:
            raise _bad("KinesisStreamSourceConfiguration is required for DeliveryStreamType KinesisStreamAsSource.")
        stream_arn, role = source.get("KinesisStreamARN", ""), source.get("RoleARN", "")
        if not _KINESIS_ARN.match(stream_arn or ""):
            raise _bad(f"KinesisStreamARN {stream_arn!r} is not a valid Kinesis stream ARN.")
        if not role:
            raise _bad("KinesisStreamSourceConfiguration.RoleARN is required.")
        if self.kinesis is None:
            raise _bad("KinesisStreamAsSource needs Nimbus's Kinesis service, which is not available.")
        try:
            return KinesisSource.resolve(self.kinesis(), stream_arn)
        except Exception as e:  # noqa: BLE001 - any lookup failure means the source cannot be read
            raise _bad(f"Kinesis stream {stream_arn} does not exist or cannot be read.") from e

    def describe(self, account: str, region: str, name: str, *, exclusive_start_destination_id: str | None = None) -> dict[str, Any]:
        doc = self._doc(account, region, name)
        dest = doc["destination"]
        if doc.get("api") == http_endpoint.API:
            described = http_endpoint.describe(dest, _describe_destination(dest["S3Configuration"], extended=False))
            destinations = [] if exclusive_start_destination_id == DESTINATION_ID else [
                {"DestinationId": DESTINATION_ID, "HttpEndpointDestinationDescription": described}
            ]
            return self._description(doc, destinations)
        extended = _describe_destination(dest, extended=True)
        if doc.get("api") == "S3" and extended.get("ProcessingConfiguration") == {"Enabled": False, "Processors": []}:
            # created with S3DestinationConfiguration: AWS's extended view has no ProcessingConfiguration
            del extended["ProcessingConfiguration"]
        plain = _describe_destination(dest, extended=False)
        destinations = [] if exclusive_start_destination_id == DESTINATION_ID else [
            {"DestinationId": DESTINATION_ID, "S3DestinationDescription": plain, "ExtendedS3DestinationDescription": extended}
        ]
        return self._description(doc, destinations)

    def _description(self, doc: dict[str, Any], destinations: list[dict[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "DeliveryStreamName": doc["name"],
            "DeliveryStreamARN": doc["arn"],
            "DeliveryStreamStatus": self.status(doc),
            "DeliveryStreamType": doc["type"],
            "VersionId": str(doc["version"]),
            "CreateTimestamp": doc["created"],
            "Destinations": destinations,
            "HasMoreDestinations": False,
        }
        if doc["version"] > 1:
            out["LastUpdateTimestamp"] = doc["updated"]
        src = doc.get("source")
        if src is not None:
            out["Source"] = {"KinesisStreamSourceDescription": {
                "KinesisStreamARN": src["KinesisStreamARN"], "RoleARN": src["RoleARN"],
                "DeliveryStartTimestamp": src["DeliveryStartTimestamp"],
            }}
        if doc["type"] == "DirectPut":  # AWS leaves it out for a Kinesis-sourced stream (SSE is DirectPut only)
            out["DeliveryStreamEncryptionConfiguration"] = self._encryption_description(doc)
        return out

    def _encryption_description(self, doc: dict[str, Any]) -> dict[str, Any]:
        enc = doc.get("encryption")
        if not enc:
            return {"Status": "DISABLED"}
        out = dict(enc)
        if self.clock.time() < doc.get("encryption_settles_at", 0):
            out["Status"] = "ENABLING" if enc["Status"] == "ENABLED" else "DISABLING"
        return out

    def _encrypted(self, doc: dict[str, Any]) -> bool:
        """What Put* answers as ``Encrypted``: not yet while ENABLING ("the data is not encrypted"), still
        while DISABLING (records stay subject to encryption until DISABLED)."""
        enabled = doc["encryption"].get("Status") == "ENABLED"
        if self.clock.time() < doc.get("encryption_settles_at", 0):
            return not enabled
        return enabled

    def list(self, account: str, region: str, *, limit: int = 10, stream_type: str | None = None, exclusive_start: str | None = None) -> tuple[list[str], bool]:
        prefix = f"{account}/{region}/"
        after = prefix + exclusive_start if exclusive_start else None
        names: list[str] = []
        has_more = False
        for _key, doc in self.metadata.list(KIND, prefix, after=after):
            if stream_type and doc["type"] != stream_type:
                continue
            if len(names) >= limit:
                has_more = True
                break
            names.append(doc["name"])
        return names, has_more

    async def delete(self, account: str, region: str, name: str, *, force: bool = False) -> None:
        key = self.key(account, region, name)
        doc = self._doc(account, region, name)
        if self.status(doc) == "CREATING":
            raise ResourceInUseException(f"Firehose {name} under account {account} is in CREATING state and cannot be deleted.")
        if doc["status"] == "DELETING":
            return
        doc["status"] = "DELETING"
        self._save(account, region, name, doc)
        self._spawn(self._finish_delete(key, doc, delay_s=self.settings.delete_delay_s))

    async def _finish_delete(self, key: str, doc: dict[str, Any], *, delay_s: float = 0.0) -> None:
        live = self._live.pop(key, None)
        if live is not None and live.source is not None:
            await live.source.aclose()
        if live is not None and live.deliverer is not None:
            await live.deliverer.aclose()
        if delay_s > 0:  # delivery has stopped; the stream stays DELETING a while, as on AWS
            await self.clock.sleep(delay_s)
        if doc.get("source") is not None and self.kinesis is not None:
            self._source(key, doc, None).forget()
        if live is not None and live.buffer is not None:
            live.buffer.forget()
        else:
            self.metadata.delete("firehose.checkpoint", f"{key}/{doc['incarnation']}")
        dropped = await self.logs.drop(f"firehose/{key}/{doc['incarnation']}")
        current = self.metadata.get(KIND, key)
        if current is not None and current.get("incarnation") == doc["incarnation"]:
            self.metadata.delete(KIND, key)
        log.info("firehose stream deleted key=%s log_dropped=%s", key, dropped)

    async def update_destination(self, account: str, region: str, params: dict[str, Any]) -> None:
        name = params["DeliveryStreamName"]
        key = self.key(account, region, name)
        doc = self._doc(account, region, name)
        if self.status(doc) != "ACTIVE":
            raise ResourceInUseException(f"Firehose {name} under account {account} is not ACTIVE.")
        if str(params["CurrentDeliveryStreamVersionId"]) != str(doc["version"]):
            raise ConcurrentModificationException(
                f"Cannot update firehose: {name} since the current version id: {doc['version']} and specified version id: "
                f"{params['CurrentDeliveryStreamVersionId']} do not match"
            )
        if params["DestinationId"] != DESTINATION_ID:
            raise _bad(f"Destination Id {params['DestinationId']} not found.")
        given = [k for k in params if k.endswith("DestinationUpdate")]
        if len(given) != 1:
            raise _bad("Exactly one destination update must be specified.")
        is_http = doc.get("api") == http_endpoint.API
        if given[0] not in ("ExtendedS3DestinationUpdate", "S3DestinationUpdate", "HttpEndpointDestinationUpdate"):
            raise _bad(f"{given[0]} is not supported by Nimbus; use ExtendedS3DestinationUpdate or HttpEndpointDestinationUpdate.")
        update = params[given[0]]
        if is_http != (given[0] == "HttpEndpointDestinationUpdate"):
            await self._switch_destination(key, doc, given[0], update)
            return
        old = doc["destination"]
        if is_http:
            self._commit_update(key, doc, self._check_http_destination(http_endpoint.merge_update(old, update)))
            return
        merged = copy.deepcopy(old)
        for field_name, value in update.items():
            if field_name == "S3BackupUpdate":
                merged["S3BackupConfiguration"] = {**(old.get("S3BackupConfiguration") or {}), **value}
            else:
                merged[field_name] = value
        if old.get("S3BackupMode") == "Enabled" and merged.get("S3BackupMode") == "Disabled":
            raise _bad("S3BackupMode cannot be changed from Enabled to Disabled.")
        old_dp = bool((old.get("DynamicPartitioningConfiguration") or {}).get("Enabled"))
        new_dp = bool((merged.get("DynamicPartitioningConfiguration") or {}).get("Enabled"))
        if old_dp != new_dp:
            raise _bad("Dynamic partitioning can only be enabled at creation and cannot be disabled.")
        dest = self._check_destination(merged, extended=True)
        self._commit_update(key, doc, dest)

    async def _switch_destination(self, key: str, doc: dict[str, Any], kind: str, update: dict[str, Any]) -> None:
        """UpdateDestination to another destination type (S3 <-> HTTP endpoint), as AWS allows: the update must
        then hold what a configuration of the new type needs; the stream keeps its buffer, so records not yet
        delivered go to the new destination (at least once: a batch cut off mid-delivery is sent again)."""
        if kind == "HttpEndpointDestinationUpdate":
            conf = {k: v for k, v in update.items() if k != "S3Update"}
            conf["S3Configuration"] = update.get("S3Update") or {}
            dest, api = self._check_http_destination(conf), http_endpoint.API
        else:
            conf = {k: v for k, v in update.items() if k != "S3BackupUpdate"}
            if "S3BackupUpdate" in update:
                conf["S3BackupConfiguration"] = update["S3BackupUpdate"]
            if (conf.get("DynamicPartitioningConfiguration") or {}).get("Enabled"):
                raise _bad("Dynamic partitioning can only be enabled at creation and cannot be disabled.")
            extended = kind == "ExtendedS3DestinationUpdate"
            dest, api = self._check_destination(conf, extended=extended), "ExtendedS3" if extended else "S3"
            if api == "S3":
                dest.update(ProcessingConfiguration={"Enabled": False, "Processors": []}, S3BackupMode="Disabled")
        doc["api"] = api
        self._commit_update(key, doc, dest)
        live = self._live.get(key)
        if live is None or live.deliverer is None:
            return
        old = live.deliverer
        await old.aclose()
        live.deliverer = self._deliverer(live, doc, old.transformer)
        live.deliverer.counters = old.counters
        live.deliverer.start()
        log.info("firehose stream switched destination key=%s api=%s", key, api)

    def _commit_update(self, key: str, doc: dict[str, Any], dest: dict[str, Any]) -> None:
        name = doc["name"]
        # another update may have landed while validating (no await above, but keep the check explicit)
        current = self.metadata.get(KIND, key)
        if current is None or current["version"] != doc["version"]:
            raise ConcurrentModificationException(f"Cannot update firehose: {name}: concurrent modification.")
        doc["destination"] = dest
        doc["version"] += 1
        doc["updated"] = self.clock.time()
        self.metadata.put(KIND, key, doc)
        live = self._live.get(key)
        if live is not None:
            live.doc = doc
            live.config = self._delivery_config(doc)
            hints = dest["BufferingHints"]
            if live.buffer is not None:
                live.buffer.reconfigure(size_bytes=int(hints["SizeInMBs"]) * 1024 * 1024, interval_s=float(hints["IntervalInSeconds"]))

    # ------------------------------------------------------------------------------ tags, keys

    def _save(self, account: str, region: str, name: str, doc: dict[str, Any]) -> None:
        key = self.key(account, region, name)
        self.metadata.put(KIND, key, doc)
        live = self._live.get(key)
        if live is not None:
            live.doc = doc

    def _mutable(self, account: str, region: str, name: str) -> dict[str, Any]:
        doc = self._doc(account, region, name)
        if self.status(doc) != "ACTIVE":
            raise ResourceInUseException(f"Firehose {name} under account {account} is not ACTIVE.")
        return doc

    def tag(self, account: str, region: str, name: str, tags: list[dict[str, str]]) -> None:
        doc = self._mutable(account, region, name)
        merged = {**doc["tags"], **{t["Key"]: t.get("Value", "") for t in tags}}
        _check_tags(merged)
        doc["tags"] = merged
        self._save(account, region, name, doc)

    def untag(self, account: str, region: str, name: str, keys: list[str]) -> None:
        doc = self._mutable(account, region, name)
        doc["tags"] = {k: v for k, v in doc["tags"].items() if k not in set(keys)}
        self._save(account, region, name, doc)

    def list_tags(self, account: str, region: str, name: str, *, exclusive_start: str | None, limit: int) -> tuple[list[dict[str, str]], bool]:
        doc = self._doc(account, region, name)
        keys = sorted(k for k in doc["tags"] if exclusive_start is None or k > exclusive_start)
        page = keys[:limit]
        return [{"Key": k, "Value": doc["tags"][k]} for k in page], len(keys) > limit

    def set_encryption(self, account: str, region: str, name: str, config: dict[str, Any] | None, *, enabled: bool) -> None:
        doc = self._mutable(account, region, name)
        if doc["type"] == "KinesisStreamAsSource":
            raise _bad(f"Firehose {name} is sourced from a Kinesis stream: encrypt the Kinesis stream instead (server-side encryption of a KinesisStreamAsSource delivery stream is not supported).")
        now = self.clock.time()
        if enabled:
            doc["encryption"] = _encryption_doc(config or {}, "ENABLED")
        elif doc.get("encryption"):
            doc["encryption"] = {**doc["encryption"], "Status": "DISABLED"}
        else:
            return  # never encrypted: nothing to disable
        # asynchronous on AWS: ENABLING then ENABLED, DISABLING then DISABLED (StartDeliveryStreamEncryption)
        doc["encryption_settles_at"] = now + self.settings.encryption_delay_s
        doc["updated"] = now
        self._save(account, region, name, doc)

    # ------------------------------------------------------------------------------- data plane

    async def put(self, account: str, region: str, name: str, payloads: list[bytes], total: int) -> tuple[int, list[int], bool]:
        """Append records (``total`` bytes) durably; once fsync'd, returns (record id base, sequence numbers,
        encrypted). A record id is ``str(base + seq)``: 56 decimal digits like AWS's, the first 16 from the
        stream's incarnation, so ids stay unique across a delete and re-create.

        With quotas on, only the records the stream's quota admits now, from the first, are written: the
        sequence numbers cover that prefix (none at all: nothing written) and the caller answers
        ServiceUnavailableException "Slow down." for the rest."""
        key = f"{account}/{region}/{name}"
        live = self._live.get(key)
        doc = live.doc if live is not None else self.metadata.get(KIND, key)
        if doc is None:  # the data plane's wording differs from the control plane's (_doc)
            raise ResourceNotFoundException(f"Firehose {name} not found under account {account}.")
        if doc["status"] != "ACTIVE":
            status = self.status(doc)
            if status == "CREATING":
                raise ResourceNotFoundException(f"Firehose {name} not found under account {account}.")
            if status != "ACTIVE":
                raise ResourceInUseException(f"Firehose {name} under account {account} is {status}.")
        if doc["type"] != "DirectPut":
            raise _bad("This operation is not permitted on KinesisStreamAsSource delivery stream type.")
        if total > MAX_RECORD_BYTES and max(map(len, payloads)) > MAX_RECORD_BYTES:
            big = max(map(len, payloads))
            raise _bad(f"Record size {big} exceeds the maximum of {MAX_RECORD_BYTES} bytes (1,000 KiB).")
        if live is None:
            live = self._open(key, doc)
        buffer, deliverer = live.buffer, live.deliverer
        assert buffer is not None and deliverer is not None
        if live.quota is not None:
            admitted = live.quota.admit(payloads, total)
            if admitted < len(payloads):
                deliverer.counters.throttled_records += len(payloads) - admitted
                m.THROTTLED.inc(*live.labels, amount=len(payloads) - admitted)
                if admitted == 0:
                    return _id_base(doc["incarnation"]), [], False
                payloads = payloads[:admitted]
                total = sum(map(len, payloads))
        seqs = await buffer.append(payloads, arrival_ms=int(self.clock.time() * 1000), nbytes=total)
        c = deliverer.counters
        c.incoming_records += len(payloads)
        c.incoming_bytes += total
        m.INCOMING_RECORDS.inc(*live.labels, amount=len(payloads))
        m.INCOMING_BYTES.inc(*live.labels, amount=total)
        return _id_base(doc["incarnation"]), seqs, doc.get("encryption") is not None and self._encrypted(doc)

    async def flush(self, account: str, region: str, name: str, *, timeout: float | None = 60) -> bool:
        key = self.key(account, region, name)
        self._doc(account, region, name)
        live = self._live.get(key)
        if live is None or live.deliverer is None:
            return True
        if live.source is not None and not await live.source.catch_up(timeout):
            return False
        return await live.deliverer.flush(timeout)

    def stats(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for key, live in self._live.items():
            if live.deliverer is None or live.buffer is None:
                continue
            out[key] = {
                **live.deliverer.counters.as_dict(),
                "backlog_records": live.buffer.backlog_records,
                "pending_bytes": live.buffer.pending_bytes,
                "checkpoint": live.buffer.checkpoint,
                "untransformed_bytes": live.buffer.untransformed_bytes,
                "staged_records": live.deliverer.staged_records,
            }
            if live.source is not None:
                out[key]["kinesis_positions"] = live.source.positions()
        return out


def _id_base(incarnation: str) -> int:
    return (10**15 + int(incarnation[:16], 16) % (9 * 10**15)) * 10**40


def _check_number(params: dict[str, str], name: str, lo: float, hi: float, *, integer: bool) -> None:
    if name not in params:
        return
    try:
        value = int(params[name]) if integer else float(params[name])
    except ValueError as e:
        raise _bad(f"Processor parameter {name} must be a number between {lo} and {hi}.") from e
    if not lo <= value <= hi:
        raise _bad(f"Processor parameter {name} must be between {lo} and {hi}.")


def _check_tags(tags: dict[str, str]) -> None:
    if len(tags) > MAX_TAGS:
        raise LimitExceededException(f"A delivery stream cannot have more than {MAX_TAGS} tags.")
    for k, v in tags.items():
        if not 1 <= len(k) <= 128 or k.lower().startswith("aws:"):
            raise _bad(f"Tag key {k!r} is not valid: 1 to 128 characters, not starting with 'aws:'.")
        if len(v) > 256:
            raise _bad(f"Tag value for {k!r} is longer than 256 characters.")


def _encryption_doc(config: dict[str, Any], status: str) -> dict[str, Any]:
    key_type = config.get("KeyType", "AWS_OWNED_CMK")
    if key_type == "CUSTOMER_MANAGED_CMK" and not config.get("KeyARN"):
        raise _bad("KeyARN is required when KeyType is CUSTOMER_MANAGED_CMK.")
    if key_type == "AWS_OWNED_CMK" and config.get("KeyARN"):
        raise _bad("KeyARN must not be given when KeyType is AWS_OWNED_CMK.")
    out = {"KeyType": key_type, "Status": status}
    if config.get("KeyARN"):
        out["KeyARN"] = config["KeyARN"]
    return out


def _describe_destination(dest: dict[str, Any], *, extended: bool) -> dict[str, Any]:
    fields = _EXTENDED_FIELDS if extended else _S3_FIELDS
    out = {k: copy.deepcopy(dest[k]) for k in fields if k in dest}
    if extended:
        if "S3BackupConfiguration" in out:
            out["S3BackupDescription"] = _describe_destination(out.pop("S3BackupConfiguration"), extended=False)
        pc = out.get("ProcessingConfiguration")
        if pc:
            for p in pc.get("Processors") or []:
                if p.get("Type") == "Lambda":
                    names = {x["ParameterName"] for x in p.get("Parameters") or []}
                    for pname, default in (("NumberOfRetries", "3"), ("BufferSizeInMBs", "1"), ("BufferIntervalInSeconds", "60")):
                        if pname not in names:
                            p.setdefault("Parameters", []).append({"ParameterName": pname, "ParameterValue": default})
    return out


Factory = Callable[[], DeliveryStreams]
