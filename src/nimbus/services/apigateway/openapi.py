"""OpenAPI 3 / Swagger 2 documents in and out of REST APIs: ImportRestApi, PutRestApi (merge or
overwrite) and GetExport (docs/services/apigateway.md, "OpenAPI").

Import reads ``paths`` (methods, ``x-amazon-apigateway-any-method``, parameters, responses),
``x-amazon-apigateway-integration`` on each operation, security schemes with
``x-amazon-apigateway-authorizer`` (Lambda and Cognito authorizers), ``x-amazon-apigateway-authtype:
awsSigv4`` (IAM) and ``apiKey`` schemes (``apiKeyRequired``), and the API-level extensions
(``binary-media-types``, ``api-key-source``, ``policy``). Everything is applied through the RestApis
engine, so the same checks hold as for the single operations. Documents are JSON, or YAML when PyYAML is
installed.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import orjson

from nimbus.services.apigateway import gatewayresponses, ids
from nimbus.services.apigateway.authorizers import RestAuthorizers
from nimbus.services.apigateway.errors import BadRequestException
from nimbus.services.apigateway.models import _MODEL_NAME, DEFAULT_MODELS, MODEL_ID_LEN, MODEL_REF_PREFIX, VALIDATOR_ID_LEN, default_models
from nimbus.services.apigateway.restapis import API, HTTP_METHODS, RestApis

_VERBS = {m.lower(): m for m in HTTP_METHODS if m != "ANY"}
_ANY = "x-amazon-apigateway-any-method"
_INTEGRATION = "x-amazon-apigateway-integration"
_AUTHORIZER = "x-amazon-apigateway-authorizer"
_AUTHTYPE = "x-amazon-apigateway-authtype"
_VALIDATORS = "x-amazon-apigateway-request-validators"
_VALIDATOR = "x-amazon-apigateway-request-validator"
_GATEWAY_RESPONSES = "x-amazon-apigateway-gateway-responses"
_LOCAL_REFS = ("#/definitions/", "#/components/schemas/")


def _ref_name(ref: Any) -> str | None:
    if isinstance(ref, str):
        for prefix in _LOCAL_REFS:
            if ref.startswith(prefix):
                return ref[len(prefix):]
    return None


def _model_refs(node: Any, api_id: str) -> Any:
    """A schema with its document-local ``$ref``s pointing at the API's models instead."""
    if isinstance(node, dict):
        out = {k: _model_refs(v, api_id) for k, v in node.items()}
        name = _ref_name(node.get("$ref"))
        if name:
            out["$ref"] = f"{MODEL_REF_PREFIX}{api_id}/models/{name}"
        return out
    if isinstance(node, list):
        return [_model_refs(v, api_id) for v in node]
    return node


def load_document(body: bytes) -> dict[str, Any]:
    """JSON, else YAML (PyYAML, when installed); a mapping with ``openapi`` 3.x or ``swagger`` 2.0."""
    text = body.decode("utf-8", "replace").strip()
    if not text:
        raise BadRequestException("The API definition body is empty")
    doc: Any
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            import yaml
        except ImportError:  # pragma: no cover - PyYAML is a dependency
            raise BadRequestException("Invalid OpenAPI input: not JSON (YAML needs PyYAML installed)") from None
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise BadRequestException(f"Invalid OpenAPI input: {str(e).splitlines()[0]}") from None
    if not isinstance(doc, dict):
        raise BadRequestException("Invalid OpenAPI input: the document is not an object")
    version = str(doc.get("openapi") or doc.get("swagger") or "")
    if not (version.startswith("3.") or version == "2.0"):
        raise BadRequestException("Invalid OpenAPI input: expected 'openapi: 3.x' or 'swagger: \"2.0\"'")
    if not isinstance(doc.get("paths") or {}, dict):
        raise BadRequestException("Invalid OpenAPI input: 'paths' must be an object")
    return doc


def _schemes(doc: dict[str, Any]) -> dict[str, Any]:
    if str(doc.get("swagger")) == "2.0":
        return dict(doc.get("securityDefinitions") or {})
    return dict((doc.get("components") or {}).get("securitySchemes") or {})


def _base_path(doc: dict[str, Any]) -> str:
    if str(doc.get("swagger")) == "2.0":
        return str(doc.get("basePath") or "/")
    servers = doc.get("servers") or []
    if servers and isinstance(servers[0], dict):
        var = ((servers[0].get("variables") or {}).get("basePath") or {}).get("default")
        if var:
            return str(var)
    return "/"


