"""FirehoseApi: each Firehose_20150804 operation, shape in → engine call → shape out (aws-contracts.md A.1).

Also mounts Nimbus's own conveniences under ``/_nimbus/firehose/``:
``POST /_nimbus/firehose/flush/<region>/<name>`` delivers a stream's buffer now (waits until delivered;
it changes when data is delivered, never what), ``GET /_nimbus/firehose/streams`` shows per-stream
counters, buffer fill and last delivery/error.
"""

from __future__ import annotations

import logging
import operator
from typing import TYPE_CHECKING, Any

import orjson

from nimbus.protocol.json import PackedRecords
from nimbus.services.base import RequestContext
from nimbus.services.firehose.errors import InvalidArgumentException, ServiceUnavailableException
from nimbus.services.firehose.sinks import CloudWatchErrorLog, ExternalS3Sink, LambdaInvoker, S3EngineSink
from nimbus.services.firehose.streams import MAX_BATCH_BYTES, MAX_BATCH_RECORDS, DeliveryStreams, FirehoseSettings
from nimbus.storage import LogClosed

if TYPE_CHECKING:
    from nimbus.server import Nimbus

log = logging.getLogger(__name__)

_DATA = operator.itemgetter("Data")
DEFAULT_LIST_LIMIT = 10  # A.1
DEFAULT_TAGS_LIMIT = 50
COMPONENT = "firehose.engine"


def engine_of(core: Nimbus) -> DeliveryStreams:
    """The shared Firehose engine (core component "firehose.engine")."""

    def build() -> DeliveryStreams:
        extra = dict(core.settings.extra or {})
        endpoint = extra.get("NIMBUS_FIREHOSE_S3_ENDPOINT")
        sink: Any
        if endpoint:
            sink = ExternalS3Sink(
                endpoint, extra.get("NIMBUS_FIREHOSE_S3_ACCESS_KEY_ID"), extra.get("NIMBUS_FIREHOSE_S3_SECRET_ACCESS_KEY"),
                extra.get("NIMBUS_FIREHOSE_S3_REGION"),
            )
        else:
            sink = S3EngineSink(core)
        def kinesis() -> Any:
            from nimbus.services.kinesis.api import engine_of as kinesis_engine

            return kinesis_engine(core)

        return DeliveryStreams(
            core.storage.metadata, core.storage.logs, core.clock,
            sink=sink, invoker=LambdaInvoker(core), settings=FirehoseSettings.from_env(extra), kinesis=kinesis,
            error_log=CloudWatchErrorLog(core),
            # waiting batches go to files next to the data (in-memory storage, in tests: they stay in memory)
            spill_dir=core.settings.data_dir / "firehose" / "spill" if type(core.storage.blobs).__name__ == "FileBlobStore" else None,
        )

    return core.component(COMPONENT, build)


