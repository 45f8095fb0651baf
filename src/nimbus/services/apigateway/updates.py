"""Patch operations on REST API records that are not the API itself: resources (move, rename),
integrations, method and integration responses, deployments. Each applies AWS's JSON-patch subset
(``op`` add / replace / remove on ``path``, ``~1`` for ``/`` in keys) to the record inside the API
document and saves it in one write; an unknown path is a ``BadRequestException``.
"""

from __future__ import annotations

from typing import Any

from nimbus.services.apigateway.errors import BadRequestException, ConflictException, NotFoundException
from nimbus.services.apigateway.restapis import API, DEFAULT_TIMEOUT_MS, DEPLOYMENT, INTEGRATION_TYPES, RestApis, _unescape


def _map_op(record: dict[str, Any], key: str, path: str, op: dict[str, Any], *, as_bool: bool = False) -> bool:
    """``/{key}/{name}`` operations on a map field; True when the path was one."""
    prefix = f"/{key}/"
    if not path.startswith(prefix):
        return False
    name = _unescape(path[len(prefix):])
    target = record.setdefault(key, {})
    if op.get("op", "replace") == "remove":
        target.pop(name, None)
    else:
        value = op.get("value")
        target[name] = str(value).lower() == "true" if as_bool else ("" if value is None else str(value))
    if not target:
        record.pop(key, None)
    return True


