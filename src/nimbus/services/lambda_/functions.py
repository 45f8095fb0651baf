"""Functions, versions and aliases: the Lambda control plane's state, kept as metadata documents.

Documents (kind → key → content):

    lambda.fn     acct:region:name                 function-level: tags, policies, reserved concurrency,
                                                   event-invoke configs, next version number
    lambda.ver    acct:region:name:$LATEST         a FunctionConfiguration as AWS returns it, plus private
                  acct:region:name:0000000001      ``_code`` (package) and ``_layers`` members
    lambda.alias  acct:region:name:alias           an AliasConfiguration
    lambda.pc     acct:region:name:qualifier       a provisioned concurrency configuration (provisioned.py)

A CreateFunction is answered only after the package blob and these documents are on disk (it survives
kill -9). Choice where AWS is asynchronous (aws-contracts.md C.1 "Function states"): the package is
validated and extracted before the answer, so the stored state is already ``Active``/``Successful``;
the CreateFunction / UpdateFunctionCode responses still show ``Pending`` / ``InProgress`` as AWS's do, and
waiters see ``Active`` / ``Successful`` on their first poll.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from nimbus.services.lambda_.code import CodeStore, Package
from nimbus.services.lambda_.errors import (
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from nimbus.services.lambda_.names import ALIAS_RE, LATEST, FunctionRef, is_version_number, version_key
from nimbus.errors import ServiceError
from nimbus.storage import MetadataStore

FN = "lambda.fn"
VER = "lambda.ver"
ALIAS = "lambda.alias"
PC = "lambda.pc"  # provisioned concurrency configurations (provisioned.py)

# aws-contracts.md C.1
DEFAULT_TIMEOUT_S = 3
MAX_TIMEOUT_S = 900
DEFAULT_MEMORY_MB = 128
MIN_MEMORY_MB = 128
MAX_MEMORY_MB = 10_240
DEFAULT_EPHEMERAL_MB = 512
MAX_ENV_BYTES = 4096
MAX_LAYERS = 5
LIST_PAGE_MAX = 50
SUPPORTED_RUNTIMES = (
    "python3.8",
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "python3.15",
    "nodejs16.x",
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "nodejs24.x",
    "nodejs26.x",
    "provided",
    "provided.al2",
    "provided.al2023",
)
RESERVED_ENV = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)
UPDATABLE_CONFIG = (
    "Role",
    "Handler",
    "Description",
    "Timeout",
    "MemorySize",
    "Runtime",
    "TracingConfig",
    "EphemeralStorage",
    "DeadLetterConfig",
    "KMSKeyArn",
    "VpcConfig",
)


def last_modified(now: float) -> str:
    """AWS's FunctionConfiguration.LastModified: ``2024-05-01T13:42:07.123+0000``."""
    ms = int(now * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{ms:03d}+0000"


def logging_config(current: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """A LoggingConfig update as AWS applies it: log levels exist only with LogFormat JSON (INFO unless
    given); back to Text, they go."""
    merged = {**current, **given}
    if merged.get("LogFormat", "Text") == "JSON":
        merged.setdefault("ApplicationLogLevel", "INFO")
        merged.setdefault("SystemLogLevel", "INFO")
        return merged
    if given.get("ApplicationLogLevel") or given.get("SystemLogLevel"):
        raise InvalidParameterValueException("To configure log levels, set the log format of your function to JSON.")
    merged.pop("ApplicationLogLevel", None)
    merged.pop("SystemLogLevel", None)
    return merged


def public(cfg: dict[str, Any]) -> dict[str, Any]:
    """A stored configuration without its private members."""
    return {k: v for k, v in cfg.items() if not k.startswith("_")}


# ListFunctions returns a subset of FunctionConfiguration: these come only from GetFunction(Configuration)
# (API_ListFunctions)
NOT_LISTED = frozenset(
    {"State", "StateReason", "StateReasonCode", "LastUpdateStatus", "LastUpdateStatusReason", "LastUpdateStatusReasonCode", "RuntimeVersionConfig"}
)


def listed(cfg: dict[str, Any]) -> dict[str, Any]:
    """A stored configuration as ListFunctions shows it."""
    return {k: v for k, v in cfg.items() if not k.startswith("_") and k not in NOT_LISTED}


def not_found(arn: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"Function not found: {arn}")


def validation(message: str) -> ServiceError:
    return ServiceError(f"1 validation error detected: {message}", code="ValidationException", status=400)


@dataclass(slots=True, frozen=True)
class Resolved:
    """What an invocation runs: the function's and the version's documents, and how it was named."""

    fn: dict[str, Any]
    config: dict[str, Any]  # the version's stored configuration (with private members)
    version: str  # "$LATEST" or "1", "2", ...
    invoked_arn: str  # the ARN the caller used (alias-qualified when invoked through an alias)
    qualifier: str  # alias name, version or $LATEST (for event-invoke configs)


class Functions:
    """The control plane over the metadata store and the code store. Methods raise Lambda's errors."""

    def __init__(
        self,
        metadata: MetadataStore,
        code: CodeStore,
        *,
        clock_time: Callable[[], float] = time.time,
        layer_resolver: Callable[[list[str], str, str], list[dict[str, Any]]] | None = None,
        on_change: Callable[[FunctionRef], None] | None = None,
        account_concurrency: int = 100,
    ) -> None:
        self.db = metadata
        self.code = code
        self.now = clock_time
        self.resolve_layers = layer_resolver or (lambda arns, region, account: [])
        self._on_change = on_change or (lambda ref: None)
        self.account_concurrency = account_concurrency
        # runtime -> a note when Nimbus runs it on another interpreter (set by the engine)
        self.runtime_note: Callable[[str], Awaitable[str]] | None = None

    # --- lookup -------------------------------------------------------------------------------

    def function_doc(self, ref: FunctionRef) -> dict[str, Any]:
        fn = self.db.get(FN, ref.key)
        if fn is None:
            raise not_found(ref.qualified_arn())
        return fn

    def version_doc(self, ref: FunctionRef, version: str) -> dict[str, Any]:
        doc = self.db.get(VER, f"{ref.key}:{version_key(version)}")
        if doc is None:
            raise not_found(ref.qualified_arn(version))
        return doc

    def alias_doc(self, ref: FunctionRef, alias: str) -> dict[str, Any] | None:
        return self.db.get(ALIAS, f"{ref.key}:{alias}")

    def resolve(self, ref: FunctionRef, *, pick: Callable[[dict[str, float]], str | None] | None = None) -> Resolved:
        """The version a qualifier names (an alias follows its RoutingConfig through ``pick``)."""
        fn = self.function_doc(ref)
        q = ref.qualifier or LATEST
        if q == LATEST or is_version_number(q):
            cfg = self.version_doc(ref, q)
            return Resolved(fn, cfg, q, ref.qualified_arn(), q)
        alias = self.alias_doc(ref, q)
        if alias is None:
            raise not_found(ref.qualified_arn())
        version = alias["FunctionVersion"]
        weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        if weights and pick is not None:
            version = pick(weights) or version
        cfg = self.version_doc(ref, version)
        return Resolved(fn, cfg, version, ref.qualified_arn(), q)

    def configuration(self, ref: FunctionRef) -> dict[str, Any]:
        """GetFunctionConfiguration: the configuration a qualifier names (for an alias: its version's)."""
        resolved = self.resolve(ref)
        return public(resolved.config)

    # --- create / update / delete ---------------------------------------------------------------

    async def create(self, ref: FunctionRef, params: dict[str, Any]) -> dict[str, Any]:
        if self.db.get(FN, ref.key) is not None:
            raise ResourceConflictException(f"Function already exist: {ref.name}")
        package_type = params.get("PackageType") or "Zip"
        if package_type != "Zip":
            raise InvalidParameterValueException("Nimbus supports only PackageType Zip.")
        runtime, handler = params.get("Runtime"), params.get("Handler")
        if not runtime or not handler:
            raise InvalidParameterValueException("Runtime and Handler are mandatory parameters for functions created with deployment packages.")
        self._check_runtime(runtime)
        self._check_limits(params)
        env = self._check_environment(params.get("Environment"))
        layers = self.resolve_layers(list(params.get("Layers") or []), ref.region, ref.account)
        pkg = await self._package(params.get("Code") or {})
        note = await self._runtime_note(runtime)
        # nothing awaited below: the documents are written together
        if self.db.get(FN, ref.key) is not None:
            raise ResourceConflictException(f"Function already exist: {ref.name}")
        now = self.now()
        cfg: dict[str, Any] = {
            "FunctionName": ref.name,
            "FunctionArn": ref.arn,
            "Runtime": runtime,
            "Role": params["Role"],
            "Handler": handler,
            "CodeSize": pkg.size,
            "Description": params.get("Description") or "",
            "Timeout": params.get("Timeout") or DEFAULT_TIMEOUT_S,
            "MemorySize": params.get("MemorySize") or DEFAULT_MEMORY_MB,
            "LastModified": last_modified(now),
            "CodeSha256": pkg.sha256_b64,
            "Version": LATEST,
            "TracingConfig": params.get("TracingConfig") or {"Mode": "PassThrough"},
            "RevisionId": str(uuid.uuid4()),
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": list(params.get("Architectures") or ["x86_64"]),
            "EphemeralStorage": params.get("EphemeralStorage") or {"Size": DEFAULT_EPHEMERAL_MB},
            "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
            "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{ref.name}"},
            "_code": pkg.doc(),
        }
        if env is not None:
            cfg["Environment"] = {"Variables": env}
        if note:
            cfg["StateReason"] = note
        if layers:
            cfg["Layers"] = [{"Arn": la["arn"], "CodeSize": la["size"]} for la in layers]
            cfg["_layers"] = layers
        if params.get("DeadLetterConfig"):
            cfg["DeadLetterConfig"] = params["DeadLetterConfig"]
        if params.get("LoggingConfig"):
            cfg["LoggingConfig"] = logging_config(cfg["LoggingConfig"], params["LoggingConfig"])
        fn = {
            "Name": ref.name,
            "Arn": ref.arn,
            "Created": now,
            "NextVersion": 1,
            "Tags": dict(params.get("Tags") or {}),
            "Policies": {},
            "Concurrency": None,
            "EventInvoke": {},
        }
        with self.db.transaction():
            self.db.put(VER, f"{ref.key}:{LATEST}", cfg)
            self.db.put(FN, ref.key, fn)
        out = public(cfg)
        if params.get("Publish"):
            out = self.publish(ref, {})
        # what AWS answers to CreateFunction (the stored state is already Active; see the module doc)
        return {**out, "State": "Pending", "StateReason": "The function is being created.", "StateReasonCode": "Creating"}

    async def update_code(self, ref: FunctionRef, params: dict[str, Any]) -> dict[str, Any]:
        self.function_doc(ref)
        if ref.qualifier not in (None, LATEST):
            raise InvalidParameterValueException("Updating the code of a published version is not supported.")
        code: dict[str, Any] = {k: params[k] for k in ("ZipFile", "S3Bucket", "S3Key", "S3ObjectVersion", "ImageUri") if params.get(k) is not None}
        if not code:
            raise InvalidParameterValueException("Please provide a source for function code.")
        dry_run = bool(params.get("DryRun"))
        pkg = await self._package(code, store=not dry_run)
        cfg = self.version_doc(ref, LATEST)
        self._check_revision(cfg, params.get("RevisionId"))
        if dry_run:
            # validate only (API_UpdateFunctionCode DryRun): nothing is stored; the answer shows the
            # package that would be deployed on the unchanged configuration (a choice, lambda.md)
            return {**public(cfg), "CodeSize": pkg.size, "CodeSha256": pkg.sha256_b64}
        if params.get("Architectures"):
            cfg["Architectures"] = list(params["Architectures"])
        cfg.update(
            CodeSize=pkg.size,
            CodeSha256=pkg.sha256_b64,
            LastModified=last_modified(self.now()),
            RevisionId=str(uuid.uuid4()),
            _code=pkg.doc(),
        )
        self.db.put(VER, f"{ref.key}:{LATEST}", cfg)
        self._on_change(ref)
        out = public(cfg)
        if params.get("Publish"):
            out = self.publish(ref, {})
        return {**out, "LastUpdateStatus": "InProgress", "LastUpdateStatusReason": "The function is being created.", "LastUpdateStatusReasonCode": "Creating"}

    async def update_configuration(self, ref: FunctionRef, params: dict[str, Any]) -> dict[str, Any]:
        self.function_doc(ref)
        if ref.qualifier not in (None, LATEST):
            raise InvalidParameterValueException("Updating the configuration of a published version is not supported.")
        note = await self._runtime_note(params["Runtime"]) if params.get("Runtime") else None
        cfg = self.version_doc(ref, LATEST)
        self._check_revision(cfg, params.get("RevisionId"))
        if params.get("Runtime"):
            self._check_runtime(params["Runtime"])
            if note:
                cfg["StateReason"] = note
            else:
                cfg.pop("StateReason", None)
        self._check_limits(params)
        for key in UPDATABLE_CONFIG:
            if params.get(key) is not None:
                cfg[key] = params[key]
        if "Environment" in params:
            env = self._check_environment(params["Environment"])
            if env is None:
                cfg.pop("Environment", None)
            else:
                cfg["Environment"] = {"Variables": env}
        if params.get("Layers") is not None:
            layers = self.resolve_layers(list(params["Layers"]), ref.region, ref.account)
            if layers:
                cfg["Layers"] = [{"Arn": la["arn"], "CodeSize": la["size"]} for la in layers]
                cfg["_layers"] = layers
            else:
                cfg.pop("Layers", None)
                cfg.pop("_layers", None)
        if params.get("LoggingConfig"):
            cfg["LoggingConfig"] = logging_config(cfg.get("LoggingConfig") or {}, params["LoggingConfig"])
        cfg["LastModified"] = last_modified(self.now())
        cfg["RevisionId"] = str(uuid.uuid4())
        self.db.put(VER, f"{ref.key}:{LATEST}", cfg)
        self._on_change(ref)
        return {**public(cfg), "LastUpdateStatus": "InProgress", "LastUpdateStatusReason": "The function is being created.", "LastUpdateStatusReasonCode": "Creating"}

    def delete(self, ref: FunctionRef) -> None:
        self.function_doc(ref)
        q = ref.qualifier
        if q == LATEST:
            raise InvalidParameterValueException("$LATEST version cannot be deleted without deleting the function.")
        if q is not None:
            if not is_version_number(q):
                raise InvalidParameterValueException("Deletion of aliases is not supported.")
            self.version_doc(ref, q)
            users = [a["Name"] for _, a in self.db.list(ALIAS, f"{ref.key}:") if a["FunctionVersion"] == q]
            if users:
                raise ResourceConflictException(
                    f"Unable to delete version because the following aliases reference it: {users}"
                )
            with self.db.transaction():
                self.db.delete(VER, f"{ref.key}:{version_key(q)}")
                self.db.delete(PC, f"{ref.key}:{q}")
        else:
            with self.db.transaction():
                for kind in (ALIAS, PC):
                    for key, _ in self.db.list(kind, f"{ref.key}:"):
                        self.db.delete(kind, key)
                for key, _ in self.db.list(VER, f"{ref.key}:"):
                    self.db.delete(VER, key)
                self.db.delete(FN, ref.key)
        self._on_change(ref)

    def list(self, region: str, account: str, marker: str | None, max_items: int | None, all_versions: bool) -> tuple[list[dict[str, Any]], str | None]:
        """ListFunctions: at most ``max_items`` (≤ 50) configurations a page, versions counted one by one
        with FunctionVersion=ALL; the marker is the last key returned (``name`` or ``name:version``)."""
        limit = min(max_items or LIST_PAGE_MAX, LIST_PAGE_MAX)
        prefix = f"{account}:{region}:"
        after = prefix + marker if marker else None
        if all_versions:
            # one row per version: keys acct:region:name:$LATEST / :0000000001 sort by name, $LATEST first
            rows = self.db.list(VER, prefix, after=after, limit=limit + 1)
            page = [(key, cfg) for key, cfg in rows[:limit]]
        else:
            rows = self.db.list(FN, prefix, after=after, limit=limit + 1)
            page = [(key, self.db.get(VER, f"{key}:{LATEST}")) for key, _ in rows[:limit]]
        out = [listed(cfg) for _, cfg in page if cfg is not None]
        next_marker = page[-1][0][len(prefix) :] if len(rows) > limit and page else None
        return out, next_marker

    # --- versions -------------------------------------------------------------------------------

    def publish(self, ref: FunctionRef, params: dict[str, Any]) -> dict[str, Any]:
        fn = self.function_doc(ref)
        latest = self.version_doc(ref, LATEST)
        self._check_revision(latest, params.get("RevisionId"))
        if params.get("CodeSha256") and params["CodeSha256"] != latest["CodeSha256"]:
            raise InvalidParameterValueException(
                f"CodeSHA256 ({params['CodeSha256']}) is different from current CodeSHA256 in $LATEST ({latest['CodeSha256']}). Please try again with the CodeSHA256 in $LATEST."
            )
        # an unchanged $LATEST publishes nothing new: AWS returns the latest version (C.1)
        newest = self._newest_version(ref)
        if newest is not None and newest.get("_from_revision") == latest["RevisionId"]:
            return public(newest)
        number = int(fn["NextVersion"])
        cfg = dict(latest)
        cfg.update(
            Version=str(number),
            FunctionArn=ref.qualified_arn(str(number)),
            RevisionId=str(uuid.uuid4()),
            LastModified=last_modified(self.now()),
            _from_revision=latest["RevisionId"],
        )
        if params.get("Description") is not None:
            cfg["Description"] = params["Description"]
        fn["NextVersion"] = number + 1
        with self.db.transaction():
            self.db.put(VER, f"{ref.key}:{version_key(str(number))}", cfg)
            self.db.put(FN, ref.key, fn)
        return public(cfg)

    def _newest_version(self, ref: FunctionRef) -> dict[str, Any] | None:
        rows = self.db.list(VER, f"{ref.key}:")
        numbered = [doc for _, doc in rows if doc.get("Version") != LATEST]
        return numbered[-1] if numbered else None

    def list_versions(self, ref: FunctionRef, marker: str | None, max_items: int | None) -> tuple[list[dict[str, Any]], str | None]:
        self.function_doc(ref)
        limit = min(max_items or LIST_PAGE_MAX, LIST_PAGE_MAX)
        prefix = f"{ref.key}:"
        rows = self.db.list(VER, prefix, after=prefix + marker if marker else None, limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return [public(doc) for _, doc in rows], (rows[-1][0][len(prefix) :] if more and rows else None)

    # --- aliases --------------------------------------------------------------------------------

    def _alias_out(self, doc: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in doc.items() if not k.startswith("_")}

    def _check_alias_target(self, ref: FunctionRef, version: str, routing: dict[str, Any] | None) -> None:
        if version != LATEST and not is_version_number(version):
            raise InvalidParameterValueException(f"Invalid function version {version}. Function version {version} does not exist.")
        if self.db.get(VER, f"{ref.key}:{version_key(version)}") is None:
            raise ResourceNotFoundException(f"Function not found: {ref.qualified_arn(version)}")
        weights = (routing or {}).get("AdditionalVersionWeights") or {}
        for v, w in weights.items():
            if not is_version_number(v) or self.db.get(VER, f"{ref.key}:{version_key(v)}") is None:
                raise InvalidParameterValueException(f"Function version {v} does not exist.")
            if not 0.0 <= float(w) <= 1.0:
                raise InvalidParameterValueException("Routing weights must be between 0.0 and 1.0.")
        if len(weights) > 1:
            raise InvalidParameterValueException("Number of items in AdditionalVersionWeights cannot be greater than 1")

    def create_alias(self, ref: FunctionRef, params: dict[str, Any]) -> dict[str, Any]:
        self.function_doc(ref)
        name = params["Name"]
        if not ALIAS_RE.match(name):
            raise validation(f"Value '{name}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)")
        self._check_alias_target(ref, params["FunctionVersion"], params.get("RoutingConfig"))
        key = f"{ref.key}:{name}"
        doc: dict[str, Any] = {
            "AliasArn": ref.qualified_arn(name),
            "Name": name,
            "FunctionVersion": params["FunctionVersion"],
            "Description": params.get("Description") or "",
            "RevisionId": str(uuid.uuid4()),
        }
        if params.get("RoutingConfig"):
            doc["RoutingConfig"] = params["RoutingConfig"]
        if not self.db.insert(ALIAS, key, doc):
            raise ResourceConflictException(f"Alias already exists: {ref.qualified_arn(name)}")
        self._on_change(ref)
        return self._alias_out(doc)

    def get_alias(self, ref: FunctionRef, name: str) -> dict[str, Any]:
        self.function_doc(ref)
        doc = self.alias_doc(ref, name)
        if doc is None:
            raise ResourceNotFoundException(f"Alias not found: {ref.qualified_arn(name)}")
        return self._alias_out(doc)

    def update_alias(self, ref: FunctionRef, params: dict[str, Any]) -> dict[str, Any]:
        self.function_doc(ref)
        name = params["Name"]
        doc = self.alias_doc(ref, name)
        if doc is None:
            raise ResourceNotFoundException(f"Alias not found: {ref.qualified_arn(name)}")
        if params.get("RevisionId") and params["RevisionId"] != doc["RevisionId"]:
            raise PreconditionFailedException(
                "The Revision Id provided does not match the latest Revision Id. Call the GetAlias API to retrieve the latest Revision Id"
            )
        version = params.get("FunctionVersion") or doc["FunctionVersion"]
        routing = params["RoutingConfig"] if params.get("RoutingConfig") is not None else doc.get("RoutingConfig")
        self._check_alias_target(ref, version, routing)
        doc["FunctionVersion"] = version
        if params.get("Description") is not None:
            doc["Description"] = params["Description"]
        if params.get("RoutingConfig") is not None:
            doc["RoutingConfig"] = params["RoutingConfig"]
        doc["RevisionId"] = str(uuid.uuid4())
        self.db.put(ALIAS, f"{ref.key}:{name}", doc)
        self._on_change(ref)
        return self._alias_out(doc)

    def delete_alias(self, ref: FunctionRef, name: str) -> None:
        self.function_doc(ref)
        with self.db.transaction():
            self.db.delete(ALIAS, f"{ref.key}:{name}")  # AWS answers 204 for a missing alias too
            self.db.delete(PC, f"{ref.key}:{name}")
        self._on_change(ref)

    def list_aliases(self, ref: FunctionRef, version: str | None, marker: str | None, max_items: int | None) -> tuple[list[dict[str, Any]], str | None]:
        self.function_doc(ref)
        limit = min(max_items or LIST_PAGE_MAX, LIST_PAGE_MAX)
        prefix = f"{ref.key}:"
        rows = [
            (k, d)
            for k, d in self.db.list(ALIAS, prefix, after=prefix + marker if marker else None)
            if version is None or d["FunctionVersion"] == version
        ]
        page = rows[:limit]
        return [self._alias_out(d) for _, d in page], (page[-1][0][len(prefix) :] if len(rows) > limit and page else None)

    # --- resource policy --------------------------------------------------------------------------

    def _policy_target(self, ref: FunctionRef) -> tuple[dict[str, Any], str, str]:
        """(function doc, policy slot, resource ARN) for a possibly qualified ref; the target must exist."""
        fn = self.function_doc(ref)
        q = ref.qualifier
        if q is not None and q != LATEST:
            if is_version_number(q):
                self.version_doc(ref, q)
            elif self.alias_doc(ref, q) is None:
                raise not_found(ref.qualified_arn())
        return fn, q or "", ref.qualified_arn()

    def add_permission(self, ref: FunctionRef, params: dict[str, Any]) -> dict[str, Any]:
        fn, slot, resource = self._policy_target(ref)
        if params.get("RevisionId"):
            self._check_revision(self.version_doc(ref, LATEST), params["RevisionId"])
        statements: list[dict[str, Any]] = fn["Policies"].setdefault(slot, [])
        sid = params["StatementId"]
        if any(s["Sid"] == sid for s in statements):
            raise ResourceConflictException(
                "The statement id (sid) provided already exists. Please provide a new statement id, or remove the existing statement."
            )
        principal = params["Principal"]
        if principal == "*":
            principal_doc: Any = "*"
        elif principal.isdigit() and len(principal) == 12:
            principal_doc = {"AWS": f"arn:aws:iam::{principal}:root"}
        elif principal.startswith("arn:"):
            principal_doc = {"AWS": principal}
        else:
            principal_doc = {"Service": principal}
        statement: dict[str, Any] = {
            "Sid": sid,
            "Effect": "Allow",
            "Principal": principal_doc,
            "Action": params["Action"],
            "Resource": resource,
        }
        condition: dict[str, dict[str, str]] = {}
        if params.get("SourceArn"):
            condition.setdefault("ArnLike", {})["AWS:SourceArn"] = params["SourceArn"]
        if params.get("SourceAccount"):
            condition.setdefault("StringEquals", {})["AWS:SourceAccount"] = params["SourceAccount"]
        if params.get("PrincipalOrgID"):
            condition.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = params["PrincipalOrgID"]
        if params.get("EventSourceToken"):
            condition.setdefault("StringEquals", {})["lambda:EventSourceToken"] = params["EventSourceToken"]
        if params.get("FunctionUrlAuthType"):
            condition.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = params["FunctionUrlAuthType"]
        if condition:
            statement["Condition"] = condition
        statements.append(statement)
        self.db.put(FN, ref.key, fn)
        return statement

    def remove_permission(self, ref: FunctionRef, sid: str, revision_id: str | None) -> None:
        fn, slot, _ = self._policy_target(ref)
        if revision_id:
            self._check_revision(self.version_doc(ref, LATEST), revision_id)
        statements = fn["Policies"].get(slot) or []
        kept = [s for s in statements if s["Sid"] != sid]
        if len(kept) == len(statements):
            raise ResourceNotFoundException(f"Statement {sid} is not found in resource policy.")
        fn["Policies"][slot] = kept
        self.db.put(FN, ref.key, fn)

    def get_policy(self, ref: FunctionRef) -> tuple[dict[str, Any], str]:
        fn, slot, _ = self._policy_target(ref)
        statements = fn["Policies"].get(slot) or []
        if not statements:
            raise ResourceNotFoundException("The resource you requested does not exist.")
        revision = self.version_doc(ref, LATEST)["RevisionId"]
        return {"Version": "2012-10-17", "Id": "default", "Statement": statements}, revision

    def policy_statements(self, ref: FunctionRef) -> list[dict[str, Any]]:
        """All statements that apply to ``ref`` (its qualifier's and the unqualified function's); for triggers."""
        fn = self.function_doc(ref)
        out = list(fn["Policies"].get("") or [])
        if ref.qualifier:
            out += fn["Policies"].get(ref.qualifier) or []
        return out

    # --- concurrency ----------------------------------------------------------------------------

    def reserved_total(self, region: str, account: str, *, excluding: str | None = None) -> int:
        return sum(
            int(doc["Concurrency"])
            for key, doc in self.db.list(FN, f"{account}:{region}:")
            if doc.get("Concurrency") is not None and key != excluding
        )

    def put_concurrency(self, ref: FunctionRef, value: int) -> int:
        fn = self.function_doc(ref)
        if value < 0:
            raise validation(f"Value '{value}' at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 0")
        others = self.reserved_total(ref.region, ref.account, excluding=ref.key)
        provisioned = sum(int(doc["Requested"]) for _, doc in self.db.list(PC, f"{ref.key}:"))
        if value < provisioned:
            raise InvalidParameterValueException(
                f"ReservedConcurrentExecutions {value} should not be lower than function's total provisioned concurrency [{provisioned}]."
            )
        if others + value > self.account_concurrency:
            raise InvalidParameterValueException(
                f"Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [0]."
            )
        fn["Concurrency"] = value
        self.db.put(FN, ref.key, fn)
        self._on_change(ref)
        return value

    def get_concurrency(self, ref: FunctionRef) -> int | None:
        value = self.function_doc(ref).get("Concurrency")
        return None if value is None else int(value)

    def delete_concurrency(self, ref: FunctionRef) -> None:
        fn = self.function_doc(ref)
        fn["Concurrency"] = None
        self.db.put(FN, ref.key, fn)
        self._on_change(ref)

    # --- recorded settings (recursion, runtime management) -----------------------------------------

    def put_recursion(self, ref: FunctionRef, value: str) -> str:
        fn = self.function_doc(ref)
        fn["RecursiveLoop"] = value
        self.db.put(FN, ref.key, fn)
        return value

    def get_recursion(self, ref: FunctionRef) -> str:
        return str(self.function_doc(ref).get("RecursiveLoop") or "Terminate")

    def put_runtime_management(self, ref: FunctionRef, update_on: str, version_arn: str | None) -> dict[str, Any]:
        resolved = self.resolve(ref)
        if update_on == "Manual" and not version_arn:
            raise InvalidParameterValueException("RuntimeVersionArn is required when UpdateRuntimeOn is Manual.")
        if update_on != "Manual" and version_arn:
            raise InvalidParameterValueException(f"RuntimeVersionArn can only be set when UpdateRuntimeOn is Manual, not {update_on}.")
        fn = resolved.fn
        config = {"UpdateRuntimeOn": update_on, **({"RuntimeVersionArn": version_arn} if version_arn else {})}
        fn.setdefault("RuntimeManagement", {})[resolved.version] = config
        self.db.put(FN, ref.key, fn)
        return {**config, "FunctionArn": ref.qualified_arn()}

    def get_runtime_management(self, ref: FunctionRef) -> dict[str, Any]:
        resolved = self.resolve(ref)
        config = (resolved.fn.get("RuntimeManagement") or {}).get(resolved.version) or {"UpdateRuntimeOn": "Auto"}
        return {**config, "FunctionArn": ref.qualified_arn()}

    # --- tags -----------------------------------------------------------------------------------

    def tag(self, ref: FunctionRef, tags: dict[str, str]) -> None:
        fn = self.function_doc(ref)
        fn["Tags"].update(tags)
        if len(fn["Tags"]) > 50:
            raise InvalidParameterValueException("Number of tags exceeds resource tag limit.")
        self.db.put(FN, ref.key, fn)

    def untag(self, ref: FunctionRef, keys: list[str]) -> None:
        fn = self.function_doc(ref)
        for k in keys:
            fn["Tags"].pop(k, None)
        self.db.put(FN, ref.key, fn)

    def tags(self, ref: FunctionRef) -> dict[str, str]:
        return dict(self.function_doc(ref)["Tags"])

    # --- event invoke configs ---------------------------------------------------------------------

    def _event_slot(self, ref: FunctionRef) -> tuple[dict[str, Any], str]:
        fn = self.function_doc(ref)
        q = ref.qualifier or LATEST
        if q != LATEST:
            if is_version_number(q):
                self.version_doc(ref, q)
            elif self.alias_doc(ref, q) is None:
                raise not_found(ref.qualified_arn())
        return fn, q

    def _event_out(self, ref: FunctionRef, q: str, cfg: dict[str, Any]) -> dict[str, Any]:
        return {
            "LastModified": cfg["LastModified"],
            "FunctionArn": ref.qualified_arn(q),
            "MaximumRetryAttempts": cfg.get("MaximumRetryAttempts", 2),
            "MaximumEventAgeInSeconds": cfg.get("MaximumEventAgeInSeconds", 21600),
            "DestinationConfig": cfg.get("DestinationConfig") or {"OnSuccess": {}, "OnFailure": {}},
        }

    def put_event_invoke(self, ref: FunctionRef, params: dict[str, Any], *, merge: bool) -> dict[str, Any]:
        fn, q = self._event_slot(ref)
        current = fn["EventInvoke"].get(q)
        if merge and current is None:
            raise ResourceNotFoundException(f"The function {ref.qualified_arn(q)} doesn't have an EventInvokeConfig")
        cfg: dict[str, Any] = dict(current or {}) if merge else {}
        for k in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig"):
            if params.get(k) is not None:
                cfg[k] = params[k]
        for which in ("OnSuccess", "OnFailure"):
            dest = ((cfg.get("DestinationConfig") or {}).get(which) or {}).get("Destination")
            if dest and not dest.startswith("arn:"):
                raise InvalidParameterValueException(f"The destination ARN {dest} is invalid.")
        cfg["LastModified"] = self.now()
        fn["EventInvoke"][q] = cfg
        self.db.put(FN, ref.key, fn)
        return self._event_out(ref, q, cfg)

    def get_event_invoke(self, ref: FunctionRef) -> dict[str, Any]:
        fn, q = self._event_slot(ref)
        cfg = fn["EventInvoke"].get(q)
        if cfg is None:
            raise ResourceNotFoundException(f"The function {ref.qualified_arn(q)} doesn't have an EventInvokeConfig")
        return self._event_out(ref, q, cfg)

    def delete_event_invoke(self, ref: FunctionRef) -> None:
        fn, q = self._event_slot(ref)
        if fn["EventInvoke"].pop(q, None) is None:
            raise ResourceNotFoundException(f"The function {ref.qualified_arn(q)} doesn't have an EventInvokeConfig")
        self.db.put(FN, ref.key, fn)

    def list_event_invoke(self, ref: FunctionRef) -> list[dict[str, Any]]:
        fn = self.function_doc(ref)
        return [self._event_out(ref, q, cfg) for q, cfg in sorted(fn["EventInvoke"].items())]

    # --- account ----------------------------------------------------------------------------------

    def account_usage(self, region: str, account: str) -> tuple[int, int]:
        """(total code size, function count) of an account in a region."""
        total = 0
        count = 0
        for key, _ in self.db.list(FN, f"{account}:{region}:"):
            count += 1
            for _, v in self.db.list(VER, key + ":"):
                total += int(v.get("CodeSize") or 0)
        return total, count

    # --- checks -----------------------------------------------------------------------------------

    async def _package(self, code: dict[str, Any], *, store: bool = True) -> Package:
        if code.get("ImageUri"):
            raise InvalidParameterValueException("Nimbus supports only PackageType Zip (container images are not supported).")
        data = code.get("ZipFile")
        if data is None and code.get("S3Bucket"):
            data = await self.read_s3(code["S3Bucket"], code.get("S3Key") or "", code.get("S3ObjectVersion"))
        if data is None:
            raise InvalidParameterValueException("Please provide a source for function code.")
        return await (self.code.store(bytes(data)) if store else self.code.inspect(bytes(data)))

    async def read_s3(self, bucket: str, key: str, version: str | None) -> bytes:
        """Code.S3Bucket/S3Key: replaced by the engine with a reader over Nimbus's S3 when it is served."""
        raise InvalidParameterValueException(
            f"Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error Message: The specified bucket does not exist"
        )

    async def _runtime_note(self, runtime: str) -> str:
        if self.runtime_note is None:
            return ""
        try:
            return await self.runtime_note(runtime)
        except Exception as e:  # noqa: BLE001 - no usable interpreter is reported at invoke, as AWS would
            return str(e)

    def _check_revision(self, cfg: dict[str, Any], revision_id: str | None) -> None:
        if revision_id and revision_id != cfg["RevisionId"]:
            raise PreconditionFailedException(
                "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
            )

    def _check_runtime(self, runtime: str) -> None:
        if runtime not in SUPPORTED_RUNTIMES:
            raise InvalidParameterValueException(
                f"The runtime parameter of {runtime} is not supported by Nimbus. Supported runtimes: {', '.join(SUPPORTED_RUNTIMES)}."
            )

    def _check_limits(self, params: dict[str, Any]) -> None:
        timeout = params.get("Timeout")
        if timeout is not None and not 1 <= timeout <= MAX_TIMEOUT_S:
            raise validation(f"Value '{timeout}' at 'timeout' failed to satisfy constraint: Member must have value less than or equal to {MAX_TIMEOUT_S}")
        memory = params.get("MemorySize")
        if memory is not None and not MIN_MEMORY_MB <= memory <= MAX_MEMORY_MB:
            raise validation(f"Value '{memory}' at 'memorySize' failed to satisfy constraint: Member must have value less than or equal to {MAX_MEMORY_MB}")
        eph = (params.get("EphemeralStorage") or {}).get("Size")
        if eph is not None and not 512 <= eph <= 10240:
            raise validation(f"Value '{eph}' at 'ephemeralStorage.size' failed to satisfy constraint: Member must have value less than or equal to 10240")
        if len(params.get("Layers") or []) > MAX_LAYERS:
            raise InvalidParameterValueException(f"Cannot reference more than {MAX_LAYERS} layers.")

    def _check_environment(self, env: dict[str, Any] | None) -> dict[str, str] | None:
        if env is None:
            return None
        variables = env.get("Variables")
        if variables is None:
            return None
        reserved = sorted(k for k in variables if k in RESERVED_ENV)
        if reserved:
            raise InvalidParameterValueException(
                "Lambda was unable to configure your environment variables because the environment variables you have provided "
                f"contains reserved keys that are currently not supported for modification. Reserved keys used in this request: {', '.join(reserved)}"
            )
        measured = json.dumps(variables, separators=(",", ":"))
        if len(measured.encode()) > MAX_ENV_BYTES:
            raise InvalidParameterValueException(
                "Lambda was unable to configure your environment variables because the environment variables you have provided "
                f"exceeded the 4KB limit. String measured: {measured}"
            )
        return {str(k): str(v) for k, v in variables.items()}
