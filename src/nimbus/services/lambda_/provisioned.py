"""Provisioned concurrency: environments of a published version started and initialised ahead of any
invocation, and kept however long they idle.

A configuration (``PutProvisionedConcurrencyConfig``) names a version or an alias and a count. It is a
metadata document (kind ``lambda.pc``, key ``acct:region:name:qualifier``), so it survives a restart;
what it provisions is process state, so the server provisions every configuration again at boot
(status ``IN_PROGRESS`` until its environments are ready). The Invoker keeps the environments
(``Invoker.provision``): they run with ``AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency``, are
never reaped for idling, and are replaced when one dies. Invocations of the version (directly or through
the alias) take them first; beyond them, on-demand environments start as usual, as on AWS.

Status (AWS's): ``IN_PROGRESS`` while environments start, ``READY`` when all are ready, ``FAILED`` when
one fails its init (``StatusReason`` says why; not retried until the configuration is put again).
An alias follows its version: when ``UpdateAlias`` points it elsewhere, the new version is provisioned
and the old one's environments stop (with weighted routing, only the alias's main version is
provisioned: Nimbus's choice, documented in docs/services/lambda.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nimbus.errors import ServiceError
from nimbus.services.lambda_.errors import InvalidParameterValueException, ResourceConflictException, ResourceNotFoundException
from nimbus.services.lambda_.functions import PC as KIND
from nimbus.services.lambda_.functions import Functions, last_modified
from nimbus.services.lambda_.names import LATEST, FunctionRef, is_version_number

if TYPE_CHECKING:
    from nimbus.services.lambda_.invoke import LambdaEngine

log = logging.getLogger(__name__)

IN_PROGRESS, READY, FAILED = "IN_PROGRESS", "READY", "FAILED"


class ProvisionedConcurrencyConfigNotFoundException(ServiceError):
    code = "ProvisionedConcurrencyConfigNotFoundException"
    status = 404


@dataclass(slots=True)
class _State:
    version: str  # the version provisioned (an alias's, when the configuration names an alias)
    status: str = IN_PROGRESS
    reason: str | None = None
    generation: int = 0


class ProvisionedConcurrency:
    def __init__(self, engine: LambdaEngine) -> None:
        self.engine = engine
        self.functions: Functions = engine.functions
        self.db = engine.functions.db
        self._states: dict[str, _State] = {}

    # --- control plane --------------------------------------------------------------------------

    def put(self, ref: FunctionRef, qualifier: str, count: int) -> dict[str, Any]:
        fn = self.functions.function_doc(ref)
        version = self._target_version(ref, qualifier)
        key = f"{ref.key}:{qualifier}"
        others = sum(int(doc["Requested"]) for k, doc in self.db.list(KIND, f"{ref.key}:") if k != key)
        reserved = fn.get("Concurrency")
        if reserved is not None and others + count > int(reserved):
            raise InvalidParameterValueException(
                "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function"
            )
        if reserved is None:
            account = f"{ref.account}:{ref.region}:"
            elsewhere = sum(int(doc["Requested"]) for k, doc in self.db.list(KIND, account) if not k.startswith(f"{ref.key}:"))
            unreserved = self.functions.account_concurrency - self.functions.reserved_total(ref.region, ref.account) - elsewhere
            if others + count > unreserved:
                raise InvalidParameterValueException(
                    f"Specified ConcurrentExecutions for function is greater than account's unreserved concurrency [{max(unreserved, 0)}]."
                )
        doc = {"Requested": count, "LastModified": last_modified(self.functions.now())}
        self.db.put(KIND, key, doc)
        state = self._states.get(key)
        if state is None:
            state = self._states[key] = _State(version)
        state.version, state.status, state.reason = version, IN_PROGRESS, None
        self._schedule(ref.with_qualifier(qualifier), key, version, count)
        return self._out(key, doc)

    def get(self, ref: FunctionRef, qualifier: str) -> dict[str, Any]:
        self.functions.function_doc(ref)
        key = f"{ref.key}:{qualifier}"
        doc = self.db.get(KIND, key)
        if doc is None:
            raise ProvisionedConcurrencyConfigNotFoundException("No Provisioned Concurrency Config found for this function")
        return self._out(key, doc)

    def delete(self, ref: FunctionRef, qualifier: str) -> None:
        self.functions.function_doc(ref)
        key = f"{ref.key}:{qualifier}"
        if not self.db.delete(KIND, key):
            raise ResourceNotFoundException("No Provisioned Concurrency Config found for this function")
        self._forget(key)

    def list(self, ref: FunctionRef, marker: str | None, max_items: int | None) -> tuple[list[dict[str, Any]], str | None]:
        self.functions.function_doc(ref)
        items = [(k, doc) for k, doc in self.db.list(KIND, f"{ref.key}:")]
        if marker:
            items = [(k, doc) for k, doc in items if k > marker]
        limit = max_items or 50
        page = items[:limit]
        out = [{"FunctionArn": ref.qualified_arn(k.rsplit(":", 1)[1]), **self._out(k, doc)} for k, doc in page]
        return out, (page[-1][0] if len(items) > limit else None)

    def total(self, ref: FunctionRef) -> int:
        """The function's provisioned concurrency over all its versions and aliases."""
        return sum(int(doc["Requested"]) for _, doc in self.db.list(KIND, f"{ref.key}:"))

    # --- engine hooks ---------------------------------------------------------------------------

    def start(self) -> None:
        """At boot: provision every stored configuration again (its environments died with the server)."""
        for key, doc in self.db.list(KIND, ""):
            account, region, name, qualifier = key.split(":", 3)
            ref = FunctionRef(account, region, name, qualifier)
            try:
                version = self._target_version(ref.with_qualifier(None), qualifier)
            except ServiceError:
                self.db.delete(KIND, key)  # its version or alias is gone
                continue
            self._states[key] = _State(version)
            self._schedule(ref, key, version, int(doc["Requested"]))

    def changed(self, ref: FunctionRef) -> None:
        """After a change to the function: drop what was deleted, follow aliases that moved."""
        prefix = f"{ref.key}:"
        docs = dict(self.db.list(KIND, prefix))
        for key in [k for k in self._states if k.startswith(prefix)]:
            doc = docs.get(key)
            if doc is None:
                self._forget(key)
                continue
            qualifier = key.rsplit(":", 1)[1]
            try:
                version = self._target_version(ref.with_qualifier(None), qualifier, check_conflicts=False)
            except ServiceError:
                self.db.delete(KIND, key)
                self._forget(key)
                continue
            state = self._states[key]
            if version != state.version:
                state.version, state.status, state.reason = version, IN_PROGRESS, None
                self._schedule(ref.with_qualifier(qualifier), key, version, int(doc["Requested"]))

    # --- internals ------------------------------------------------------------------------------

    def _target_version(self, ref: FunctionRef, qualifier: str, *, check_conflicts: bool = True) -> str:
        if qualifier == LATEST:
            raise InvalidParameterValueException("Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
        if is_version_number(qualifier):
            self.functions.version_doc(ref, qualifier)
            if check_conflicts:
                for key, _ in self.db.list(KIND, f"{ref.key}:"):
                    other = key.rsplit(":", 1)[1]
                    if not is_version_number(other):
                        alias = self.functions.alias_doc(ref, other)
                        if alias is not None and alias["FunctionVersion"] == qualifier:
                            raise ResourceConflictException("Version is pointed by a Provisioned Concurrency alias")
            return qualifier
        alias = self.functions.alias_doc(ref, qualifier)
        if alias is None:
            raise ResourceNotFoundException(f"Cannot find alias arn: {ref.qualified_arn(qualifier)}")
        version = str(alias["FunctionVersion"])
        if version == LATEST:
            raise InvalidParameterValueException("Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
        if check_conflicts and self.db.get(KIND, f"{ref.key}:{version}") is not None:
            raise ResourceConflictException("Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version")
        return version

    def _out(self, key: str, doc: dict[str, Any]) -> dict[str, Any]:
        state = self._states.get(key)
        invoker = self.engine.core._components.get("lambda.invoker")  # only if one was ever built
        ready = invoker.provisioned_ready(key) if invoker is not None else 0
        status = state.status if state is not None else IN_PROGRESS
        out: dict[str, Any] = {
            "RequestedProvisionedConcurrentExecutions": int(doc["Requested"]),
            "AvailableProvisionedConcurrentExecutions": ready,
            "AllocatedProvisionedConcurrentExecutions": ready,
            "Status": status,
            "LastModified": doc["LastModified"],
        }
        if state is not None and state.reason:
            out["StatusReason"] = state.reason
        return out

    def _forget(self, key: str) -> None:
        self._states.pop(key, None)
        invoker = self.engine.core._components.get("lambda.invoker")
        if invoker is not None:
            invoker.unprovision(key)

    def _schedule(self, ref: FunctionRef, key: str, version: str, count: int) -> None:
        state = self._states[key]
        state.generation += 1
        self.engine.core.spawn(self._apply(ref, key, version, count, state.generation), f"lambda-provision-{ref.name}")

    async def _apply(self, ref: FunctionRef, key: str, version: str, count: int, generation: int) -> None:
        try:
            _, spec = await self.engine._spec(ref.with_qualifier(None), version)
            ready, failure = await self.engine.invoker.provision(spec, key, count)
        except ServiceError as e:  # the function or version went meanwhile
            ready, failure = 0, e.message
        except Exception as e:  # noqa: BLE001 - reported in the configuration's status
            log.warning("provisioned concurrency failed function=%s err=%s", ref.arn, e, exc_info=True)
            ready, failure = 0, str(e) or type(e).__name__
        state = self._states.get(key)
        if state is None or state.generation != generation:
            return  # deleted or put again meanwhile: the newer one reports
        if failure is not None:
            state.status, state.reason = FAILED, f"FUNCTION_ERROR_INIT_FAILURE: {failure}"
            log.warning("provisioned concurrency FAILED function=%s qualifier=%s reason=%s", ref.arn, ref.qualifier, failure)
        elif ready >= count:
            state.status, state.reason = READY, None


__all__ = ["KIND", "ProvisionedConcurrency", "ProvisionedConcurrencyConfigNotFoundException"]
