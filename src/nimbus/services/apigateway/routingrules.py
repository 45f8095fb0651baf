"""Routing rules of custom domain names (apigatewayv2 CreateRoutingRule & co.) and the pure rule that
picks one for a request.

A rule has a ``Priority`` (1..1,000,000, unique per domain; the lowest is tried first), ``Conditions``
(all must hold: up to two ``MatchHeaders`` and one ``MatchBasePaths``, each true when any of its
``AnyOf`` entries matches; none is a catch-all) and one ``Actions`` entry, ``InvokeApi`` (a REST API
stage, ``StripBasePath``). Header names match case-insensitively, ``ValueGlob`` case-sensitively with
``*`` only as a prefix, suffix or both (AWS's "contains"). Base paths match whole leading path segments.
The domain's ``routingMode`` says what serves: ``API_MAPPING_ONLY`` (the default: rules are kept but
unused), ``ROUTING_RULE_ONLY``, or ``ROUTING_RULE_THEN_API_MAPPING``.

Rules live inside their domain's document (key ``rules``, by id), so they survive restarts, go with the
domain, and reach the gateway with the domain's in-memory host map.
"""

from __future__ import annotations

from typing import Any

from nimbus.services.apigateway import ids
from nimbus.services.apigateway.domains import NONE_BASE_PATH, DomainNames
from nimbus.services.apigateway.domains import route as domain_route
from nimbus.services.apigateway.errors import BadRequestException, ConflictException, NotFoundException
from nimbus.services.apigateway.restapis import STAGE

RULE_ID_LEN = 6
MAX_PRIORITY = 1_000_000
MAX_HEADER_CONDITIONS = 2
MAX_BASE_PATH_CONDITIONS = 1


def _check_glob(glob: Any) -> str:
    if not isinstance(glob, str) or not glob or "*" in glob.strip("*") or glob.strip("*") == "":
        raise BadRequestException(f"Invalid ValueGlob {glob!r}: a value, optionally with * as a prefix, a suffix or both")
    return glob


def _glob_matches(glob: str, value: str) -> bool:
    core = glob.strip("*")
    if glob.startswith("*") and glob.endswith("*") and len(glob) > 1:
        return core in value
    if glob.startswith("*"):
        return value.endswith(core)
    if glob.endswith("*"):
        return value.startswith(core)
    return value == glob


def _base_path_of(path: str, base: str) -> bool:
    stripped = path.lstrip("/")
    return stripped == base or stripped.startswith(base + "/")