class FirehoseApi:
    def __init__(self, core: Nimbus) -> None:
        self.core = core
        self.streams = engine_of(core)
        self._started = False
        core.app.mount(_is_ours, self._nimbus_endpoint, internal=True)

    async def start(self) -> None:
        if not self._started:
            self._started = True
            await self.streams.start()

    async def aclose(self) -> None:
        await self.streams.aclose()

    # ---------------------------------------------------------------------------- control plane

    async def create_delivery_stream(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        await self.start()
        arn = await self.streams.create(ctx.account_id, ctx.region, params)
        return {"DeliveryStreamARN": arn}

    async def describe_delivery_stream(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        desc = self.streams.describe(
            ctx.account_id, ctx.region, params["DeliveryStreamName"],
            exclusive_start_destination_id=params.get("ExclusiveStartDestinationId"),
        )
        return {"DeliveryStreamDescription": desc}

    async def list_delivery_streams(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        names, more = self.streams.list(
            ctx.account_id, ctx.region, limit=params.get("Limit") or DEFAULT_LIST_LIMIT,
            stream_type=params.get("DeliveryStreamType"), exclusive_start=params.get("ExclusiveStartDeliveryStreamName"),
        )
        return {"DeliveryStreamNames": names, "HasMoreDeliveryStreams": more}

    async def delete_delivery_stream(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        await self.start()
        await self.streams.delete(ctx.account_id, ctx.region, params["DeliveryStreamName"], force=bool(params.get("AllowForceDelete")))
        return {}

    async def update_destination(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        await self.streams.update_destination(ctx.account_id, ctx.region, params)
        return {}

    async def tag_delivery_stream(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.streams.tag(ctx.account_id, ctx.region, params["DeliveryStreamName"], params["Tags"])
        return {}

    async def untag_delivery_stream(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.streams.untag(ctx.account_id, ctx.region, params["DeliveryStreamName"], params["TagKeys"])
        return {}

    async def list_tags_for_delivery_stream(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        tags, more = self.streams.list_tags(
            ctx.account_id, ctx.region, params["DeliveryStreamName"],
            exclusive_start=params.get("ExclusiveStartTagKey"), limit=params.get("Limit") or DEFAULT_TAGS_LIMIT,
        )
        return {"Tags": tags, "HasMoreTags": more}

    async def start_delivery_stream_encryption(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.streams.set_encryption(
            ctx.account_id, ctx.region, params["DeliveryStreamName"],
            params.get("DeliveryStreamEncryptionConfigurationInput"), enabled=True,
        )
        return {}

    async def stop_delivery_stream_encryption(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.streams.set_encryption(ctx.account_id, ctx.region, params["DeliveryStreamName"], None, enabled=False)
        return {}

    # ------------------------------------------------------------------------------- data plane

    async def put_record(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        data = params["Record"]["Data"]
        try:
            base, seqs, encrypted = await self.streams.put(ctx.account_id, ctx.region, params["DeliveryStreamName"], [data], len(data))
        except LogClosed as e:
            raise ServiceUnavailableException("Slow down.") from e
        if not seqs:  # the stream's quota (A.8, A.9)
            raise ServiceUnavailableException("Slow down.")
        return {"RecordId": str(base + seqs[0]), "Encrypted": encrypted}

    async def put_record_batch(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        records = params["Records"]
        if len(records) > MAX_BATCH_RECORDS:  # A.7 (the codec checks it too, from the model)
            raise InvalidArgumentException(f"Records size {len(records)} exceeds the maximum of {MAX_BATCH_RECORDS}.")
        if type(records) is PackedRecords:  # the codec scanned the body straight into payloads (C)
            payloads, total = records.payloads, records.total
        else:
            payloads = list(map(_DATA, records))
            total = sum(map(len, payloads))
        if total > MAX_BATCH_BYTES:
            raise InvalidArgumentException("Records size exceeds 4 MB limit")  # AWS's wording (4 MiB counted)
        try:
            base, seqs, encrypted = await self.streams.put(ctx.account_id, ctx.region, params["DeliveryStreamName"], payloads, total)
        except LogClosed:
            # the log refused the write: every entry failed, reported per record as AWS does (A.7)
            log.exception("firehose append failed stream=%s", params["DeliveryStreamName"])
            return {
                "FailedPutCount": len(payloads),
                "Encrypted": False,
                "RequestResponses": [{"ErrorCode": "InternalFailure", "ErrorMessage": "Internal service failure."}] * len(payloads),
            }
        refused = len(payloads) - len(seqs)  # beyond the stream's quota (A.8, A.9)
        if not refused and seqs and seqs[-1] - seqs[0] == len(seqs) - 1 and base % 1000 == 0 and not _is_cbor(ctx):
            # the usual answer, already serialised: the bytes the JSON writer would produce
            return {"FailedPutCount": 0, "Encrypted": encrypted, "RequestResponses": record_ids_fragment(base, seqs[0], len(seqs))}
        responses: list[dict[str, str]] = [{"RecordId": str(base + s)} for s in seqs]
        if refused:
            responses += [{"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."}] * refused
        return {"FailedPutCount": refused, "Encrypted": encrypted, "RequestResponses": responses}

    # -------------------------------------------------------------------------- /_nimbus/firehose

    async def _nimbus_endpoint(self, scope: Any, receive: Any, send: Any) -> None:
        path: str = scope["path"]
        status, body = 404, {"message": "Not Found"}
        if path == "/_nimbus/firehose/streams" and scope["method"] == "GET":
            status, body = 200, self.streams.stats()
        elif path.startswith("/_nimbus/firehose/flush/") and scope["method"] == "POST":
            parts = path[len("/_nimbus/firehose/flush/"):].split("/")
            if len(parts) == 2:
                region, name = parts
                try:
                    await self.start()  # resume the stored streams first (a request may beat the boot-time start)
                    done = await self.streams.flush(self.core.settings.account_id, region, name, timeout=60)
                    status, body = (200, {"flushed": True}) if done else (504, {"flushed": False})
                except Exception as e:  # noqa: BLE001 - answered, never fatal
                    status, body = 404, {"message": str(getattr(e, "message", e))}
        payload = orjson.dumps(body)
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})


_ID_SUFFIXES = ["%03d" % i for i in range(1000)]
_ID_SEP = '"},{"RecordId":"'


def record_ids_fragment(base: int, first: int, count: int) -> orjson.Fragment:
    """``RequestResponses`` ``[{"RecordId": str(base + seq)}, ...]`` for ``count`` consecutive sequence numbers
    from ``first``, as the JSON writer would serialise it (``base`` a multiple of 1,000, as ``_id_base``
    makes it): ids of one block of 1,000 share all but their last three digits, so each block formats
    one integer and joins precomputed suffixes, instead of formatting a 56-digit integer per record."""
    parts: list[str] = []
    seq, end = first, first + count
    while seq < end:
        block = seq - seq % 1000
        stop = min(end, block + 1000)
        head = str(base + block)[:-3]
        parts.append(head + (_ID_SEP + head).join(_ID_SUFFIXES[seq - block : stop - block]))
        seq = stop
    return orjson.Fragment(('[{"RecordId":"' + _ID_SEP.join(parts) + '"}]').encode("ascii"))


def _is_cbor(ctx: RequestContext) -> bool:
    return str(ctx.headers.get("content-type", "")).startswith("application/x-amz-cbor")


def _is_ours(scope: Any, headers: Any) -> bool:
    return str(scope.get("path", "")).startswith("/_nimbus/firehose/")


def create_api(core: Nimbus) -> FirehoseApi:
    return FirehoseApi(core)
