"""What CloudWatch Logs keeps for an account besides groups: Logs Insights query definitions (saved
queries) and resource policies (PutResourcePolicy: which services may write to the account's groups).

Both live in the metadata store, per account and region. Resource policies are recorded: Nimbus's own
services write logs without asking them, and ``--iam enforce`` does not weigh them (AWS uses them for other
services' deliveries into log groups, which Nimbus does not make).
"""

from __future__ import annotations

import uuid
from typing import Any, Callable

import orjson

from nimbus.errors import ServiceError
from nimbus.services.logs.groups import InvalidParameterException, LimitExceededException, ResourceNotFoundException

QUERY_DEFINITIONS = "logs.querydef"
RESOURCE_POLICIES = "logs.rpolicy"
MAX_QUERY_DEFINITIONS = 1000  # per account and region
MAX_ACCOUNT_POLICIES = 10  # per account and region, as CloudWatch Logs allows
DEFAULT_DESCRIBE = 1000


class OperationAbortedException(ServiceError):
    def __init__(self, message: str) -> None:
        super().__init__(message, code="OperationAbortedException", status=400)


def _page(rows: list[dict[str, Any]], token: str | None, limit: int, key: str) -> tuple[list[dict[str, Any]], str | None]:
    offset = int(token) if token and token.isdigit() else 0
    page = rows[offset : offset + limit]
    return page, (str(offset + limit) if offset + limit < len(rows) else None)


class QueryDefinitions:
    def __init__(self, metadata: Any, clock_time: Callable[[], float]) -> None:
        self.db = metadata
        self.time = clock_time

    def put(self, account: str, region: str, params: dict[str, Any]) -> str:
        scope = f"{account}/{region}/"
        given = params.get("queryDefinitionId")
        if given:
            doc = self.db.get(QUERY_DEFINITIONS, scope + given)
            if doc is None:
                raise ResourceNotFoundException("The specified query definition does not exist.")
            qid = given
        else:
            if sum(1 for _ in self.db.list(QUERY_DEFINITIONS, scope)) >= MAX_QUERY_DEFINITIONS:
                raise LimitExceededException("Resource limit exceeded.")
            qid = str(uuid.uuid4())
        doc = {
            "queryDefinitionId": qid, "name": params["name"], "queryString": params["queryString"],
            "lastModified": int(self.time() * 1000), "logGroupNames": list(params.get("logGroupNames") or []),
            "queryLanguage": params.get("queryLanguage") or "CWLI",
        }
        if params.get("parameters"):
            doc["parameters"] = list(params["parameters"])
        self.db.put(QUERY_DEFINITIONS, scope + qid, doc)
        return qid

    def describe(self, account: str, region: str, *, prefix: str | None, language: str | None, token: str | None,
                 limit: int | None) -> dict[str, Any]:
        rows = [d for _, d in self.db.list(QUERY_DEFINITIONS, f"{account}/{region}/")]
        if prefix:
            rows = [d for d in rows if d["name"].startswith(prefix)]
        if language:
            rows = [d for d in rows if d.get("queryLanguage", "CWLI") == language]
        rows.sort(key=lambda d: (d["name"], d["queryDefinitionId"]))
        page, nxt = _page(rows, token, limit or DEFAULT_DESCRIBE, "queryDefinitionId")
        out: dict[str, Any] = {"queryDefinitions": page}
        if nxt:
            out["nextToken"] = nxt
        return out

    def delete(self, account: str, region: str, qid: str) -> None:
        key = f"{account}/{region}/{qid}"
        if self.db.get(QUERY_DEFINITIONS, key) is None:
            raise ResourceNotFoundException("The specified query definition does not exist.")
        self.db.delete(QUERY_DEFINITIONS, key)