class Importer:
    """Applies one document to one REST API (already created, or existing for PutRestApi)."""

    def __init__(self, rest: RestApis, authorizers: RestAuthorizers, account: str) -> None:
        self.rest = rest
        self.authorizers = authorizers
        self.account = account
        self.warnings: list[str] = []
        self.validator_ids: dict[str, str] = {}
        self.default_validator: Any = None
        self.consumes: list[str] = []

    def apply(self, api_id: str, doc: dict[str, Any], *, mode: str, basepath: str) -> None:
        info = doc.get("info") or {}
        api = self.rest.get_api(api_id, self.account)
        if info.get("title"):
            api["name"] = str(info["title"])
        for src, dst in (("description", "description"), ("version", "version")):
            if info.get(src) is not None:
                api[dst] = str(info[src])
        if doc.get("x-amazon-apigateway-binary-media-types") is not None:
            api["binaryMediaTypes"] = [str(t) for t in doc["x-amazon-apigateway-binary-media-types"]]
        if doc.get("x-amazon-apigateway-api-key-source"):
            api["apiKeySource"] = str(doc["x-amazon-apigateway-api-key-source"]).upper()
        if doc.get("x-amazon-apigateway-policy") is not None:
            policy = doc["x-amazon-apigateway-policy"]
            api["policy"] = policy if isinstance(policy, str) else orjson.dumps(policy).decode()
        if mode == "overwrite":
            root = api["rootResourceId"]
            api["resources"] = {root: {"id": root, "path": "/", "resourceMethods": {}}}
            api["authorizers"] = {}
            api["requestValidators"] = {}
            api["gatewayResponses"] = {}
            api["models"] = default_models()
        self._models(api, doc)
        self._validators(api, doc)
        self._gateway_responses(api, doc)
        self.rest.db.put(API, api_id, api)
        self.rest._changed()

        self.consumes = [str(c) for c in doc.get("consumes") or []]
        schemes = _schemes(doc)
        auth_ids = self._authorizers(api_id, schemes)
        prefix = ""
        if basepath == "prepend":
            prefix = _base_path(doc).rstrip("/")
        paths: dict[str, Any] = doc.get("paths") or {}
        default_security = doc.get("security")
        for path, item in paths.items():
            if not isinstance(item, dict):
                continue
            resource_id = self._resource(api_id, prefix + "/" + str(path).strip("/"))
            shared = item.get("parameters") or []
            for key, op in item.items():
                verb = "ANY" if key == _ANY else _VERBS.get(str(key).lower())
                if verb is None or not isinstance(op, dict):
                    if key not in ("parameters", "summary", "description", "servers") and not str(key).startswith("x-"):
                        self.warnings.append(f"Unsupported path item field {key} at {path}")
                    continue
                self._method(api_id, resource_id, verb, op, shared, op.get("security", default_security), schemes, auth_ids, path)

    def _models(self, api: dict[str, Any], doc: dict[str, Any]) -> None:
        """Swagger ``definitions`` / OpenAPI 3 ``components.schemas`` become models (``application/json``),
        their ``$ref``s pointing at the API's models, as AWS imports them."""
        schemas = doc.get("definitions") if "swagger" in doc else (doc.get("components") or {}).get("schemas")
        models = api.setdefault("models", {})
        for name, schema in (schemas or {}).items():
            if not isinstance(schema, dict) or not _MODEL_NAME.fullmatch(str(name)):
                self.warnings.append(f"Model {name} skipped: model names must be alphanumeric and schemas objects")
                continue
            old = models.get(name) or {}
            models[name] = {"id": old.get("id") or ids.new_id(MODEL_ID_LEN), "name": name, "contentType": "application/json",
                            "schema": orjson.dumps(_model_refs(schema, api["id"])).decode()}
            if schema.get("description"):
                models[name]["description"] = str(schema["description"])

    def _validators(self, api: dict[str, Any], doc: dict[str, Any]) -> None:
        """``x-amazon-apigateway-request-validators`` (by name) and the document's default validator."""
        validators = api.setdefault("requestValidators", {})
        by_name = {v["name"]: v["id"] for v in validators.values()}
        for name, spec in (doc.get(_VALIDATORS) or {}).items():
            spec = spec if isinstance(spec, dict) else {}
            vid = by_name.get(name) or ids.new_id(VALIDATOR_ID_LEN)
            validators[vid] = {"id": vid, "name": str(name), "validateRequestBody": bool(spec.get("validateRequestBody", False)),
                               "validateRequestParameters": bool(spec.get("validateRequestParameters", False))}
            by_name[str(name)] = vid
        self.validator_ids = by_name
        self.default_validator = doc.get(_VALIDATOR)

    def _gateway_responses(self, api: dict[str, Any], doc: dict[str, Any]) -> None:
        custom = api.setdefault("gatewayResponses", {})
        for kind, spec in (doc.get(_GATEWAY_RESPONSES) or {}).items():
            if kind not in gatewayresponses.TYPES or not isinstance(spec, dict):
                self.warnings.append(f"Unsupported gateway response type {kind}")
                continue
            rec: dict[str, Any] = {"responseType": kind, "defaultResponse": False,
                                   "responseParameters": dict(spec.get("responseParameters") or {}),
                                   "responseTemplates": dict(spec.get("responseTemplates") or {})}
            if spec.get("statusCode") is not None:
                rec["statusCode"] = str(spec["statusCode"])
            custom[kind] = rec

    def _request_models(self, op: dict[str, Any], parameters: list[Any], consumes: list[str], verb: str, path: str) -> dict[str, str]:
        """A body parameter (Swagger) or ``requestBody`` (OpenAPI 3) naming a model by ``$ref``."""
        out: dict[str, str] = {}
        for p in parameters:
            if isinstance(p, dict) and p.get("in") == "body":
                name = _ref_name((p.get("schema") or {}).get("$ref"))
                if name:
                    for ctype in consumes or ["application/json"]:
                        out[str(ctype)] = name
                elif p.get("schema"):
                    self.warnings.append(f"Inline body schema on {verb} {path} ignored: only $ref to a definition names a model")
        for ctype, media in ((op.get("requestBody") or {}).get("content") or {}).items():
            name = _ref_name(((media or {}).get("schema") or {}).get("$ref"))
            if name:
                out[str(ctype)] = name
        return out

    def _authorizers(self, api_id: str, schemes: dict[str, Any]) -> dict[str, str]:
        existing = {a["name"]: a for a in self.authorizers.list(api_id, self.account)}
        out: dict[str, str] = {}
        for name, scheme in schemes.items():
            ext = (scheme or {}).get(_AUTHORIZER)
            if not isinstance(ext, dict):
                continue
            kind = str(ext.get("type") or "token").upper()
            params: dict[str, Any] = {"name": name, "type": kind}
            for k in ("authorizerUri", "authorizerCredentials", "identityValidationExpression", "authorizerResultTtlInSeconds", "providerARNs"):
                if ext.get(k) is not None:
                    params[k] = ext[k]
            source = ext.get("identitySource")
            if source is None and scheme.get("in") == "header" and scheme.get("name"):
                source = f"method.request.header.{scheme['name']}"
            if source is not None:
                params["identitySource"] = str(source)
            if name in existing:  # merge: replace the authorizer of the same name in place
                auth_id = existing[name]["id"]
                api = self.rest.get_api(api_id, self.account)
                api["authorizers"][auth_id] = {"id": auth_id, **{k: v for k, v in params.items()}}
                if kind in ("TOKEN", "REQUEST"):
                    api["authorizers"][auth_id].setdefault("authorizerResultTtlInSeconds", 300)
                self.rest.db.put(API, api_id, api)
                self.rest._changed()
                out[name] = auth_id
            else:
                out[name] = self.authorizers.create(api_id, self.account, params)["id"]
        return out

    def _resource(self, api_id: str, path: str) -> str:
        api = self.rest.get_api(api_id, self.account)
        by_path = {r["path"]: r["id"] for r in api["resources"].values()}
        current = "/"
        rid = api["rootResourceId"]
        for part in [p for p in path.split("/") if p]:
            nxt = ("" if current == "/" else current) + "/" + part
            if nxt not in by_path:
                by_path[nxt] = self.rest.create_resource(api_id, self.account, rid, part)["id"]
            rid, current = by_path[nxt], nxt
        return rid

    def _method(self, api_id: str, resource_id: str, verb: str, op: dict[str, Any], shared: list[Any], security: Any,
                schemes: dict[str, Any], auth_ids: dict[str, str], path: str) -> None:
        params: dict[str, Any] = {"httpMethod": verb, "authorizationType": "NONE"}
        for req in security or []:
            for name in (req or {}):
                scheme = schemes.get(name) or {}
                if name in auth_ids:
                    ext = scheme.get(_AUTHORIZER) or {}
                    cognito = str(ext.get("type", "")).lower() == "cognito_user_pools"
                    params["authorizationType"] = "COGNITO_USER_POOLS" if cognito else "CUSTOM"
                    params["authorizerId"] = auth_ids[name]
                    if cognito and req[name]:
                        params["authorizationScopes"] = list(req[name])
                elif str(scheme.get(_AUTHTYPE, "")).lower() == "awssigv4":
                    params["authorizationType"] = "AWS_IAM"
                elif scheme.get("type") == "apiKey":
                    params["apiKeyRequired"] = True
                else:
                    self.warnings.append(f"Unsupported security scheme {name} on {verb} {path}")
        if op.get("operationId"):
            params["operationName"] = str(op["operationId"])
        request_params: dict[str, bool] = {}
        for p in list(shared) + list(op.get("parameters") or []):
            if isinstance(p, dict) and p.get("in") in ("path", "query", "header") and p.get("name"):
                loc = {"query": "querystring"}.get(p["in"], p["in"])
                request_params[f"method.request.{loc}.{p['name']}"] = bool(p.get("required", p["in"] == "path"))
        if request_params:
            params["requestParameters"] = request_params
        models = self._request_models(op, list(shared) + list(op.get("parameters") or []), list(op.get("consumes") or self.consumes),
                                      verb, path)
        if models:
            params["requestModels"] = models
        validator = op.get(_VALIDATOR, self.default_validator)
        if validator:
            if validator in self.validator_ids:
                params["requestValidatorId"] = self.validator_ids[validator]
            else:
                self.warnings.append(f"Unknown request validator {validator} on {verb} {path}")
        self.rest.put_method(api_id, self.account, resource_id, params)
        for status in (op.get("responses") or {}):
            if str(status).isdigit():
                self.rest.put_method_response(api_id, self.account, resource_id, verb, {"statusCode": str(status)})
        integ = op.get(_INTEGRATION)
        if not isinstance(integ, dict):
            self.warnings.append(f"No x-amazon-apigateway-integration on {verb} {path}: the method has no integration")
            return
        kind = str(integ.get("type") or "").upper()
        iparams: dict[str, Any] = {"type": kind}
        if integ.get("httpMethod"):
            iparams["integrationHttpMethod"] = str(integ["httpMethod"])
        for k in ("uri", "credentials", "requestParameters", "requestTemplates", "passthroughBehavior", "contentHandling",
                  "timeoutInMillis", "cacheNamespace", "cacheKeyParameters", "connectionType", "connectionId"):
            if integ.get(k) is not None:
                iparams[k] = integ[k]
        if isinstance(iparams.get("passthroughBehavior"), str):
            iparams["passthroughBehavior"] = iparams["passthroughBehavior"].upper()
        self.rest.put_integration(api_id, self.account, resource_id, verb, iparams)
        for pattern, resp in (integ.get("responses") or {}).items():
            if not isinstance(resp, dict):
                continue
            rparams: dict[str, Any] = {"statusCode": str(resp.get("statusCode") or "200")}
            if pattern != "default":
                rparams["selectionPattern"] = str(pattern)
            for k in ("responseParameters", "responseTemplates", "contentHandling"):
                if resp.get(k) is not None:
                    rparams[k] = resp[k]
            self.rest.put_integration_response(api_id, self.account, resource_id, verb, rparams)