class RoutingRules:
    def __init__(self, domains: DomainNames) -> None:
        self.domains = domains

    def _check(self, account: str, params: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        priority = params.get("Priority")
        if not isinstance(priority, int) or not 1 <= priority <= MAX_PRIORITY:
            raise BadRequestException(f"Invalid Priority {priority}: 1 to {MAX_PRIORITY}")
        conditions = list(params.get("Conditions") or [])
        headers = [c for c in conditions if c.get("MatchHeaders")]
        bases = [c for c in conditions if c.get("MatchBasePaths")]
        if len(headers) + len(bases) != len(conditions) or any(c.get("MatchHeaders") and c.get("MatchBasePaths") for c in conditions):
            raise BadRequestException("Each condition needs exactly one of MatchHeaders or MatchBasePaths")
        if len(headers) > MAX_HEADER_CONDITIONS or len(bases) > MAX_BASE_PATH_CONDITIONS:
            raise BadRequestException(f"A routing rule takes up to {MAX_HEADER_CONDITIONS} header conditions and "
                                      f"{MAX_BASE_PATH_CONDITIONS} base path condition")
        for c in headers:
            entries = c["MatchHeaders"].get("AnyOf") or []
            if not entries:
                raise BadRequestException("MatchHeaders.AnyOf must name at least one header")
            for e in entries:
                if not str(e.get("Header") or "").strip():
                    raise BadRequestException("MatchHeaders: Header must not be empty")
                _check_glob(e.get("ValueGlob"))
        for c in bases:
            entries = c["MatchBasePaths"].get("AnyOf") or []
            if not entries:
                raise BadRequestException("MatchBasePaths.AnyOf must name at least one base path")
            for base in entries:
                if self.domains._base_path(base) == NONE_BASE_PATH:
                    raise BadRequestException("MatchBasePaths: a base path must not be empty")
        actions = list(params.get("Actions") or [])
        if len(actions) != 1 or not (actions[0].get("InvokeApi") or {}).get("ApiId"):
            raise BadRequestException("A routing rule takes exactly one action, InvokeApi")
        invoke = actions[0]["InvokeApi"]
        try:
            self.domains.rest.get_api(invoke["ApiId"], account)
        except NotFoundException:
            raise BadRequestException(f"Invalid ApiId {invoke['ApiId']}: routing rules invoke REST APIs only") from None
        if self.domains.db.get(STAGE, f"{invoke['ApiId']}/{invoke.get('Stage')}") is None:
            raise BadRequestException(f"Invalid Stage {invoke.get('Stage')} of REST API {invoke['ApiId']}")
        return conditions, actions

    @staticmethod
    def _rule(doc: dict[str, Any], rule_id: str) -> dict[str, Any]:
        rule: dict[str, Any] | None = (doc.get("rules") or {}).get(rule_id)
        if rule is None:
            raise NotFoundException(f"Unable to find RoutingRule with id '{rule_id}'")
        return rule

    def create(self, account: str, region: str, name: str, params: dict[str, Any]) -> dict[str, Any]:
        doc = self.domains.get(account, region, name)
        conditions, actions = self._check(account, params)
        rules = doc.setdefault("rules", {})
        if any(r["Priority"] == params["Priority"] for r in rules.values()):
            raise ConflictException(f"A routing rule with priority {params['Priority']} already exists for this domain name")
        rule_id = ids.new_id(RULE_ID_LEN)
        while rule_id in rules:
            rule_id = ids.new_id(RULE_ID_LEN)
        rule = {"RoutingRuleId": rule_id, "Priority": params["Priority"], "Conditions": conditions, "Actions": actions,
                "RoutingRuleArn": f"arn:aws:apigateway:{region}:{account}:/domainnames/{doc['domainName']}/routingrules/{rule_id}"}
        rules[rule_id] = rule
        self.domains._save(doc)
        return rule

    def get(self, account: str, region: str, name: str, rule_id: str) -> dict[str, Any]:
        return self._rule(self.domains.get(account, region, name), rule_id)

    def list(self, account: str, region: str, name: str) -> list[dict[str, Any]]:
        return sorted((self.domains.get(account, region, name).get("rules") or {}).values(), key=lambda r: r["Priority"])

    def put(self, account: str, region: str, name: str, rule_id: str, params: dict[str, Any]) -> dict[str, Any]:
        """PutRoutingRule: replaces the rule (its id stays)."""
        doc = self.domains.get(account, region, name)
        rule = self._rule(doc, rule_id)
        conditions, actions = self._check(account, params)
        if any(r["Priority"] == params["Priority"] and r["RoutingRuleId"] != rule_id for r in doc["rules"].values()):
            raise ConflictException(f"A routing rule with priority {params['Priority']} already exists for this domain name")
        rule.update(Priority=params["Priority"], Conditions=conditions, Actions=actions)
        self.domains._save(doc)
        return rule

    def delete(self, account: str, region: str, name: str, rule_id: str) -> None:
        doc = self.domains.get(account, region, name)
        self._rule(doc, rule_id)
        del doc["rules"][rule_id]
        self.domains._save(doc)


def select(doc: dict[str, Any], path: str, headers: dict[str, str]) -> tuple[dict[str, Any], str] | None:
    """The first rule (by priority) whose conditions all hold, as a REST mapping and the path it serves
    (the matched base path stripped when ``StripBasePath``); None when none does. ``headers``: lower-case
    names (repeated values comma-joined)."""
    for rule in sorted((doc.get("rules") or {}).values(), key=lambda r: r["Priority"]):
        matched_base: str | None = None
        ok = True
        for cond in rule["Conditions"]:
            if cond.get("MatchHeaders"):
                ok = any(_glob_matches(e["ValueGlob"], headers.get(str(e["Header"]).lower(), "")) and str(e["Header"]).lower() in headers
                         for e in cond["MatchHeaders"]["AnyOf"])
            else:
                hit = next((b.strip("/") for b in cond["MatchBasePaths"]["AnyOf"] if _base_path_of(path, b.strip("/"))), None)
                ok, matched_base = hit is not None, hit
            if not ok:
                break
        if not ok:
            continue
        invoke = rule["Actions"][0]["InvokeApi"]
        rest = path if path.startswith("/") else "/" + path
        if matched_base is not None and invoke.get("StripBasePath"):
            rest = "/" + path.lstrip("/")[len(matched_base) + 1:]
        return {"restApiId": invoke["ApiId"], "stage": invoke["Stage"], "kind": "rest", "basePath": matched_base or NONE_BASE_PATH}, rest
    return None


def route(doc: dict[str, Any], path: str, headers: dict[str, str]) -> tuple[dict[str, Any], str] | None:
    """What serves a request to a custom domain, by its ``routingMode``: rules, mappings, or rules then
    mappings (``domains.route``)."""
    mode = doc.get("routingMode") or "API_MAPPING_ONLY"
    found = select(doc, path, headers) if mode in ("ROUTING_RULE_ONLY", "ROUTING_RULE_THEN_API_MAPPING") else None
    if found is None and mode != "ROUTING_RULE_ONLY":
        found = domain_route(doc, path)
    return found
