"""Adapters from the Firehose engine's two outside needs to the components that serve them.

* ``S3EngineSink``: objects go through Nimbus's own S3 engine (core component "s3.engine"), so bucket
  rules, versioning and S3 event notifications apply exactly as for a PutObject.
* ``ExternalS3Sink``: objects go to an external S3-compatible endpoint (server-wide setting
  ``NIMBUS_FIREHOSE_S3_ENDPOINT`` with ``NIMBUS_FIREHOSE_S3_ACCESS_KEY_ID``/``..._SECRET_ACCESS_KEY``),
  through botocore in a worker thread.
* ``LambdaInvoker``: the transform calls the Lambda engine's one invoke path (core component
  "lambda.engine"), RequestResponse.
* ``CloudWatchErrorLog``: CloudWatchLoggingOptions' error messages appended to their log stream through the
  logs engine (core component "logs.engine").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable
from typing import TYPE_CHECKING, Any

from nimbus.errors import ServiceError
from nimbus.services.firehose.delivery import DestinationError
from nimbus.services.firehose.transform import InvokeError, InvokeResult

if TYPE_CHECKING:
    from nimbus.server import Nimbus

log = logging.getLogger(__name__)

_LAMBDA_CODES = {
    "ResourceNotFoundException": "Lambda.ResourceNotFound",
    "TooManyRequestsException": "Lambda.InvokeLimitExceeded",
    "AccessDeniedException": "Lambda.InvokeAccessDenied",
    "RequestTooLargeException": "Lambda.RequestTooLarge",
}


class S3EngineSink:
    streams = True  # put_object takes an async iterable of chunks too (the S3 engine streams it to disk)

    def __init__(self, core: Nimbus) -> None:
        self.core = core

    def _engine(self) -> Any:
        from nimbus.services.s3.engine import s3_engine

        return s3_engine(self.core)

    async def put_object(
        self, bucket: str, key: str, body: bytes | AsyncIterable[bytes], *, content_encoding: str | None,
        account_id: str, region: str,
    ) -> None:
        try:
            engine = self._engine()
        except ImportError as e:
            raise DestinationError("Nimbus's S3 service is not available") from e
        try:
            await engine.put_object(
                account_id, region, bucket, key, body,
                content_type="application/octet-stream",
                content_encoding=content_encoding,
            )
        except ServiceError as e:
            raise DestinationError(f"{e.code}: {e.message}") from e

    async def check(self, bucket: str, *, account_id: str, region: str) -> str | None:
        try:
            exists = self._engine().buckets.exists(account_id, bucket)
        except ImportError:
            return "Nimbus's S3 service is not available"
        return None if exists else "NoSuchBucket: The specified bucket does not exist"


class ExternalS3Sink:
    def __init__(self, endpoint: str, access_key: str | None, secret_key: str | None, region: str | None = None) -> None:
        import boto3
        from botocore.config import Config

        self._client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region or "us-east-1",
            config=Config(retries={"max_attempts": 2, "mode": "standard"}, s3={"addressing_style": "path"}),
        )

    async def put_object(
        self, bucket: str, key: str, body: bytes, *, content_encoding: str | None, account_id: str, region: str
    ) -> None:
        kw: dict[str, Any] = {"Bucket": bucket, "Key": key, "Body": body, "ContentType": "application/octet-stream"}
        if content_encoding:
            kw["ContentEncoding"] = content_encoding
        try:
            await asyncio.to_thread(self._client.put_object, **kw)
        except Exception as e:  # noqa: BLE001 - any failure of the remote is a destination failure
            raise DestinationError(f"external S3 put failed: {e}") from e

    async def check(self, bucket: str, *, account_id: str, region: str) -> str | None:
        """Not ready when the endpoint cannot be reached or says the bucket does not exist. Any other
        answer (a store whose keys may not HeadBucket, say) leaves the decision to the next put."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            await asyncio.to_thread(self._client.head_bucket, Bucket=bucket)
        except ClientError as e:
            code = str(e.response.get("Error", {}).get("Code", ""))
            return f"external S3 bucket not available: {e}" if code in ("404", "NoSuchBucket", "NotFound") else None
        except BotoCoreError as e:  # unreachable, refused, timed out
            return f"external S3 endpoint not available: {e}"
        except Exception:  # noqa: BLE001 - unknown: let the put decide
            return None
        return None


class LambdaInvoker:
    def __init__(self, core: Nimbus) -> None:
        self.core = core

    async def invoke(self, function_arn: str, payload: bytes, *, timeout_s: float) -> InvokeResult:
        from nimbus.services.lambda_.invoke import lambda_engine

        engine = lambda_engine(self.core)
        try:
            result = await asyncio.wait_for(
                engine.invoke(function_arn, payload, invocation_type="RequestResponse"), timeout_s
            )
        except asyncio.TimeoutError as e:
            raise InvokeError("Lambda.FunctionTimedOut", "Firehose encountered timeout errors when calling AWS Lambda. The maximum supported function timeout is 5 minutes.") from e
        except ServiceError as e:
            raise InvokeError(_LAMBDA_CODES.get(e.code, f"Lambda.{e.code}"), e.message or e.code) from e
        data = result.payload
        if not isinstance(data, (bytes, bytearray)):
            data = b"".join([chunk async for chunk in data]) if hasattr(data, "__aiter__") else bytes(data or b"")
        return InvokeResult(bytes(data), result.function_error or None)


class CloudWatchErrorLog:
    """Delivery and transform errors as AWS logs them (CloudWatchLoggingOptions): one JSON message per error in
    the configured log group and stream. As on AWS, the group and stream must exist (Firehose does not create
    them; AWS's console does): otherwise the message is dropped, with one warning in the server log."""

    def __init__(self, core: Nimbus) -> None:
        self.core = core
        self._tasks: set[asyncio.Task[None]] = set()
        self._warned: set[tuple[str, str, str, str]] = set()

    def __call__(self, account: str, region: str, group: str, stream: str, message: dict[str, Any]) -> None:
        task = asyncio.get_running_loop().create_task(self._write(account, region, group, stream, message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write(self, account: str, region: str, group: str, stream: str, message: dict[str, Any]) -> None:
        import orjson

        from nimbus.services.logs.sink import logs_engine

        event = {"timestamp": int(self.core.clock.time() * 1000), "message": orjson.dumps(message).decode()}
        try:
            await logs_engine(self.core).put_events(account, region, group, stream, [event])
        except ServiceError as e:
            where = (account, region, group, stream)
            if where not in self._warned:
                self._warned.add(where)
                log.warning("firehose error log dropped group=%s stream=%s: %s", group, stream, e.message)