def import_api(rest: RestApis, authorizers: RestAuthorizers, account: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
    """ImportRestApi: a new API from the document; nothing is left behind when the document is refused."""
    doc = load_document(params.get("body") or b"")
    options = params.get("parameters") or {}
    title = str((doc.get("info") or {}).get("title") or "")
    if not title:
        raise BadRequestException("Invalid OpenAPI input: info.title is required to name the API")
    endpoint = str(options.get("endpointConfigurationTypes") or "EDGE").upper()
    api = rest.create_api(account, region, {"name": title, "endpointConfiguration": {"types": [endpoint]}})
    importer = Importer(rest, authorizers, account)
    try:
        importer.apply(api["id"], doc, mode="overwrite", basepath=str(options.get("basepath") or "ignore"))
        if importer.warnings and params.get("failOnWarnings"):
            raise BadRequestException("Warnings found during import:\n\t" + "\n\t".join(importer.warnings))
    except Exception:
        rest.delete_api(api["id"], account)
        raise
    out = rest.get_api(api["id"], account)
    return {**out, "warnings": importer.warnings} if importer.warnings else out


def put_api(rest: RestApis, authorizers: RestAuthorizers, account: str, api_id: str, params: dict[str, Any]) -> dict[str, Any]:
    """PutRestApi: ``merge`` (the default) adds and replaces; ``overwrite`` replaces the resources and
    authorizers wholesale. A refused document leaves the API as it was."""
    doc = load_document(params.get("body") or b"")
    mode = str(params.get("mode") or "merge").lower()
    if mode not in ("merge", "overwrite"):
        raise BadRequestException(f"Invalid mode {mode}: merge or overwrite")
    before = copy.deepcopy(rest.get_api(api_id, account))
    importer = Importer(rest, authorizers, account)
    try:
        importer.apply(api_id, doc, mode=mode, basepath=str((params.get("parameters") or {}).get("basepath") or "ignore"))
        if importer.warnings and params.get("failOnWarnings"):
            raise BadRequestException("Warnings found during import:\n\t" + "\n\t".join(importer.warnings))
    except Exception:
        rest.db.put(API, api_id, before)
        rest._changed()
        raise
    out = rest.get_api(api_id, account)
    return {**out, "warnings": importer.warnings} if importer.warnings else out


# --- export -------------------------------------------------------------------------------------


def _authorizer_scheme(auth: dict[str, Any], oas3: bool) -> dict[str, Any]:
    source = str(auth.get("identitySource") or "")
    header = source[len("method.request.header."):] if source.startswith("method.request.header.") and "," not in source else "Unused"
    ext: dict[str, Any] = {"type": str(auth["type"]).lower()}
    for k in ("authorizerUri", "authorizerCredentials", "identityValidationExpression", "authorizerResultTtlInSeconds", "providerARNs"):
        if auth.get(k) is not None:
            ext[k] = auth[k]
    if auth["type"] == "REQUEST":
        ext["identitySource"] = source
    return {"type": "apiKey", "name": header, "in": "header",
            _AUTHTYPE: "cognito_user_pools" if auth["type"] == "COGNITO_USER_POOLS" else "custom", _AUTHORIZER: ext}


def _local_refs(node: Any, prefix: str) -> Any:
    """A model's schema with ``$ref``s to the API's models pointing into the document (``prefix``)."""
    if isinstance(node, dict):
        out = {k: _local_refs(v, prefix) for k, v in node.items()}
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(MODEL_REF_PREFIX) and "/models/" in ref:
            out["$ref"] = prefix + ref.rsplit("/models/", 1)[1]
        return out
    if isinstance(node, list):
        return [_local_refs(v, prefix) for v in node]
    return node


def export(api: dict[str, Any], stage: dict[str, Any], resources: list[dict[str, Any]], authorizers: dict[str, Any], *,
           export_type: str, extensions: str, server_url: str, models: dict[str, Any] | None = None,
           validators: dict[str, Any] | None = None, gateway_responses: dict[str, Any] | None = None) -> dict[str, Any]:
    """An OpenAPI 3.0.1 (``oas30``) or Swagger 2.0 (``swagger``) document of what a stage serves.
    Integrations and authorizers are included with ``extensions`` ``integrations`` or ``apigateway``,
    as AWS does; so are request validators and gateway responses. Models are always written
    (``definitions`` / ``components.schemas``), and a method's request models as its body."""
    models, validators, gateway_responses = models or {}, validators or {}, gateway_responses or {}
    oas3 = export_type == "oas30"
    ref_prefix = "#/components/schemas/" if oas3 else "#/definitions/"
    with_ext = extensions in ("integrations", "apigateway", "authorizers")
    with_integrations = extensions in ("integrations", "apigateway")
    doc: dict[str, Any] = {}
    info = {"title": api["name"], "version": api.get("version") or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stage.get("createdDate") or 0))}
    if api.get("description"):
        info["description"] = api["description"]
    stage_path = "/" + stage["stageName"]
    if oas3:
        doc = {"openapi": "3.0.1", "info": info,
               "servers": [{"url": server_url + "/{basePath}", "variables": {"basePath": {"default": stage["stageName"]}}}]}
    else:
        host = server_url.split("://", 1)[-1]
        doc = {"swagger": "2.0", "info": info, "host": host, "basePath": stage_path, "schemes": ["http"]}
    paths: dict[str, Any] = {}
    used_auth: set[str] = set()
    api_key = False
    for res in sorted(resources, key=lambda r: r["path"]):
        methods = res.get("resourceMethods") or {}
        if not methods:
            continue
        item: dict[str, Any] = {}
        for verb, m in sorted(methods.items()):
            op: dict[str, Any] = {}
            if m.get("operationName"):
                op["operationId"] = m["operationName"]
            params = []
            for name, required in sorted((m.get("requestParameters") or {}).items()):
                parts = name.split(".", 3)
                if len(parts) == 4:
                    loc = {"querystring": "query"}.get(parts[2], parts[2])
                    p: dict[str, Any] = {"name": parts[3], "in": loc, "required": bool(required) or loc == "path"}
                    p.update({"schema": {"type": "string"}} if oas3 else {"type": "string"})
                    params.append(p)
            request_models = {t: n for t, n in (m.get("requestModels") or {}).items() if n in models}
            if request_models and oas3:
                op["requestBody"] = {"content": {t: {"schema": {"$ref": ref_prefix + n}} for t, n in request_models.items()},
                                     "required": True}
            elif request_models:
                first = next(iter(request_models.values()))
                op["consumes"] = list(request_models)
                params.append({"in": "body", "name": first, "required": True, "schema": {"$ref": ref_prefix + first}})
            if params:
                op["parameters"] = params
            if with_ext and m.get("requestValidatorId") in validators:
                op[_VALIDATOR] = validators[m["requestValidatorId"]]["name"]
            responses = {code: {"description": f"{code} response"} for code in sorted(m.get("methodResponses") or {})}
            op["responses"] = responses or {}
            security = []
            if m.get("authorizationType") in ("CUSTOM", "COGNITO_USER_POOLS") and m.get("authorizerId") in authorizers and with_ext:
                name = authorizers[m["authorizerId"]]["name"]
                used_auth.add(m["authorizerId"])
                security.append({name: list(m.get("authorizationScopes") or [])})
            elif m.get("authorizationType") == "AWS_IAM" and with_ext:
                security.append({"sigv4": []})
            if m.get("apiKeyRequired"):
                api_key = True
                security.append({"api_key": []})
            if security:
                op["security"] = security
            integ = m.get("methodIntegration")
            if with_integrations and integ:
                out = {k: v for k, v in integ.items() if k not in ("integrationResponses",)}
                out["type"] = str(integ["type"]).lower()
                if integ.get("integrationResponses"):
                    out["responses"] = {
                        (r.get("selectionPattern") or "default"): {k: v for k, v in r.items() if k != "selectionPattern"}
                        for r in integ["integrationResponses"].values()
                    }
                op[_INTEGRATION] = out
            item[_ANY if verb == "ANY" else verb.lower()] = op
        paths[res["path"]] = item
    doc["paths"] = paths
    schemes: dict[str, Any] = {}
    for auth_id in sorted(used_auth):
        schemes[authorizers[auth_id]["name"]] = _authorizer_scheme(authorizers[auth_id], oas3)
    if any(m.get("authorizationType") == "AWS_IAM" for r in resources for m in (r.get("resourceMethods") or {}).values()) and with_ext:
        schemes["sigv4"] = {"type": "apiKey", "name": "Authorization", "in": "header", _AUTHTYPE: "awsSigv4"}
    if api_key:
        schemes["api_key"] = {"type": "apiKey", "name": "x-api-key", "in": "header"}
    if schemes:
        if oas3:
            doc["components"] = {"securitySchemes": schemes}
        else:
            doc["securityDefinitions"] = schemes
    definitions: dict[str, Any] = {}
    used = {n for r in resources for m in (r.get("resourceMethods") or {}).values()
            for n in [*(m.get("requestModels") or {}).values(),
                      *(x for resp in (m.get("methodResponses") or {}).values() for x in (resp.get("responseModels") or {}).values())]}
    for name, model in sorted(models.items()):
        if name in DEFAULT_MODELS and name not in used:
            continue  # the defaults every API has are written only when a method names them
        try:
            definitions[name] = _local_refs(orjson.loads(model.get("schema") or "{}"), ref_prefix)
        except orjson.JSONDecodeError:
            continue
    if definitions and oas3:
        doc.setdefault("components", {})["schemas"] = definitions
    elif definitions:
        doc["definitions"] = definitions
    if with_ext and validators:
        doc[_VALIDATORS] = {v["name"]: {"validateRequestBody": v["validateRequestBody"],
                                        "validateRequestParameters": v["validateRequestParameters"]} for v in validators.values()}
    if with_ext and gateway_responses:
        doc[_GATEWAY_RESPONSES] = {kind: {k: v for k, v in r.items() if k in ("statusCode", "responseParameters", "responseTemplates")}
                                   for kind, r in sorted(gateway_responses.items())}
    if with_ext and api.get("binaryMediaTypes"):
        doc["x-amazon-apigateway-binary-media-types"] = api["binaryMediaTypes"]
    if with_ext and api.get("apiKeySource") == "AUTHORIZER":
        doc["x-amazon-apigateway-api-key-source"] = "AUTHORIZER"
    return doc