class RestUpdates:
    def __init__(self, rest: RestApis) -> None:
        self.rest = rest

    def _save(self, doc: dict[str, Any]) -> None:
        self.rest.db.put(API, doc["id"], doc)
        self.rest._changed()

    def _method(self, api_id: str, account: str, resource_id: str, http_method: str) -> tuple[dict[str, Any], dict[str, Any]]:
        doc = self.rest.get_api(api_id, account)
        return doc, self.rest._method(self.rest._resource(doc, resource_id), http_method)

    # --- resources ---------------------------------------------------------------------------------

    def update_resource(self, api_id: str, account: str, resource_id: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        doc = self.rest.get_api(api_id, account)
        res = self.rest._resource(doc, resource_id)
        if resource_id == doc["rootResourceId"]:
            raise BadRequestException("The root resource cannot be updated")
        part, parent_id = res["pathPart"], res["parentId"]
        for op in ops:
            path, value = op.get("path", ""), op.get("value")
            if op.get("op", "replace") != "replace" or path not in ("/pathPart", "/parentId"):
                raise BadRequestException(f"Invalid patch operation specified. Must be one of: [replace] on /pathPart or /parentId, got {op.get('op')} {path}")
            if path == "/pathPart":
                part = str(value or "")
            else:
                parent_id = str(value or "")
        parent = self.rest._resource(doc, parent_id)
        if parent["path"] == res["path"] or parent["path"].startswith(res["path"] + "/"):
            raise BadRequestException("A resource cannot be moved under itself")
        if parent["path"].endswith("+}"):
            raise BadRequestException("Cannot create a child of a resource with a greedy path variable")
        if not part or "/" in part:
            raise BadRequestException(f"Resource's path part only allow a-zA-Z0-9._- and curly braces at the beginning and the end and an optional plus sign before the closing brace. Got: {part}")
        for s in doc["resources"].values():
            if s.get("parentId") == parent_id and s["id"] != resource_id:
                if s["pathPart"] == part:
                    raise ConflictException(f"Another resource with the same parent already has this name: {part}")
                if part.startswith("{") and s["pathPart"].startswith("{"):
                    raise BadRequestException(f"A sibling ({s['pathPart']}) of this resource already has a variable path part -- only one is allowed")
        old_path = res["path"]
        new_path = ("" if parent["path"] == "/" else parent["path"]) + "/" + part
        res.update(pathPart=part, parentId=parent_id, path=new_path)
        for other in doc["resources"].values():  # descendants follow
            if other["path"].startswith(old_path + "/"):
                other["path"] = new_path + other["path"][len(old_path):]
        self._save(doc)
        return res

    # --- integrations ------------------------------------------------------------------------------

    def update_integration(self, api_id: str, account: str, resource_id: str, http_method: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        doc, method = self._method(api_id, account, resource_id, http_method)
        integ = method.get("methodIntegration")
        if integ is None:
            raise NotFoundException("Invalid Integration identifier specified")
        for op in ops:
            path, value, kind = op.get("path", ""), op.get("value"), op.get("op", "replace")
            if _map_op(integ, "requestTemplates", path, op) or _map_op(integ, "requestParameters", path, op):
                continue
            if path.startswith("/cacheKeyParameters/"):
                name = _unescape(path[len("/cacheKeyParameters/"):])
                keys = [k for k in integ.get("cacheKeyParameters", []) if k != name]
                integ["cacheKeyParameters"] = keys + ([name] if kind != "remove" else [])
            elif path == "/timeoutInMillis":
                try:
                    timeout = int(str(value))
                except ValueError:
                    raise BadRequestException(f"Invalid value '{value}' for patch path {path}: expected a number") from None
                if not 50 <= timeout <= DEFAULT_TIMEOUT_MS:
                    raise BadRequestException("Timeout should be between 50 ms and 29000 ms")
                integ["timeoutInMillis"] = timeout
            elif path == "/type":
                if str(value) not in INTEGRATION_TYPES:
                    raise BadRequestException(f"Invalid integration type specified: {value}")
                integ["type"] = str(value)
            elif path == "/httpMethod":
                integ["httpMethod"] = str(value).upper()
            elif path in ("/uri", "/credentials", "/passthroughBehavior", "/contentHandling", "/cacheNamespace",
                          "/connectionType", "/connectionId"):
                if kind == "remove":
                    integ.pop(path[1:], None)
                else:
                    integ[path[1:]] = value
            else:
                raise BadRequestException(f"Invalid patch path {path}")
        if integ["type"] in ("AWS", "AWS_PROXY", "HTTP", "HTTP_PROXY") and not integ.get("uri"):
            raise BadRequestException("Enumeration value for Integration uri must be non-empty")
        self._save(doc)
        return integ

    # --- method and integration responses ---------------------------------------------------------

    @staticmethod
    def _response(holder: dict[str, Any], key: str, status: str) -> dict[str, Any]:
        resp: dict[str, Any] | None = (holder.get(key) or {}).get(status)
        if resp is None:
            raise NotFoundException("Invalid Response status code specified")
        return resp

    def get_method_response(self, api_id: str, account: str, resource_id: str, http_method: str, status: str) -> dict[str, Any]:
        return self._response(self._method(api_id, account, resource_id, http_method)[1], "methodResponses", status)

    def update_method_response(self, api_id: str, account: str, resource_id: str, http_method: str, status: str,
                               ops: list[dict[str, Any]]) -> dict[str, Any]:
        doc, method = self._method(api_id, account, resource_id, http_method)
        resp = self._response(method, "methodResponses", status)
        for op in ops:
            path = op.get("path", "")
            if not (_map_op(resp, "responseParameters", path, op, as_bool=True) or _map_op(resp, "responseModels", path, op)):
                raise BadRequestException(f"Invalid patch path {path}")
        self._save(doc)
        return resp

    def delete_method_response(self, api_id: str, account: str, resource_id: str, http_method: str, status: str) -> None:
        doc, method = self._method(api_id, account, resource_id, http_method)
        self._response(method, "methodResponses", status)
        del method["methodResponses"][status]
        self._save(doc)

    def _integration(self, method: dict[str, Any]) -> dict[str, Any]:
        integ: dict[str, Any] | None = method.get("methodIntegration")
        if integ is None:
            raise NotFoundException("Invalid Integration identifier specified")
        return integ

    def get_integration_response(self, api_id: str, account: str, resource_id: str, http_method: str, status: str) -> dict[str, Any]:
        method = self._method(api_id, account, resource_id, http_method)[1]
        return self._response(self._integration(method), "integrationResponses", status)

    def update_integration_response(self, api_id: str, account: str, resource_id: str, http_method: str, status: str,
                                    ops: list[dict[str, Any]]) -> dict[str, Any]:
        doc, method = self._method(api_id, account, resource_id, http_method)
        resp = self._response(self._integration(method), "integrationResponses", status)
        for op in ops:
            path, value, kind = op.get("path", ""), op.get("value"), op.get("op", "replace")
            if _map_op(resp, "responseTemplates", path, op) or _map_op(resp, "responseParameters", path, op):
                continue
            if path in ("/selectionPattern", "/contentHandling"):
                if kind == "remove":
                    resp.pop(path[1:], None)
                else:
                    resp[path[1:]] = value
            else:
                raise BadRequestException(f"Invalid patch path {path}")
        self._save(doc)
        return resp

    def delete_integration_response(self, api_id: str, account: str, resource_id: str, http_method: str, status: str) -> None:
        doc, method = self._method(api_id, account, resource_id, http_method)
        integ = self._integration(method)
        self._response(integ, "integrationResponses", status)
        del integ["integrationResponses"][status]
        self._save(doc)

    # --- deployments -------------------------------------------------------------------------------

    def update_deployment(self, api_id: str, account: str, dep_id: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        dep = self.rest.get_deployment(api_id, account, dep_id)
        for op in ops:
            path, value = op.get("path", ""), op.get("value")
            if path != "/description":
                raise BadRequestException(f"Invalid patch path {path}")
            if op.get("op", "replace") == "remove":
                dep.pop("description", None)
            else:
                dep["description"] = value
        self.rest.db.put(DEPLOYMENT, f"{api_id}/{dep_id}", dep)
        self.rest._changed()
        return dep
