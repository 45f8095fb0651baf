"""LambdaApi: the ``lambda`` operations (rest-json, aws-contracts.md C.1/C.2), each one shape in → engine → shape out."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from nimbus.services.base import RequestContext
from nimbus.services.lambda_.code import MAX_UNZIPPED_BYTES, MAX_ZIPPED_BYTES
from nimbus.services.lambda_.errors import InvalidParameterValueException
from nimbus.services.lambda_.invoke import LambdaEngine, lambda_engine
from nimbus.services.lambda_.names import LATEST, FunctionRef, parse_function_ref, parse_layer_ref, version_key

if TYPE_CHECKING:
    from nimbus.server import Nimbus

TOTAL_CODE_SIZE = 80_530_636_800


def create_api(core: Nimbus) -> LambdaApi:
    return LambdaApi(core)


class LambdaApi:
    # Event source mappings (Lambda <- Kinesis): thin methods kept beside their engine, kinesis/mappings.py.
    from nimbus.services.kinesis.esm_api import (
        create_event_source_mapping,
        delete_event_source_mapping,
        get_event_source_mapping,
        list_event_source_mappings,
        update_event_source_mapping,
    )

    def __init__(self, core: Nimbus) -> None:
        self.core = core
        self._engine: LambdaEngine | None = None

    @property
    def engine(self) -> LambdaEngine:
        if self._engine is None:
            self._engine = lambda_engine(self.core)
        return self._engine

    async def start(self) -> None:
        """Resume the async invocation queue at boot."""
        self.engine.start()

    async def aclose(self) -> None:
        """Stop the async queue before the components (the invoker) close."""
        if self._engine is not None:
            await self._engine.queue.aclose()

    def _ref(self, ctx: RequestContext, params: dict[str, Any], qualifier_key: str | None = "Qualifier") -> FunctionRef:
        return parse_function_ref(
            params["FunctionName"],
            region=ctx.region,
            account=ctx.account_id,
            qualifier=params.get(qualifier_key) if qualifier_key else None,
        )

    # --- functions ------------------------------------------------------------------------------

    async def create_function(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = self._ref(ctx, params, None)
        if ref.qualifier is not None:
            raise InvalidParameterValueException("Function name cannot include a qualifier when creating a function.")
        self.engine.start()
        return await self.engine.functions.create(ref, params)

    async def get_function(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = self._ref(ctx, params)
        functions = self.engine.functions
        cfg = functions.configuration(ref)
        if ref.qualifier:
            cfg = {**cfg, "FunctionArn": ref.qualified_arn()} if not ref.qualifier.isdigit() else cfg
        resolved = functions.resolve(ref)
        out: dict[str, Any] = {
            "Configuration": cfg,
            "Code": {
                "RepositoryType": "S3",
                "Location": self.engine.code.location(ctx.endpoint_url, resolved.config["_code"]["sha256_hex"]),
            },
        }
        fn = resolved.fn
        if fn.get("Tags"):
            out["Tags"] = dict(fn["Tags"])
        if fn.get("Concurrency") is not None:
            out["Concurrency"] = {"ReservedConcurrentExecutions": fn["Concurrency"]}
        return out

    async def get_function_configuration(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = self._ref(ctx, params)
        cfg = self.engine.functions.configuration(ref)
        if ref.qualifier and not ref.qualifier.isdigit():
            cfg = {**cfg, "FunctionArn": ref.qualified_arn()}
        return cfg

    async def list_functions(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("MasterRegion"):
            raise InvalidParameterValueException("Nimbus does not serve Lambda@Edge replicas (MasterRegion).")
        functions, marker = self.engine.functions.list(
            ctx.region, ctx.account_id, params.get("Marker"), params.get("MaxItems"), params.get("FunctionVersion") == "ALL"
        )
        out: dict[str, Any] = {"Functions": functions}
        if marker:
            out["NextMarker"] = marker
        return out

    async def update_function_code(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = self._ref(ctx, params, None)
        since = time.time()
        before = self._packages(ref, latest_only=True)
        out = await self.engine.functions.update_code(ref, params)
        self.engine.release_packages(before, since)  # the replaced package, unless a version keeps it
        return out

    def _packages(self, ref: FunctionRef, *, latest_only: bool = False) -> set[str]:
        """The packages a function's versions (or one version, or only $LATEST) name now; none when it does not exist."""
        db = self.engine.functions.db
        if latest_only or ref.qualifier is not None:
            qualifier = LATEST if latest_only else ref.qualifier or LATEST
            if qualifier != LATEST and not qualifier.isdigit():
                return set()  # an alias: the call refuses it
            doc = db.get("lambda.ver", f"{ref.key}:{version_key(qualifier)}")
            return self.engine.packages_of([doc] if doc else [])
        return self.engine.packages_of([doc for _, doc in db.list("lambda.ver", f"{ref.key}:")])

    async def update_function_configuration(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return await self.engine.functions.update_configuration(self._ref(ctx, params, None), params)

    async def delete_function(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = self._ref(ctx, params)
        since = time.time()
        before = self._packages(ref)
        self.engine.functions.delete(ref)
        self.engine.release_packages(before, since)
        if ref.qualifier is None:  # the function's URL configs go with it, as on AWS
            from nimbus.services.apigateway.urlconfigs import function_url_configs

            function_url_configs(self.core).function_deleted(ref.account, ref.region, ref.name)
        return {"StatusCode": 204}

    # --- versions and aliases -------------------------------------------------------------------

    async def publish_version(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.engine.functions.publish(self._ref(ctx, params, None), params)

    async def list_versions_by_function(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        versions, marker = self.engine.functions.list_versions(self._ref(ctx, params, None), params.get("Marker"), params.get("MaxItems"))
        out: dict[str, Any] = {"Versions": versions}
        if marker:
            out["NextMarker"] = marker
        return out

    async def create_alias(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.engine.functions.create_alias(self._ref(ctx, params, None), params)

    async def get_alias(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.engine.functions.get_alias(self._ref(ctx, params, None), params["Name"])

    async def update_alias(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.engine.functions.update_alias(self._ref(ctx, params, None), params)

    async def delete_alias(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = self._ref(ctx, params, None)
        self.engine.functions.delete_alias(ref, params["Name"])
        from nimbus.services.apigateway.urlconfigs import function_url_configs

        function_url_configs(self.core).function_deleted(ref.account, ref.region, ref.name, params["Name"])
        return {}

    async def list_aliases(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        aliases, marker = self.engine.functions.list_aliases(
            self._ref(ctx, params, None), params.get("FunctionVersion"), params.get("Marker"), params.get("MaxItems")
        )
        out: dict[str, Any] = {"Aliases": aliases}
        if marker:
            out["NextMarker"] = marker
        return out

    # --- permissions ----------------------------------------------------------------------------

    async def add_permission(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        statement = self.engine.functions.add_permission(self._ref(ctx, params), params)
        return {"Statement": json.dumps(statement, separators=(",", ":"))}

    async def remove_permission(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.engine.functions.remove_permission(self._ref(ctx, params), params["StatementId"], params.get("RevisionId"))
        return {}

    async def get_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        policy, revision = self.engine.functions.get_policy(self._ref(ctx, params))
        return {"Policy": json.dumps(policy, separators=(",", ":")), "RevisionId": revision}

    # --- concurrency ----------------------------------------------------------------------------

    async def put_function_concurrency(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        value = self.engine.functions.put_concurrency(self._ref(ctx, params, None), int(params["ReservedConcurrentExecutions"]))
        return {"ReservedConcurrentExecutions": value}

    async def get_function_concurrency(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        value = self.engine.functions.get_concurrency(self._ref(ctx, params, None))
        return {} if value is None else {"ReservedConcurrentExecutions": value}

    async def delete_function_concurrency(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.engine.functions.delete_concurrency(self._ref(ctx, params, None))
        return {}

    # --- provisioned concurrency (provisioned.py) ---------------------------------------------------

    def _pc_ref(self, ctx: RequestContext, params: dict[str, Any]) -> tuple[FunctionRef, str]:
        ref = self._ref(ctx, params)
        return ref.with_qualifier(None), str(ref.qualifier)

    async def put_provisioned_concurrency_config(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref, qualifier = self._pc_ref(ctx, params)
        self.engine.start()
        return self.engine.provisioned.put(ref, qualifier, int(params["ProvisionedConcurrentExecutions"]))

    async def get_provisioned_concurrency_config(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.engine.provisioned.get(*self._pc_ref(ctx, params))

    async def delete_provisioned_concurrency_config(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.engine.provisioned.delete(*self._pc_ref(ctx, params))
        return {}

    async def list_provisioned_concurrency_configs(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        items, marker = self.engine.provisioned.list(self._ref(ctx, params, None), params.get("Marker"), params.get("MaxItems"))
        out: dict[str, Any] = {"ProvisionedConcurrencyConfigs": items}
        if marker:
            out["NextMarker"] = marker
        return out

    async def get_account_settings(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        functions = self.engine.functions
        total, count = functions.account_usage(ctx.region, ctx.account_id)
        limit = self.core.settings.account_concurrency
        return {
            "AccountLimit": {
                "TotalCodeSize": TOTAL_CODE_SIZE,
                "CodeSizeUnzipped": MAX_UNZIPPED_BYTES,
                "CodeSizeZipped": MAX_ZIPPED_BYTES,
                "ConcurrentExecutions": limit,
                "UnreservedConcurrentExecutions": limit - functions.reserved_total(ctx.region, ctx.account_id),
            },
            "AccountUsage": {"TotalCodeSize": total, "FunctionCount": count},
        }

    # --- settings Nimbus does not offer, read as AWS reports their defaults (tools such as Terraform read
    # them after every deploy); a missing function is still ResourceNotFoundException -------------------

    # --- code signing configurations (signing.py: recorded, not applied) ------------------------------

    @property
    def signing(self) -> Any:
        from nimbus.services.lambda_.signing import CodeSigning

        return self.core.component("lambda.signing", lambda: CodeSigning(self.engine.functions, self.core.clock.time))

    async def create_code_signing_config(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"CodeSigningConfig": self.signing.create(ctx.account_id, ctx.region, params)}

    async def get_code_signing_config(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"CodeSigningConfig": self.signing.get(ctx.account_id, ctx.region, params["CodeSigningConfigArn"])}

    async def update_code_signing_config(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"CodeSigningConfig": self.signing.update(ctx.account_id, ctx.region, params["CodeSigningConfigArn"], params)}

    async def delete_code_signing_config(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.signing.delete(ctx.account_id, ctx.region, params["CodeSigningConfigArn"])
        return {}

    async def list_code_signing_configs(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        items, marker = self.signing.list(ctx.account_id, ctx.region, params.get("Marker"), params.get("MaxItems"))
        return {"CodeSigningConfigs": items, **({"NextMarker": marker} if marker else {})}

    async def list_functions_by_code_signing_config(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arns, marker = self.signing.functions_using(ctx.account_id, ctx.region, params["CodeSigningConfigArn"], params.get("Marker"),
                                                    params.get("MaxItems"))
        return {"FunctionArns": arns, **({"NextMarker": marker} if marker else {})}

    async def put_function_code_signing_config(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = self._ref(ctx, params, None)
        self.signing.attach(ref, params["CodeSigningConfigArn"])
        return {"CodeSigningConfigArn": params["CodeSigningConfigArn"], "FunctionName": ref.name}

    async def delete_function_code_signing_config(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.signing.attach(self._ref(ctx, params, None), None)
        return {}

    async def get_function_code_signing_config(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = self._ref(ctx, params, None)
        return {"CodeSigningConfigArn": self.signing.of(ref), "FunctionName": ref.name}

    # --- recorded settings: stored and answered back; Nimbus has no recursion detection or runtime versions

    async def put_function_recursion_config(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"RecursiveLoop": self.engine.functions.put_recursion(self._ref(ctx, params, None), params["RecursiveLoop"])}

    async def get_function_recursion_config(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"RecursiveLoop": self.engine.functions.get_recursion(self._ref(ctx, params, None))}

    async def put_runtime_management_config(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.engine.functions.put_runtime_management(self._ref(ctx, params), params["UpdateRuntimeOn"], params.get("RuntimeVersionArn"))

    async def get_runtime_management_config(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.engine.functions.get_runtime_management(self._ref(ctx, params))


    # --- tags -----------------------------------------------------------------------------------

    def _tag_ref(self, ctx: RequestContext, arn: str) -> FunctionRef:
        ref = parse_function_ref(arn, region=ctx.region, account=ctx.account_id)
        return ref.with_qualifier(None)

    async def tag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.engine.functions.tag(self._tag_ref(ctx, params["Resource"]), dict(params.get("Tags") or {}))
        return {}

    async def untag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.engine.functions.untag(self._tag_ref(ctx, params["Resource"]), list(params.get("TagKeys") or []))
        return {}

    async def list_tags(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"Tags": self.engine.functions.tags(self._tag_ref(ctx, params["Resource"]))}

    # --- layers ---------------------------------------------------------------------------------

    async def publish_layer_version(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return await self.engine.layers.publish(ctx.region, ctx.account_id, params["LayerName"], params, ctx.endpoint_url)

    async def get_layer_version(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.engine.layers.get(ctx.region, ctx.account_id, params["LayerName"], int(params["VersionNumber"]), ctx.endpoint_url)

    async def get_layer_version_by_arn(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.engine.layers.get_by_arn(params["Arn"], ctx.endpoint_url)

    async def add_layer_version_permission(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        statement, revision = self.engine.layers.add_permission(ctx.region, ctx.account_id, params["LayerName"], int(params["VersionNumber"]), params)
        return {"Statement": json.dumps(statement, separators=(",", ":")), "RevisionId": revision}

    async def get_layer_version_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        policy, revision = self.engine.layers.get_policy(ctx.region, ctx.account_id, params["LayerName"], int(params["VersionNumber"]))
        return {"Policy": json.dumps(policy, separators=(",", ":")), "RevisionId": revision}

    async def remove_layer_version_permission(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.engine.layers.remove_permission(ctx.region, ctx.account_id, params["LayerName"], int(params["VersionNumber"]),
                                             params["StatementId"], params.get("RevisionId"))
        return {}

    async def delete_layer_version(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        since = time.time()
        region, account, name, _ = parse_layer_ref(params["LayerName"], region=ctx.region, account=ctx.account_id)
        doc = self.engine.functions.db.get("lambda.layerver", f"{account}:{region}:{name}:{int(params['VersionNumber']):010d}")
        self.engine.layers.delete(ctx.region, ctx.account_id, params["LayerName"], int(params["VersionNumber"]))
        self.engine.release_packages(self.engine.packages_of([doc] if doc else []), since)
        return {}

    async def list_layers(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        layers, marker = self.engine.layers.list_layers(
            ctx.region, ctx.account_id, params.get("CompatibleRuntime"), params.get("Marker"), params.get("MaxItems")
        )
        out: dict[str, Any] = {"Layers": layers}
        if marker:
            out["NextMarker"] = marker
        return out

    async def list_layer_versions(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        versions, marker = self.engine.layers.list_versions(
            ctx.region, ctx.account_id, params["LayerName"], params.get("CompatibleRuntime"), params.get("Marker"), params.get("MaxItems")
        )
        out: dict[str, Any] = {"LayerVersions": versions}
        if marker:
            out["NextMarker"] = marker
        return out

    # --- event invoke configs ---------------------------------------------------------------------

    async def put_function_event_invoke_config(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.engine.functions.put_event_invoke(self._ref(ctx, params), params, merge=False)

    async def update_function_event_invoke_config(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.engine.functions.put_event_invoke(self._ref(ctx, params), params, merge=True)

    async def get_function_event_invoke_config(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.engine.functions.get_event_invoke(self._ref(ctx, params))

    async def delete_function_event_invoke_config(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.engine.functions.delete_event_invoke(self._ref(ctx, params))
        return {}

    async def list_function_event_invoke_configs(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"FunctionEventInvokeConfigs": self.engine.functions.list_event_invoke(self._ref(ctx, params, None))}

    # --- function URL configs (state and serving live with the gateway: services/apigateway/urlconfigs.py) ---

    async def create_function_url_config(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        from nimbus.services.apigateway.urlconfigs import function_url_configs

        return await function_url_configs(self.core).create_function_url_config(ctx, params)

    async def get_function_url_config(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        from nimbus.services.apigateway.urlconfigs import function_url_configs

        return await function_url_configs(self.core).get_function_url_config(ctx, params)

    async def update_function_url_config(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        from nimbus.services.apigateway.urlconfigs import function_url_configs

        return await function_url_configs(self.core).update_function_url_config(ctx, params)

    async def delete_function_url_config(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        from nimbus.services.apigateway.urlconfigs import function_url_configs

        return await function_url_configs(self.core).delete_function_url_config(ctx, params)

    async def list_function_url_configs(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        from nimbus.services.apigateway.urlconfigs import function_url_configs

        return await function_url_configs(self.core).list_function_url_configs(ctx, params)

    # --- invoke ---------------------------------------------------------------------------------

    def _invoke(self, ctx: RequestContext, params: dict[str, Any], stream: Any = None) -> Any:
        """The one invoke path's coroutine, for Invoke and InvokeWithResponseStream (same members; not a
        coroutine of its own, so Invoke pays no extra frame)."""
        return self.engine.invoke(
            params["FunctionName"],
            params.get("Payload") or b"",
            invocation_type=params.get("InvocationType") or "RequestResponse",
            qualifier=params.get("Qualifier"),
            client_context=params.get("ClientContext"),
            log_type=params.get("LogType") or "None",
            region=ctx.region,
            account_id=ctx.account_id,
            request_id=ctx.request_id,
            stream=stream,
        )

    async def invoke(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        result = await self._invoke(ctx, params)
        out: dict[str, Any] = {"StatusCode": result.status_code}
        if result.status_code == 200:
            out["Payload"] = result.payload
            out["ExecutedVersion"] = result.executed_version
            if result.function_error:
                out["FunctionError"] = result.function_error
            if result.log_result is not None:
                out["LogResult"] = result.log_result
        return out

    async def invoke_with_response_stream(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """The one invoke path, answered as an event stream. A function that streams its response (a Node
        handler wrapped in ``awslambda.streamifyResponse``, a custom runtime posting in streaming mode) has
        its chunks sent as PayloadChunks while it runs; a function that answers whole has its response as
        one PayloadChunk, as AWS sends it. Then InvokeComplete: empty, or a function error's type (ErrorCode)
        and document (ErrorDetails), and LogResult for LogType Tail."""
        from nimbus.runtime import ResponseStream

        stream = ResponseStream()
        task = asyncio.ensure_future(self._invoke(ctx, params, stream=stream))
        started = asyncio.ensure_future(stream.started.wait())
        try:
            await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            raise
        finally:
            if not started.done():
                started.cancel()
        if task.done():
            result = task.result()  # the invoke's own errors (not found, throttled, ...) answer as errors
            if result.status_code != 200:
                return {"StatusCode": result.status_code}  # DryRun: 204, no stream
        out: dict[str, Any] = {"StatusCode": 200, "ExecutedVersion": stream.executed_version or "$LATEST"}
        if stream.content_type:
            out["ResponseStreamContentType"] = stream.content_type

        async def events() -> AsyncIterator[dict[str, Any]]:
            chunks = stream.chunks
            while not task.done():
                get = asyncio.ensure_future(chunks.get())
                await asyncio.wait({get, task}, return_when=asyncio.FIRST_COMPLETED)
                if get.done():
                    yield {"PayloadChunk": {"Payload": get.result()}}
                else:
                    get.cancel()
            while not chunks.empty():
                yield {"PayloadChunk": {"Payload": chunks.get_nowait()}}
            complete: dict[str, Any] = {}
            try:
                result = task.result()
            except Exception as e:  # noqa: BLE001 - the stream has begun: the error ends it
                complete["ErrorCode"] = getattr(e, "code", type(e).__name__)
                complete["ErrorDetails"] = str(e)
                yield {"InvokeComplete": complete}
                return
            if not result.streamed and not result.function_error and result.payload:
                yield {"PayloadChunk": {"Payload": bytes(result.payload)}}
            if result.function_error:
                complete["ErrorCode"] = result.function_error
                complete["ErrorDetails"] = bytes(result.payload).decode("utf-8", "replace")
            if result.log_result is not None:
                complete["LogResult"] = result.log_result
            yield {"InvokeComplete": complete}

        out["EventStream"] = events()
        return out

    async def invoke_async(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        args = params.get("InvokeArgs") or b""
        if not isinstance(args, (bytes, bytearray)):
            args = await args.read()
        await self.engine.invoke(
            params["FunctionName"], bytes(args), invocation_type="Event", region=ctx.region, account_id=ctx.account_id, request_id=ctx.request_id
        )
        return {"Status": 202}
