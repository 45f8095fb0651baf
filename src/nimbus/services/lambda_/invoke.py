"""The one internal invoke path: every trigger (Invoke API, API Gateway, function URLs, Firehose transforms,
Kinesis event source mappings, S3 notifications, async destinations) calls ``LambdaEngine.invoke``.

    from nimbus.services.lambda_.invoke import lambda_engine

    engine = lambda_engine(core)                 # the shared "lambda.engine" component
    result = await engine.invoke(
        function_ref,                            # name, name:qualifier, partial or full ARN
        payload,                                 # bytes (the event, JSON)
        invocation_type="RequestResponse",       # | "Event" (queued, 202) | "DryRun" (204)
        qualifier=None,                          # version or alias; must agree with one in the ARN
        client_context=None,                     # base64 JSON, as the X-Amz-Client-Context header
        log_type="None",                         # | "Tail" → result.log_result (base64, last 4 KB)
        region=None, account_id=None,            # defaults: the ARN's, else the server's
        request_id=None,                         # defaults to a new UUID
    ) -> Invocation(status_code, payload, function_error, log_result, executed_version, request_id)

``Invocation.function_error`` is ``"Unhandled"`` when the function failed (its error JSON is the payload),
exactly what the Invoke API returns in X-Amz-Function-Error. Errors Lambda itself answers are raised as
the Lambda ``ServiceError`` subclasses (ResourceNotFoundException, TooManyRequestsException 429 when
throttled, RequestTooLargeException, InvalidRequestContentException, ...).

The engine also owns the control plane (``engine.functions``, ``engine.layers``), the async queue, and the
``lambda.invoker`` component (``nimbus.runtime.Invoker``) that runs code in execution environments.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import random
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from nimbus.services.cloudwatch.feed import FEED
from nimbus.services.lambda_ import async_queue
from nimbus.services.lambda_.code import CodeServer, CodeStore
from nimbus.services.lambda_.errors import (
    InvalidParameterValueException,
    InvalidRequestContentException,
    RequestTooLargeException,
    ResourceConflictException,
    ResourceNotFoundException,
    ServiceException,
    TooManyRequestsException,
)
from nimbus.services.lambda_.functions import Functions, Resolved
from nimbus.services.lambda_.layers import Layers
from nimbus.services.lambda_.names import LATEST, FunctionRef, parse_function_ref
from nimbus.services.lambda_.provisioned import ProvisionedConcurrency

if TYPE_CHECKING:
    from nimbus.runtime import ResponseStream
    from nimbus.server import Nimbus

log = logging.getLogger(__name__)

# aws-contracts.md C.2
MAX_SYNC_PAYLOAD = 6_291_456
MAX_ASYNC_PAYLOAD = 1_048_576
MAX_SYNC_RESPONSE = 6_291_556  # the figure AWS's error message quotes
MAX_CLIENT_CONTEXT = 3_583
LOG_TAIL_BYTES = 4096


@dataclass(slots=True, frozen=True)
class Invocation:
    status_code: int  # 200 RequestResponse, 202 Event, 204 DryRun
    payload: bytes
    function_error: str | None  # "Unhandled" when the function failed
    log_result: str | None  # base64 of the last 4 KB of the log (LogType Tail)
    executed_version: str | None
    request_id: str
    streamed: bool = False  # the function streamed its response (chunks went to the stream as they came)
    content_type: str | None = None


def lambda_engine(core: Nimbus) -> LambdaEngine:
    """The shared engine (component "lambda.engine")."""
    return core.component("lambda.engine", lambda: LambdaEngine(core))


def lambda_invoker(core: Nimbus) -> Any:
    """The runtime's Invoker (component "lambda.invoker"), writing function logs to the logs service."""

    def build() -> Any:
        from nimbus.runtime import Invoker
        from nimbus.services.logs.sink import logs_sink

        return Invoker(
            endpoint_url=core.settings.endpoint_url,
            credentials_issuer=core.credentials.issue,
            credentials_revoker=core.credentials.revoke,
            log_sink=logs_sink(core),
            settings=core.settings,
        )

    return core.component("lambda.invoker", build)


def _retry_delays(extra: Any) -> tuple[float, ...]:
    raw = (extra or {}).get("NIMBUS_LAMBDA_RETRY_DELAYS")
    if not raw:
        return async_queue.DEFAULT_RETRY_DELAYS_S
    return tuple(float(x) for x in str(raw).split(",") if x.strip())