class ResourcePolicies:
    def __init__(self, metadata: Any, clock_time: Callable[[], float]) -> None:
        self.db = metadata
        self.time = clock_time

    @staticmethod
    def _check(document: str) -> None:
        try:
            doc = orjson.loads(document)
        except orjson.JSONDecodeError:
            raise InvalidParameterException("Invalid policy document: it is not valid JSON.") from None
        if not isinstance(doc, dict) or not doc.get("Statement"):
            raise InvalidParameterException("Invalid policy document: it must contain a Statement.")

    def put(self, account: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
        document = params.get("policyDocument")
        if not document:
            raise InvalidParameterException("policyDocument is required.")
        self._check(document)
        arn, name = params.get("resourceArn"), params.get("policyName")
        scope = f"{account}/{region}/"
        if arn:
            key, policy_scope = scope + "resource/" + arn, "RESOURCE"
        elif name:
            key, policy_scope = scope + "account/" + name, "ACCOUNT"
        else:
            raise InvalidParameterException("Either policyName or resourceArn must be specified.")
        current = self.db.get(RESOURCE_POLICIES, key)
        expected = params.get("expectedRevisionId")
        if expected is not None and (current is None or current.get("revisionId") != expected):
            raise OperationAbortedException("The expectedRevisionId does not match the policy's current revision.")
        if current is None and policy_scope == "ACCOUNT" and sum(
                1 for _ in self.db.list(RESOURCE_POLICIES, scope + "account/")) >= MAX_ACCOUNT_POLICIES:
            raise LimitExceededException("Resource limit exceeded.")
        doc: dict[str, Any] = {"policyDocument": document, "lastUpdatedTime": int(self.time() * 1000),
                               "policyScope": policy_scope, "revisionId": uuid.uuid4().hex}
        if name:
            doc["policyName"] = name
        if arn:
            doc["resourceArn"] = arn
        self.db.put(RESOURCE_POLICIES, key, doc)
        return doc

    def describe(self, account: str, region: str, *, scope: str | None, arn: str | None, token: str | None,
                 limit: int | None) -> dict[str, Any]:
        rows = [d for _, d in self.db.list(RESOURCE_POLICIES, f"{account}/{region}/")]
        if scope:
            rows = [d for d in rows if d["policyScope"] == scope]
        if arn:
            rows = [d for d in rows if d.get("resourceArn") == arn]
        rows.sort(key=lambda d: (d["policyScope"], d.get("policyName") or "", d.get("resourceArn") or ""))
        page, nxt = _page(rows, token, limit or 50, "policyName")
        out: dict[str, Any] = {"resourcePolicies": page}
        if nxt:
            out["nextToken"] = nxt
        return out

    def delete(self, account: str, region: str, params: dict[str, Any]) -> None:
        scope = f"{account}/{region}/"
        arn, name = params.get("resourceArn"), params.get("policyName")
        if not arn and not name:
            raise InvalidParameterException("Either policyName or resourceArn must be specified.")
        key = scope + ("resource/" + arn if arn else "account/" + str(name))
        current = self.db.get(RESOURCE_POLICIES, key)
        if current is None:
            raise ResourceNotFoundException("Policy with name [{}] does not exist".format(name or arn))
        expected = params.get("expectedRevisionId")
        if expected is not None and current.get("revisionId") != expected:
            raise OperationAbortedException("The expectedRevisionId does not match the policy's current revision.")
        self.db.delete(RESOURCE_POLICIES, key)


DATA_PROTECTION = "logs.dataprotection"


class DataProtectionPolicies:
    """PutDataProtectionPolicy and its kin: one policy document per log group, recorded, never applied
    (events are stored and answered unmasked). A policy belongs to the group it was put on: it carries the
    group's creationTime, so a group deleted and created again has none."""

    def __init__(self, metadata: Any, clock_time: Callable[[], float], group_of: Callable[[str, str, str], dict[str, Any]]) -> None:
        self.db = metadata
        self.time = clock_time
        self.group_of = group_of  # the group's document; ResourceNotFoundException when missing

    @staticmethod
    def _key(account: str, region: str, group: str) -> str:
        return f"{account}:{region}:{group}"

    def _current(self, account: str, region: str, group: str) -> dict[str, Any] | None:
        created = self.group_of(account, region, group).get("creationTime")
        doc = self.db.get(DATA_PROTECTION, self._key(account, region, group))
        return doc if doc is not None and doc.get("_groupCreated") == created else None

    def put(self, account: str, region: str, group: str, identifier: str, document: str) -> dict[str, Any]:
        created = self.group_of(account, region, group).get("creationTime")
        try:
            parsed = orjson.loads(document)
        except orjson.JSONDecodeError as e:
            raise InvalidParameterException("Invalid data protection policy document: not valid JSON.") from e
        if not isinstance(parsed, dict) or not isinstance(parsed.get("Statement"), list):
            raise InvalidParameterException("Invalid data protection policy document: a Statement list is required.")
        doc = {"policyDocument": document, "lastUpdatedTime": int(self.time() * 1000), "_groupCreated": created}
        self.db.put(DATA_PROTECTION, self._key(account, region, group), doc)
        return {"logGroupIdentifier": identifier, "policyDocument": document, "lastUpdatedTime": doc["lastUpdatedTime"]}

    def get(self, account: str, region: str, group: str, identifier: str) -> dict[str, Any]:
        doc = self._current(account, region, group)
        if doc is None:
            return {"logGroupIdentifier": identifier}
        return {"logGroupIdentifier": identifier, "policyDocument": doc["policyDocument"], "lastUpdatedTime": doc["lastUpdatedTime"]}

    def delete(self, account: str, region: str, group: str) -> None:
        if self._current(account, region, group) is None:
            raise ResourceNotFoundException("No data protection policy found for the log group.")
        self.db.delete(DATA_PROTECTION, self._key(account, region, group))


ACCOUNT_POLICIES = "logs.accountpolicy"
MAX_ACCOUNT_POLICIES_PER_TYPE = 20  # Nimbus's choice; the data protection policy is one per account (AWS)


class AccountPolicies:
    """PutAccountPolicy and its kin: account-wide policies by type and name, recorded and durable, never
    applied (no masking, no account-level subscriptions, indexes or transformers)."""

    def __init__(self, metadata: Any, clock_time: Callable[[], float]) -> None:
        self.db = metadata
        self.time = clock_time

    @staticmethod
    def _prefix(account: str, region: str, kind: str) -> str:
        return f"{account}:{region}:{kind}:"

    def put(self, account: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
        kind, name, document = params["policyType"], params["policyName"], params["policyDocument"]
        try:
            parsed = orjson.loads(document)
        except orjson.JSONDecodeError as e:
            raise InvalidParameterException("Invalid policy document: not valid JSON.") from e
        if not isinstance(parsed, dict):
            raise InvalidParameterException("Invalid policy document: a JSON object is expected.")
        if kind == "DATA_PROTECTION_POLICY" and params.get("selectionCriteria"):
            raise InvalidParameterException("selectionCriteria is not supported for DATA_PROTECTION_POLICY.")
        prefix = self._prefix(account, region, kind)
        existing = self.db.list(ACCOUNT_POLICIES, prefix)
        doc: dict[str, Any] = {
            "policyName": name, "policyDocument": document, "lastUpdatedTime": int(self.time() * 1000),
            "policyType": kind, "scope": params.get("scope") or "ALL", "accountId": account,
        }
        if params.get("selectionCriteria"):
            doc["selectionCriteria"] = params["selectionCriteria"]
        if params.get("dryRun"):
            return doc
        with self.db.transaction():
            if kind == "DATA_PROTECTION_POLICY":  # one per account: a new one replaces it, as AWS
                for key, _ in existing:
                    self.db.delete(ACCOUNT_POLICIES, key)
            elif prefix + name not in {k for k, _ in existing} and len(existing) >= MAX_ACCOUNT_POLICIES_PER_TYPE:
                raise LimitExceededException("Resource limit exceeded.")
            self.db.put(ACCOUNT_POLICIES, prefix + name, doc)
        return doc

    def describe(self, account: str, region: str, kind: str, name: str | None) -> list[dict[str, Any]]:
        rows = [doc for _, doc in self.db.list(ACCOUNT_POLICIES, self._prefix(account, region, kind))]
        return [dict(d) for d in rows if name is None or d["policyName"] == name]

    def delete(self, account: str, region: str, kind: str, name: str, *, dry_run: bool = False) -> None:
        key = self._prefix(account, region, kind) + name
        if self.db.get(ACCOUNT_POLICIES, key) is None:
            raise ResourceNotFoundException("Policy with the specified name and type does not exist.")
        if not dry_run:
            self.db.delete(ACCOUNT_POLICIES, key)
