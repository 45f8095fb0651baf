"""Where subscription filters deliver: Lambda functions, Kinesis data streams and Firehose delivery streams,
each through its engine's own in-process path (no HTTP).

- Lambda: the Lambda engine's asynchronous (``Event``) invoke, the one invoke path; the payload is
  ``{"awslogs": {"data": base64(gzip(json))}}``. Returns once the event is on Lambda's durable async queue.
- Kinesis: the Kinesis engine's PutRecord path (quotas, shard hashing) with the gzip'd JSON as data.
- Firehose: the Firehose engine's PutRecord path (durable buffer) with the gzip'd JSON as one record.

At PutSubscriptionFilter time ``check`` does what AWS does before accepting a filter: a DryRun invoke of a
function, a test message (CONTROL_MESSAGE) put to a stream. Failures become the AWS errors quoted below.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

import orjson

from nimbus import arn as arns
from nimbus.errors import ServiceError
from nimbus.services.logs.cross_account import NOT_FOUND, destination_name, target_of
from nimbus.services.logs.groups import InvalidParameterException, ResourceNotFoundException
from nimbus.storage import LogClosed

if TYPE_CHECKING:
    from nimbus.server import Nimbus

# errors after which AWS does not retry (the subscriptions guide: "AccessDeniedException or
# ResourceNotFoundException"), plus the payload refusals that a retry cannot fix
NOT_RETRYABLE = {
    "ResourceNotFoundException", "AccessDeniedException", "InvalidArgumentException", "ValidationException",
    "RequestTooLargeException", "InvalidParameterValueException", "InvalidRequestContentException",
}
LAMBDA_CHECK_FAILED = "Could not execute the lambda function. Make sure you have given CloudWatch Logs permission to execute your function."
KINESIS_CHECK_FAILED = "Could not deliver test message to specified Kinesis stream. Check if the given kinesis stream is in ACTIVE state."
FIREHOSE_CHECK_FAILED = "Could not deliver test message to specified Firehose stream. Check if the given Firehose stream is in ACTIVE state."


class DeliveryFailed(Exception):
    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


def kind_of(destination_arn: str) -> str:
    """"lambda", "kinesis", "firehose" or "destination" (a logs destination, cross_account.py); anything else is refused as AWS refuses an unknown destination."""
    try:
        parsed = arns.parse(destination_arn)
    except ValueError:
        parsed = None
    if parsed is not None:
        if destination_name(destination_arn) is not None:
            return "destination"
        if parsed.service == "lambda" and parsed.resource.startswith("function:"):
            return "lambda"
        if parsed.service == "kinesis" and parsed.resource.startswith("stream/"):
            return "kinesis"
        if parsed.service == "firehose" and parsed.resource.startswith("deliverystream/"):
            return "firehose"
    raise InvalidParameterException(
        f"Invalid destinationArn {destination_arn}: Nimbus delivers to Lambda functions, Kinesis data streams and "
        "Firehose delivery streams of its own, and CloudWatch Logs destinations."
    )


def control_message(kind: str, now_ms: int) -> bytes:
    """The test message AWS puts to a stream destination when a filter is created (gzip'd by the caller)."""
    what = "Kinesis stream" if kind == "kinesis" else "Firehose"
    return orjson.dumps({
        "messageType": "CONTROL_MESSAGE",
        "owner": "CloudwatchLogs",
        "logGroup": "",
        "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [{"id": "", "timestamp": now_ms, "message": f"CWL CONTROL MESSAGE: Checking health of destination {what}."}],
    })


def lambda_payload(data: bytes) -> bytes:
    return orjson.dumps({"awslogs": {"data": base64.b64encode(data).decode("ascii")}})


def _failed(e: BaseException) -> DeliveryFailed:
    code = getattr(e, "code", None)
    return DeliveryFailed(f"{code or type(e).__name__}: {e}", retryable=code not in NOT_RETRYABLE)


class CoreDestinations:
    """The three destination types over the server's engines (looked up when first used)."""

    def __init__(self, core: Nimbus) -> None:
        self.core = core

    def _lambda(self) -> Any:
        from nimbus.services.lambda_.engine import lambda_engine

        return lambda_engine(self.core)

    def _kinesis(self) -> Any:
        return self.core.api("kinesis").streams

    def _firehose(self) -> Any:
        return self.core.api("firehose").streams

    async def check(self, destination_arn: str, control: bytes) -> None:
        """Refuse a destination AWS would refuse at PutSubscriptionFilter (InvalidParameterException)."""
        kind = kind_of(destination_arn)
        if kind == "destination":
            target = target_of(self.core.storage.metadata, destination_arn)
            if target is None:
                raise ResourceNotFoundException(NOT_FOUND)
            destination_arn, kind = target, kind_of(target)
        if kind == "lambda":
            try:
                await self._lambda().invoke(destination_arn, b"{}", invocation_type="DryRun")
            except ServiceError as e:
                raise InvalidParameterException(LAMBDA_CHECK_FAILED) from e
            return
        try:
            await self.send(destination_arn, control, partition_key=_random_key())
        except DeliveryFailed as e:
            raise InvalidParameterException(KINESIS_CHECK_FAILED if kind == "kinesis" else FIREHOSE_CHECK_FAILED) from e

    async def send(self, destination_arn: str, data: bytes, *, partition_key: str) -> None:
        """Deliver one gzip'd message; raises DeliveryFailed (retryable or not)."""
        kind = kind_of(destination_arn)
        if kind == "destination":
            target = target_of(self.core.storage.metadata, destination_arn)
            if target is None:  # deleted since the filter was made: AWS does not retry a missing resource
                raise DeliveryFailed(f"ResourceNotFoundException: {NOT_FOUND}", retryable=False)
            destination_arn, kind = target, kind_of(target)
        try:
            if kind == "lambda":
                await self._lambda().invoke_event(destination_arn, lambda_payload(data), source="logs")
            elif kind == "kinesis":
                parsed = arns.parse(destination_arn)
                streams = self._kinesis()
                stream = streams.writable(parsed.account, parsed.region, arn=destination_arn)
                await streams.put_record(stream, data, partition_key, None, None)
            else:
                parsed = arns.parse(destination_arn)
                name = parsed.resource.split("/", 1)[1]
                _, seqs, _ = await self._firehose().put(parsed.account, parsed.region, name, [data], len(data))
                if not seqs:
                    raise DeliveryFailed("ServiceUnavailableException: Slow down.", retryable=True)
        except DeliveryFailed:
            raise
        except (ServiceError, LogClosed) as e:
            raise _failed(e) from e


def _random_key() -> str:
    import secrets

    return secrets.token_hex(16)