def dump(doc: dict[str, Any], accepts: str | None) -> tuple[bytes, str]:
    if accepts and "yaml" in accepts:
        import yaml

        return yaml.safe_dump(doc, sort_keys=False).encode(), "application/yaml"
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2), "application/json"


# --- HTTP APIs (apigatewayv2 ImportApi / ReimportApi) -------------------------------------------


def _http_authorizer_params(name: str, scheme: dict[str, Any], ext: dict[str, Any]) -> dict[str, Any]:
    kind = str(ext.get("type") or "request").upper()
    params: dict[str, Any] = {"Name": name, "AuthorizerType": "JWT" if kind == "JWT" else "REQUEST"}
    source = ext.get("identitySource")
    if source is None and scheme.get("in") == "header" and scheme.get("name"):
        source = f"$request.header.{scheme['name']}"
    if source is not None:
        params["IdentitySource"] = [s.strip() for s in source.split(",")] if isinstance(source, str) else list(source)
    mapping = {"authorizerUri": "AuthorizerUri", "authorizerPayloadFormatVersion": "AuthorizerPayloadFormatVersion",
               "authorizerResultTtlInSeconds": "AuthorizerResultTtlInSeconds", "enableSimpleResponses": "EnableSimpleResponses",
               "authorizerCredentials": "AuthorizerCredentialsArn", "identityValidationExpression": "IdentityValidationExpression"}
    for src, dst in mapping.items():
        if ext.get(src) is not None:
            params[dst] = ext[src]
    jwt = ext.get("jwtConfiguration")
    if isinstance(jwt, dict):
        params["JwtConfiguration"] = {"Issuer": jwt.get("issuer"), "Audience": list(jwt.get("audience") or [])}
    return params