def _pick(weights: dict[str, float]) -> str | None:
    """Alias routing: a version from AdditionalVersionWeights, or None for the alias's main version."""
    r = random.random()
    acc = 0.0
    for version, weight in weights.items():
        acc += float(weight)
        if r < acc:
            return version
    return None


def _is_throttle(exc: BaseException) -> bool:
    name = type(exc).__name__.lower()
    return "throttl" in name or "toomanyrequests" in name or "concurrencylimit" in name


SWEEP_DELAY_S = 5.0  # how long after start the unused code packages are swept


class LambdaEngine:
    def __init__(self, core: Nimbus) -> None:
        self.core = core
        settings = core.settings
        self.account_id = settings.account_id
        self.region = settings.default_region
        storage = core.storage
        secret = core.credentials.root.secret_access_key.encode()
        self.code = CodeStore(storage.blobs, Path(settings.data_dir) / "lambda" / "code", secret)
        self.layers = Layers(storage.metadata, self.code, clock_time=core.clock.time)
        self.functions = Functions(
            storage.metadata,
            self.code,
            clock_time=core.clock.time,
            layer_resolver=self.layers.resolve,
            on_change=self._changed,
            account_concurrency=settings.account_concurrency,
        )
        self.functions.read_s3 = self._read_s3  # type: ignore[method-assign]
        self.functions.runtime_note = self._runtime_note
        self.queue = async_queue.AsyncQueue(
            storage.logs.open(async_queue.QUEUE_LOG),
            storage.metadata,
            run=self._run_queued,
            policy=self._queue_policy,
            deliver=self._deliver,
            retry_delays_s=_retry_delays(settings.extra),
            clock_time=core.clock.time,
        )
        self._specs: dict[tuple[str, str], tuple[Resolved, Any]] = {}
        self.provisioned = ProvisionedConcurrency(self)
        self._aliases: dict[tuple[str, str], tuple[str, dict[str, float]]] = {}
        core.app.mount(CodeServer.matches, CodeServer(self.code), internal=True)
        self._started = False

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        if not self._started:
            self._started = True
            self.core.spawn(self._sweep_code(time.time()), "lambda-code-sweep")
            self.queue.start()
            self.provisioned.start()
            runtimes = sorted({cfg.get("Runtime", "") for _, cfg in self.functions.db.list("lambda.ver") if cfg.get("Version") == LATEST})
            python = tuple(r for r in runtimes if r.startswith("python"))
            if python:  # warm the zygotes of the runtimes in use, so the first invoke after a restart is quick
                self.core.spawn(self._warm(python), "lambda-warm-runtimes")

    # --- code packages no longer used (code.py: release now, sweep at start) ------------------------

    def referenced_packages(self) -> set[str]:
        """Every package a function version (its code and the layer versions it was given) or a layer
        version names."""
        shas: set[str] = set()
        for _, cfg in self.functions.db.list("lambda.ver"):
            code = cfg.get("_code")
            if code:
                shas.add(code["sha256_hex"])
            shas.update(layer["sha256_hex"] for layer in cfg.get("_layers") or [] if layer.get("sha256_hex"))
        for _, doc in self.functions.db.list("lambda.layerver"):
            code = doc.get("_code")
            if code:
                shas.add(code["sha256_hex"])
        return shas

    def packages_of(self, docs: list[dict[str, Any]]) -> set[str]:
        """The packages named by the given version or layer version documents (before a change removes them)."""
        shas: set[str] = set()
        for doc in docs:
            if doc.get("_code"):
                shas.add(doc["_code"]["sha256_hex"])
            shas.update(layer["sha256_hex"] for layer in doc.get("_layers") or [] if layer.get("sha256_hex"))
        return shas

    def release_packages(self, candidates: set[str], since: float) -> None:
        """After a change that may have unnamed ``candidates`` (committed): delete the zips nothing names now."""
        if not candidates:
            return
        try:
            removed = self.code.release(candidates, self.referenced_packages(), since=since)
        except Exception:  # noqa: BLE001 - a leftover zip is swept at the next start
            log.exception("lambda code release failed")
            return
        if removed:
            log.info("lambda code packages released count=%d", removed)

    async def _sweep_code(self, before: float) -> None:
        # after the start-up work of the other services: the sweep then takes the worker thread they
        # used instead of starting another (each new thread costs the process a malloc arena)
        await asyncio.sleep(SWEEP_DELAY_S)
        try:
            zips, dirs = await self.code.sweep(await asyncio.to_thread(self.referenced_packages), before=before)
        except Exception:  # noqa: BLE001 - only disk space is at stake
            log.exception("lambda code sweep failed")
            return
        if zips or dirs:
            log.info("lambda code sweep removed zips=%d directories=%d", zips, dirs)

    async def _warm(self, runtimes: tuple[str, ...]) -> None:
        try:
            await self.invoker.start(runtimes)
        except Exception:  # noqa: BLE001 - only an optimisation
            log.debug("runtime warm-up failed", exc_info=True)

    async def _runtime_note(self, runtime: str) -> str:
        """Why a function's runtime runs on another interpreter ('' when it does not)."""
        _, note = await self.invoker.resolve(runtime)
        return str(note or "")

    async def aclose(self) -> None:
        await self.queue.aclose()

    @property
    def invoker(self) -> Any:
        return lambda_invoker(self.core)

    # --- caches ---------------------------------------------------------------------------------

    def _changed(self, ref: FunctionRef) -> None:
        for k in [k for k in self._specs if k[0] == ref.key]:
            del self._specs[k]
        for k in [k for k in self._aliases if k[0] == ref.key]:
            del self._aliases[k]
        invoker = self.core._components.get("lambda.invoker")  # only if one was ever built
        if invoker is not None:
            try:
                invoker.invalidate(ref.arn)
            except Exception:  # noqa: BLE001
                log.warning("invoker.invalidate failed function=%s", ref.arn, exc_info=True)
        self.provisioned.changed(ref)

    async def _spec(self, ref: FunctionRef, version: str, resolved: Resolved | None = None) -> tuple[Resolved, Any]:
        key = (ref.key, version)
        hit = self._specs.get(key)
        if hit is not None:
            return hit
        if resolved is None or resolved.version != version:
            resolved = self.functions.resolve(ref.with_qualifier(version))
        cfg = resolved.config
        code_dir = await self.code.extracted(cfg["_code"]["sha256_hex"])
        layer_dirs = [await self.code.extracted(la["sha256_hex"]) for la in cfg.get("_layers") or []]
        from nimbus.runtime import FunctionSpec

        concurrency = resolved.fn.get("Concurrency")
        logging_config = cfg.get("LoggingConfig") or {}
        spec = FunctionSpec(
            function_name=cfg["FunctionName"],
            function_arn=ref.arn,
            version=version,
            runtime=cfg["Runtime"],
            handler=cfg["Handler"],
            code_dir=code_dir,
            layer_dirs=tuple(layer_dirs),
            memory_mb=int(cfg["MemorySize"]),
            timeout_s=float(cfg["Timeout"]),
            ephemeral_storage_mb=int((cfg.get("EphemeralStorage") or {}).get("Size", 512)),
            environment=dict((cfg.get("Environment") or {}).get("Variables") or {}),
            region=ref.region,
            account_id=ref.account,
            log_group=(cfg.get("LoggingConfig") or {}).get("LogGroup") or f"/aws/lambda/{cfg['FunctionName']}",
            config_key=f"{ref.arn}:{version}:{cfg['RevisionId']}",
            reserved_concurrency=None if concurrency is None else int(concurrency),
            role_arn=str(cfg.get("Role") or ""),
            log_format=str(logging_config.get("LogFormat") or "Text"),
            application_log_level=logging_config.get("ApplicationLogLevel"),
            system_log_level=logging_config.get("SystemLogLevel"),
        )
        entry = (resolved, spec)
        # only cache if nothing changed the function while we awaited extraction
        if self.functions.db.get("lambda.ver", f"{ref.key}:{version if version == LATEST else f'{int(version):010d}'}") == cfg:
            self._specs[key] = entry
        return entry

    async def _resolve(self, ref: FunctionRef) -> tuple[Resolved, Any]:
        q = ref.qualifier or LATEST
        if q == LATEST or q.isdigit():
            if (ref.key, q) not in self._specs:
                # a missing function is reported under the name the caller used: an unqualified
                # Invoke says "Function not found: <arn>", without ":$LATEST" (as AWS's does)
                self.functions.function_doc(ref)
            return await self._spec(ref, q)
        cached = self._aliases.get((ref.key, q))
        if cached is None:
            alias = self.functions.alias_doc(ref, q)
            if alias is None:
                self.functions.function_doc(ref)
                raise ResourceNotFoundException(f"Function not found: {ref.qualified_arn()}")
            cached = (alias["FunctionVersion"], dict((alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}))
            self._aliases[(ref.key, q)] = cached
        version, weights = cached
        if weights:
            version = _pick(weights) or version
        return await self._spec(ref, version)

    # --- invoke ---------------------------------------------------------------------------------

    def parse_ref(self, function_ref: str, qualifier: str | None, region: str | None, account_id: str | None) -> FunctionRef:
        return parse_function_ref(function_ref, region=region or self.region, account=account_id or self.account_id, qualifier=qualifier)

    async def invoke(
        self,
        function_ref: str,
        payload: bytes,
        *,
        invocation_type: str = "RequestResponse",
        qualifier: str | None = None,
        client_context: str | None = None,
        log_type: str = "None",
        region: str | None = None,
        account_id: str | None = None,
        request_id: str | None = None,
        stream: ResponseStream | None = None,
    ) -> Invocation:
        """``stream``: where a streaming function's response goes as it is written (InvokeWithResponseStream);
        without it, a streamed response is gathered and answered whole."""
        ref = self.parse_ref(function_ref, qualifier, region, account_id)
        rid = request_id or str(uuid.uuid4())
        if invocation_type == "Event":
            if len(payload) > MAX_ASYNC_PAYLOAD:
                raise RequestTooLargeException(f"Request must be smaller than {MAX_ASYNC_PAYLOAD} bytes for the InvokeFunction operation")
        elif len(payload) > MAX_SYNC_PAYLOAD:
            raise RequestTooLargeException(f"Request must be smaller than {MAX_SYNC_PAYLOAD} bytes for the InvokeFunction operation")
        if not payload:
            payload = b"{}"
        else:
            try:
                orjson.loads(payload)
            except orjson.JSONDecodeError as e:
                raise InvalidRequestContentException(f"Could not parse request body into json: Could not parse payload into json: {e}") from e
        if invocation_type == "DryRun":
            self.functions.resolve(ref)  # raises ResourceNotFoundException
            return Invocation(204, b"", None, None, None, rid)
        if invocation_type == "Event":
            self.functions.resolve(ref)
            now_ms = int(self.core.clock.time() * 1000)
            await self.queue.enqueue(async_queue.Event(rid, ref.arn, ref.qualifier, payload, now_ms))
            return Invocation(202, b"", None, None, None, rid)
        if invocation_type != "RequestResponse":
            raise InvalidParameterValueException(f"Unsupported invocation type {invocation_type}")
        cc_json = self._client_context(client_context)
        resolved, spec = await self._resolve(ref)
        if stream is not None:
            stream.executed_version = spec.version
        result = await self._call(spec, payload, rid, cc_json, log_type == "Tail", invoked_arn=ref.qualified_arn(), stream=stream)
        body = result.payload or b""
        function_error = "Unhandled" if result.function_error else None
        if len(body) > MAX_SYNC_RESPONSE:
            body = orjson.dumps(
                {
                    "errorMessage": f"Response payload size exceeded maximum allowed payload size ({MAX_SYNC_RESPONSE} bytes).",
                    "errorType": "Function.ResponseSizeTooLarge",
                }
            )
            function_error = "Unhandled"
        log_result = None
        if log_type == "Tail":
            tail = result.log_tail or b""
            if isinstance(tail, str):
                tail = tail.encode("utf-8", "replace")
            log_result = base64.b64encode(tail[-LOG_TAIL_BYTES:]).decode("ascii")
        return Invocation(
            200, body, function_error, log_result, result.executed_version or spec.version, rid, result.streamed, result.content_type
        )

    async def invoke_event(
        self, function_ref: str, payload: bytes, *, source: str | None = None, region: str | None = None, account_id: str | None = None
    ) -> Invocation:
        """An asynchronous (``Event``) invoke for triggers such as S3 notifications (``source`` is informative)."""
        return await self.invoke(function_ref, payload, invocation_type="Event", region=region, account_id=account_id)

    def _client_context(self, client_context: str | None) -> str | None:
        if not client_context:
            return None
        if len(client_context) > MAX_CLIENT_CONTEXT:
            raise InvalidParameterValueException("Client context must be smaller than 3583 bytes.")
        try:
            decoded = base64.b64decode(client_context, validate=True)
            orjson.loads(decoded)
        except (binascii.Error, ValueError) as e:
            raise InvalidRequestContentException("Client context must be a valid Base64-encoded JSON object.") from e
        return decoded.decode("utf-8")

    async def _call(
        self, spec: Any, payload: bytes, rid: str, client_context: str | None, tail: bool, *, invoked_arn: str,
        stream: ResponseStream | None = None,
    ) -> Any:
        FEED.lambda_started(invoked_arn)  # AWS/Lambda metrics: an in-memory update, flushed by CloudWatch
        try:
            result = await self.invoker.invoke(
                spec, payload, request_id=rid, client_context=client_context, tail=tail, invoked_function_arn=invoked_arn,
                stream=stream,
            )
            FEED.lambda_finished(invoked_arn, result.duration_ms, error=bool(result.function_error))
            return result
        except Exception as e:
            FEED.lambda_failed(invoked_arn, throttled=_is_throttle(e))
            if _is_throttle(e):
                reason = getattr(e, "fields", {}).get("Reason") or (
                    "ReservedFunctionConcurrentInvocationLimitExceeded" if spec.reserved_concurrency is not None else "ConcurrentInvocationLimitExceeded"
                )
                raise TooManyRequestsException("Rate Exceeded.", headers={"Retry-After": "1"}, Reason=reason, retryAfterSeconds="1") from e
            if isinstance(e, (ResourceConflictException, ResourceNotFoundException, InvalidParameterValueException)):
                raise
            from nimbus.errors import ServiceError

            if isinstance(e, ServiceError):
                raise
            log.exception("invoker failed function=%s", spec.function_arn)
            raise ServiceException(f"Nimbus failed to run the function: {type(e).__name__}: {e}") from e

    # --- async queue hooks ------------------------------------------------------------------------

    async def _run_queued(self, event: async_queue.Event) -> async_queue.Outcome:
        try:
            ref = self.parse_ref(event.function, event.qualifier, None, None)
            resolved, spec = await self._resolve(ref)
        except ResourceNotFoundException:
            return async_queue.Outcome("gone")
        FEED.lambda_started(ref.qualified_arn())
        try:
            result = await self.invoker.invoke(
                spec, event.payload, request_id=event.request_id, client_context=None, tail=False,
                invoked_function_arn=ref.qualified_arn(),
            )
            FEED.lambda_finished(ref.qualified_arn(), result.duration_ms, error=bool(result.function_error))
        except Exception as e:  # noqa: BLE001
            FEED.lambda_failed(ref.qualified_arn(), throttled=_is_throttle(e))
            if _is_throttle(e):
                return async_queue.Outcome("throttled", status_code=429)
            log.warning("async invoke system error function=%s", spec.function_arn, exc_info=True)
            return async_queue.Outcome("system_error", status_code=500)
        version = result.executed_version or spec.version
        if result.function_error:
            return async_queue.Outcome("function_error", result.payload or b"", version, "Unhandled")
        return async_queue.Outcome("ok", result.payload or b"", version)

    def _queue_policy(self, event: async_queue.Event) -> tuple[int, int, str | None, str | None]:
        try:
            ref = self.parse_ref(event.function, event.qualifier, None, None)
            fn = self.functions.function_doc(ref)
        except ResourceNotFoundException:
            return async_queue.DEFAULT_MAX_ATTEMPTS, async_queue.DEFAULT_MAX_AGE_S, None, None
        cfg = (fn.get("EventInvoke") or {}).get(event.qualifier or LATEST) or {}
        dest = cfg.get("DestinationConfig") or {}
        return (
            1 + int(cfg.get("MaximumRetryAttempts", 2)),
            int(cfg.get("MaximumEventAgeInSeconds", async_queue.DEFAULT_MAX_AGE_S)),
            (dest.get("OnSuccess") or {}).get("Destination"),
            (dest.get("OnFailure") or {}).get("Destination"),
        )

    async def _deliver(self, destination: str, record: bytes) -> None:
        if destination.startswith("arn:") and destination.split(":")[2:3] == ["lambda"]:
            await self.invoke(destination, record, invocation_type="Event")
            return
        log.warning("async destination type not served by Nimbus; record dropped destination=%s", destination)

    # --- S3 code --------------------------------------------------------------------------------

    async def _read_s3(self, bucket: str, key: str, version: str | None) -> bytes:
        """Code.S3Bucket/S3Key through Nimbus's own S3 engine (component "s3.engine")."""
        from nimbus.errors import ServiceError

        try:
            from nimbus.services.s3.engine import s3_engine
        except ImportError:
            raise InvalidParameterValueException(
                "Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error Message: The specified bucket does not exist"
            ) from None
        try:
            return await s3_engine(self.core).get_object_bytes(self.account_id, bucket, key)
        except ServiceError as e:
            raise InvalidParameterValueException(
                f"Error occurred while GetObject. S3 Error Code: {e.code}. S3 Error Message: {e.message}"
            ) from e