def _cors(doc: dict[str, Any]) -> dict[str, Any] | None:
    cors = doc.get("x-amazon-apigateway-cors")
    if not isinstance(cors, dict):
        return None
    names = {"allowOrigins": "AllowOrigins", "allowMethods": "AllowMethods", "allowHeaders": "AllowHeaders",
             "exposeHeaders": "ExposeHeaders", "maxAge": "MaxAge", "allowCredentials": "AllowCredentials"}
    return {dst: cors[src] for src, dst in names.items() if cors.get(src) is not None}


def _apply_http(http: Any, authorizers: Any, account: str, api_id: str, doc: dict[str, Any]) -> list[str]:
    """Routes, integrations and authorizers of an HTTP API from an OpenAPI 3 document (the API has none)."""
    warnings: list[str] = []
    auth_ids: dict[str, tuple[str, str]] = {}
    schemes = _schemes(doc)
    for name, scheme in schemes.items():
        ext = (scheme or {}).get(_AUTHORIZER)
        if isinstance(ext, dict):
            auth = authorizers.create(api_id, account, _http_authorizer_params(name, scheme, ext))
            auth_ids[name] = (auth["AuthorizerId"], "JWT" if auth["AuthorizerType"] == "JWT" else "CUSTOM")
    integrations: dict[tuple[str, str, str], str] = {}
    default_security = doc.get("security")
    for path, item in (doc.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        for key, op in item.items():
            verb = "ANY" if key == _ANY else _VERBS.get(str(key).lower())
            if verb is None or not isinstance(op, dict):
                continue
            route_key = "$default" if path == "$default" else f"{verb} {path}"
            params: dict[str, Any] = {"RouteKey": route_key, "AuthorizationType": "NONE"}
            if op.get("operationId"):
                params["OperationName"] = str(op["operationId"])
            for req in op.get("security", default_security) or []:
                for name in (req or {}):
                    if name in auth_ids:
                        params["AuthorizerId"], params["AuthorizationType"] = auth_ids[name]
                        if req[name]:
                            params["AuthorizationScopes"] = list(req[name])
                    elif str((schemes.get(name) or {}).get(_AUTHTYPE, "")).lower() == "awssigv4":
                        params["AuthorizationType"] = "AWS_IAM"
                    else:
                        warnings.append(f"Unsupported security scheme {name} on {route_key}")
            integ = op.get(_INTEGRATION)
            if isinstance(integ, dict):
                kind = str(integ.get("type") or "aws_proxy").upper()
                uri = str(integ.get("uri") or "")
                version = str(integ.get("payloadFormatVersion") or ("2.0" if kind == "AWS_PROXY" else "1.0"))
                ikey = (kind, uri, version)
                if ikey not in integrations:
                    iparams: dict[str, Any] = {"IntegrationType": kind, "IntegrationUri": uri, "PayloadFormatVersion": version,
                                               "IntegrationMethod": str(integ.get("httpMethod") or "POST").upper()}
                    if integ.get("timeoutInMillis") is not None:
                        iparams["TimeoutInMillis"] = int(integ["timeoutInMillis"])
                    if integ.get("credentials"):
                        iparams["CredentialsArn"] = integ["credentials"]
                    integrations[ikey] = http.create_integration(api_id, account, iparams)["IntegrationId"]
                params["Target"] = f"integrations/{integrations[ikey]}"
            else:
                warnings.append(f"No x-amazon-apigateway-integration on {route_key}: the route has no target")
            http.create_route(api_id, account, params)
    return warnings


def _http_document(params: dict[str, Any]) -> dict[str, Any]:
    doc = load_document(params.get("Body", b"") if isinstance(params.get("Body"), bytes) else str(params.get("Body") or "").encode())
    if not str(doc.get("openapi") or "").startswith("3."):
        raise BadRequestException("HTTP APIs import OpenAPI 3.x documents only")
    if not (doc.get("info") or {}).get("title"):
        raise BadRequestException("Invalid OpenAPI input: info.title is required to name the API")
    return doc


def import_http_api(http: Any, authorizers: Any, account: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
    """apigatewayv2 ImportApi: a new HTTP API (no stage, as AWS); nothing is left when refused."""
    doc = _http_document(params)
    info = doc["info"]
    create: dict[str, Any] = {"Name": str(info["title"]), "ProtocolType": "HTTP"}
    if info.get("description"):
        create["Description"] = str(info["description"])
    if info.get("version") is not None:
        create["Version"] = str(info["version"])
    cors = _cors(doc)
    if cors:
        create["CorsConfiguration"] = cors
    api = http.create_api(account, region, create)
    try:
        warnings = _apply_http(http, authorizers, account, api["ApiId"], doc)
        if warnings and params.get("FailOnWarnings"):
            raise BadRequestException("Warnings found during import:\n\t" + "\n\t".join(warnings))
    except Exception:
        http.delete_api(api["ApiId"], account)
        raise
    out = dict(http.get_api(api["ApiId"], account))
    if warnings:
        out["Warnings"] = warnings
    return out


def reimport_http_api(http: Any, authorizers: Any, account: str, api_id: str, params: dict[str, Any]) -> dict[str, Any]:
    """apigatewayv2 ReimportApi: the document replaces the routes, integrations and authorizers (stages
    stay; auto-deploying ones redeploy). A refused document leaves the API as it was."""
    doc = _http_document(params)
    before = copy.deepcopy(http.get_api(api_id, account))
    api = http.get_api(api_id, account)
    api["routes"], api["integrations"], api["authorizers"] = {}, {}, {}
    info = doc["info"]
    api["Name"] = str(info["title"])
    if info.get("version") is not None:
        api["Version"] = str(info["version"])
    cors = _cors(doc)
    if cors:
        api["CorsConfiguration"] = cors
    http._auto_deploy(api)
    http._save(api)
    try:
        warnings = _apply_http(http, authorizers, account, api_id, doc)
        if warnings and params.get("FailOnWarnings"):
            raise BadRequestException("Warnings found during import:\n\t" + "\n\t".join(warnings))
    except Exception:
        http._save(before)
        raise
    out = dict(http.get_api(api_id, account))
    if warnings:
        out["Warnings"] = warnings
    return out


# --- HTTP APIs (apigatewayv2 ExportApi) --------------------------------------------------------------

_HTTP_TO_EXT = {"AuthorizerUri": "authorizerUri", "AuthorizerPayloadFormatVersion": "authorizerPayloadFormatVersion",
                "AuthorizerResultTtlInSeconds": "authorizerResultTtlInSeconds", "EnableSimpleResponses": "enableSimpleResponses",
                "AuthorizerCredentialsArn": "authorizerCredentials", "IdentityValidationExpression": "identityValidationExpression"}
_SIGV4 = "sigv4"


def _http_scheme(auth: dict[str, Any], with_ext: bool) -> dict[str, Any]:
    """An authorizer as a security scheme (what ``_http_authorizer_params`` reads back)."""
    sources = [s for s in auth.get("IdentitySource") or [] if s]
    if auth.get("AuthorizerType") == "JWT":
        scheme: dict[str, Any] = {"type": "oauth2", "flows": {}}
        ext: dict[str, Any] = {"type": "jwt"}
        jwt = auth.get("JwtConfiguration") or {}
        ext["jwtConfiguration"] = {"issuer": jwt.get("Issuer"), "audience": list(jwt.get("Audience") or [])}
    else:
        header = next((s.split(".", 2)[2] for s in sources if s.startswith("$request.header.")), "Unused")
        scheme = {"type": "apiKey", "name": header, "in": "header"}
        ext = {"type": "request"}
        for src, dst in _HTTP_TO_EXT.items():
            if auth.get(src) is not None:
                ext[dst] = auth[src]
    if sources:
        ext["identitySource"] = ",".join(sources)
    if with_ext:
        scheme[_AUTHORIZER] = ext
    return scheme


def _http_operation(route: dict[str, Any], integrations: dict[str, Any], authorizers: dict[str, Any], with_ext: bool,
                    path: str) -> dict[str, Any]:
    key = route["RouteKey"]
    op: dict[str, Any] = {}
    if route.get("OperationName"):
        op["operationId"] = route["OperationName"]
    names = [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]
    if names:
        op["parameters"] = [{"name": n, "in": "path", "description": f"Generated path parameter for {n}", "required": True,
                             "schema": {"type": "string"}} for n in names]
    op["responses"] = {"default": {"description": f"Default response for {key}"}}
    kind = route.get("AuthorizationType") or "NONE"
    auth = authorizers.get(route.get("AuthorizerId") or "")
    if kind == "AWS_IAM":
        op["security"] = [{_SIGV4: []}]
    elif kind in ("CUSTOM", "JWT") and auth is not None:
        op["security"] = [{auth["Name"]: list(route.get("AuthorizationScopes") or [])}]
    target = route.get("Target") or ""
    integ = integrations.get(target.split("/", 1)[1]) if target.startswith("integrations/") else None
    if with_ext and integ is not None:
        ext: dict[str, Any] = {"type": str(integ["IntegrationType"]).lower(), "httpMethod": integ.get("IntegrationMethod") or "POST",
                               "payloadFormatVersion": integ.get("PayloadFormatVersion") or "1.0",
                               "connectionType": integ.get("ConnectionType") or "INTERNET"}
        for src, dst in (("IntegrationUri", "uri"), ("TimeoutInMillis", "timeoutInMillis"), ("CredentialsArn", "credentials"),
                         ("ConnectionId", "connectionId"), ("RequestParameters", "requestParameters")):
            if integ.get(src) is not None:
                ext[dst] = integ[src]
        op[_INTEGRATION] = ext
    return op


def export_http_api(doc: dict[str, Any], routes: dict[str, Any], integrations: dict[str, Any], *, stage: str | None,
                    include_extensions: bool, server_url: str) -> dict[str, Any]:
    """apigatewayv2 ExportApi: an OpenAPI 3.0 document of an HTTP API's routes (the stage's deployment, or
    the current ones), its authorizers and CORS; with extensions it imports back with ImportApi."""
    authorizers: dict[str, Any] = doc.get("authorizers") or {}
    version = doc.get("Version") or time.strftime("%Y-%m-%d %H:%M:%SUTC", time.gmtime(float(doc.get("CreatedDate") or 0)))
    info: dict[str, Any] = {"title": doc["Name"], "version": str(version)}
    if doc.get("Description"):
        info["description"] = doc["Description"]
    out: dict[str, Any] = {"openapi": "3.0.1", "info": info}
    if stage is None:
        out["servers"] = [{"url": server_url}]
    else:
        out["servers"] = [{"url": server_url + "/{basePath}",
                           "variables": {"basePath": {"default": "" if stage == "$default" else stage}}}]
    paths: dict[str, dict[str, Any]] = {}
    for route in sorted(routes.values(), key=lambda r: r["RouteKey"]):
        key = route["RouteKey"]
        if key == "$default":
            path, verb = "$default", _ANY
        else:
            method, _, path = key.partition(" ")
            verb = _ANY if method.upper() == "ANY" else method.lower()
        paths.setdefault(path, {})[verb] = _http_operation(route, integrations, authorizers, include_extensions, path)
    out["paths"] = paths
    schemes = {a["Name"]: _http_scheme(a, include_extensions) for a in sorted(authorizers.values(), key=lambda a: a["Name"])}
    if any((r.get("AuthorizationType") == "AWS_IAM") for r in routes.values()):
        schemes[_SIGV4] = {"type": "apiKey", "name": "Authorization", "in": "header", _AUTHTYPE: "awsSigv4"}
    if schemes:
        out["components"] = {"securitySchemes": schemes}
    cors = doc.get("CorsConfiguration")
    if include_extensions and cors:
        names = {"AllowOrigins": "allowOrigins", "AllowMethods": "allowMethods", "AllowHeaders": "allowHeaders",
                 "ExposeHeaders": "exposeHeaders", "MaxAge": "maxAge", "AllowCredentials": "allowCredentials"}
        out["x-amazon-apigateway-cors"] = {dst: cors[src] for src, dst in names.items() if cors.get(src) is not None}
    if include_extensions:
        out["x-amazon-apigateway-importexport-version"] = "1.0"
    return out
