"""REST API documentation: parts (CreateDocumentationPart & co., ImportDocumentationParts) and versions
(CreateDocumentationVersion & co.). Recorded only: Nimbus publishes no documentation (GetExport does not
add it).

A part documents one location of the API (``type`` and, as the type allows, ``path``, ``method``,
``statusCode``, ``name``) with ``properties``, a JSON object as text. Parts are metadata documents of
their own (``apigw.docpart``, key ``{api}/{id}``), so a big documentation set does not weigh on every
read of the API; a version (``apigw.docversion``, key ``{api}/{version}``) is a snapshot of the parts.
DeleteRestApi deletes both.
"""

from __future__ import annotations

import re
import time
from typing import Any

import orjson

from nimbus.services.apigateway import ids
from nimbus.services.apigateway.errors import BadRequestException, ConflictException, NotFoundException
from nimbus.services.apigateway.restapis import DOC_PART, DOC_VERSION, HTTP_METHODS, STAGE, RestApis

PART_ID_LEN = 6
_EXTENSION = "x-amazon-apigateway-documentation"
_STATUS = re.compile(r"[1-5]\d\d")
# the location fields each type takes (AWS's DocumentationPartLocation); name is required where it is valid
_FIELDS: dict[str, tuple[str, ...]] = {
    "API": (),
    "AUTHORIZER": ("name",),
    "MODEL": ("name",),
    "RESOURCE": ("path",),
    "METHOD": ("path", "method"),
    "PATH_PARAMETER": ("path", "method", "name"),
    "QUERY_PARAMETER": ("path", "method", "name"),
    "REQUEST_HEADER": ("path", "method", "name"),
    "REQUEST_BODY": ("path", "method"),
    "RESPONSE": ("path", "method", "statusCode"),
    "RESPONSE_HEADER": ("path", "method", "statusCode", "name"),
    "RESPONSE_BODY": ("path", "method", "statusCode"),
}
_DEFAULTS = {"path": "/", "method": "*", "statusCode": "*"}


def location(raw: Any) -> dict[str, str]:
    """A location with AWS's defaults filled in (``path`` ``/``, ``method`` and ``statusCode`` ``*``);
    a field the type does not take, a missing name, or a malformed value is a BadRequestException."""
    if not isinstance(raw, dict):
        raise BadRequestException("Invalid documentation part location: expected an object")
    kind = raw.get("type")
    if kind not in _FIELDS:
        raise BadRequestException(f"Invalid documentation part location type: {kind}. Valid values: {', '.join(_FIELDS)}")
    fields = _FIELDS[kind]
    out: dict[str, str] = {"type": kind}
    for k in ("path", "method", "statusCode", "name"):
        value = raw.get(k)
        if value is None:
            if k == "name" and k in fields:
                raise BadRequestException(f"Invalid documentation part location: a {kind} location needs a name")
            if k in fields:
                out[k] = _DEFAULTS[k]
            continue
        if k not in fields:
            raise BadRequestException(f"Invalid documentation part location: {k} is not valid for type {kind}")
        value = str(value)
        if k == "path" and not value.startswith("/"):
            raise BadRequestException(f"Invalid documentation part location: path {value} must start with /")
        if k == "method":
            value = value.upper()
            if value != "*" and value not in HTTP_METHODS:
                raise BadRequestException(f"Invalid documentation part location: method {value}")
        if k == "statusCode" and value != "*" and not _STATUS.fullmatch(value):
            raise BadRequestException(f"Invalid documentation part location: statusCode {value}")
        if k == "name" and not value:
            raise BadRequestException("Invalid documentation part location: name must not be empty")
        out[k] = value
    return out


def _properties(value: Any) -> str:
    """``properties`` as stored: a JSON object's text (an object given by an import is serialized)."""
    if isinstance(value, dict):
        return orjson.dumps(value).decode()
    if isinstance(value, str):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            return value
    raise BadRequestException("Invalid documentation part properties: expected a JSON object")


def _key(loc: dict[str, str]) -> tuple[str, ...]:
    return tuple(loc.get(k, "") for k in ("type", "path", "method", "statusCode", "name"))


def part_out(part: dict[str, Any]) -> dict[str, Any]:
    return {k: part[k] for k in ("id", "location", "properties") if k in part}


def version_out(version: dict[str, Any]) -> dict[str, Any]:
    return {k: version[k] for k in ("version", "createdDate", "description") if k in version}


class Documentation:
    def __init__(self, rest: RestApis) -> None:
        self.rest = rest
        self.db = rest.db

    # --- parts ------------------------------------------------------------------------------------

    def _parts(self, api_id: str) -> list[dict[str, Any]]:
        return [p for _, p in self.db.list(DOC_PART, f"{api_id}/")]

    def _new_id(self, api_id: str) -> str:
        part_id = ids.new_id(PART_ID_LEN)
        while self.db.get(DOC_PART, f"{api_id}/{part_id}") is not None:
            part_id = ids.new_id(PART_ID_LEN)
        return part_id

    def create_part(self, api_id: str, account: str, params: dict[str, Any]) -> dict[str, Any]:
        self.rest.get_api(api_id, account)
        loc = location(params["location"])
        props = _properties(params.get("properties"))
        if any(_key(p["location"]) == _key(loc) for p in self._parts(api_id)):
            raise ConflictException("Documentation part already exists for the specified location")
        part = {"id": self._new_id(api_id), "location": loc, "properties": props}
        self.db.put(DOC_PART, f"{api_id}/{part['id']}", part)
        return part

    def get_part(self, api_id: str, account: str, part_id: str) -> dict[str, Any]:
        self.rest.get_api(api_id, account)
        part: dict[str, Any] | None = self.db.get(DOC_PART, f"{api_id}/{part_id}")
        if part is None:
            raise NotFoundException("Invalid Documentation part identifier specified")
        return part

    def list_parts(self, api_id: str, account: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """GetDocumentationParts: filtered by ``type``, ``nameQuery`` (a prefix of the location's name) and
        ``path``; ``locationStatus`` UNDOCUMENTED lists the API's entities (the API, resources, methods,
        models, authorizers) that no part documents, as locations without an id."""
        api = self.rest.get_api(api_id, account)
        parts = sorted(self._parts(api_id), key=lambda p: _key(p["location"]))
        if params.get("locationStatus") == "UNDOCUMENTED":
            documented = {_key(p["location"]) for p in parts}
            parts = [{"location": loc} for loc in _entities(api) if _key(loc) not in documented]

        def keep(p: dict[str, Any]) -> bool:
            loc = p["location"]
            return ((not params.get("type") or loc["type"] == params["type"])
                    and (not params.get("nameQuery") or str(loc.get("name", "")).startswith(params["nameQuery"]))
                    and (not params.get("path") or loc.get("path") == params["path"]))
        return [p for p in parts if keep(p)]

    def update_part(self, api_id: str, account: str, part_id: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        part = self.get_part(api_id, account, part_id)
        for op in ops:
            path, kind = op.get("path", ""), op.get("op", "replace")
            if path != "/properties" or kind != "replace":
                raise BadRequestException(f"Invalid patch path {path}: only replace /properties is supported")
            part["properties"] = _properties(op.get("value"))
        self.db.put(DOC_PART, f"{api_id}/{part_id}", part)
        return part

    def delete_part(self, api_id: str, account: str, part_id: str) -> None:
        self.get_part(api_id, account, part_id)
        self.db.delete(DOC_PART, f"{api_id}/{part_id}")

    def import_parts(self, api_id: str, account: str, params: dict[str, Any]) -> dict[str, Any]:
        """ImportDocumentationParts: the ``x-amazon-apigateway-documentation`` extension of an OpenAPI or
        Swagger document. ``overwrite`` replaces every part; ``merge`` (the default) replaces the properties
        of parts at the same location and adds the others. All or nothing."""
        from nimbus.services.apigateway.openapi import load_document

        self.rest.get_api(api_id, account)
        body = params.get("body") or b""
        doc = load_document(body if isinstance(body, bytes) else str(body).encode())
        ext = doc.get(_EXTENSION)
        if not isinstance(ext, dict) or not isinstance(ext.get("documentationParts"), list):
            raise BadRequestException(f"Invalid documentation import: no {_EXTENSION}.documentationParts in the document")
        warnings: list[str] = []
        wanted: list[tuple[dict[str, str], str]] = []
        for n, raw in enumerate(ext["documentationParts"]):
            try:
                wanted.append((location((raw or {}).get("location") if isinstance(raw, dict) else None),
                               _properties((raw or {}).get("properties") if isinstance(raw, dict) else None)))
            except BadRequestException as e:
                warnings.append(f"Documentation part {n} skipped: {e.message}")
        if warnings and params.get("failOnWarnings"):
            raise BadRequestException("Warnings found during import:\n\t" + "\n\t".join(warnings))
        existing = {} if params.get("mode") == "overwrite" else {_key(p["location"]): p for p in self._parts(api_id)}
        written: list[str] = []
        with self.db.transaction():
            if params.get("mode") == "overwrite":
                for p in self._parts(api_id):
                    self.db.delete(DOC_PART, f"{api_id}/{p['id']}")
            for loc, props in wanted:
                part = existing.get(_key(loc))
                if part is None:
                    part = {"id": self._new_id(api_id), "location": loc}
                    existing[_key(loc)] = part
                part["properties"] = props
                self.db.put(DOC_PART, f"{api_id}/{part['id']}", part)
                if part["id"] not in written:
                    written.append(part["id"])
        out: dict[str, Any] = {"ids": written}
        if warnings:
            out["warnings"] = warnings
        return out

    # --- versions ---------------------------------------------------------------------------------

    def create_version(self, api_id: str, account: str, params: dict[str, Any]) -> dict[str, Any]:
        self.rest.get_api(api_id, account)
        name = str(params["documentationVersion"]).strip()
        if not name or "/" in name:
            raise BadRequestException(f"Invalid documentation version specified: {params['documentationVersion']!r}")
        stage_name = params.get("stageName")
        stage = self.rest.get_stage(api_id, account, stage_name) if stage_name else None
        version: dict[str, Any] = {"version": name, "createdDate": time.time(), "parts": self._parts(api_id)}
        if params.get("description") is not None:
            version["description"] = params["description"]
        with self.db.transaction():
            if not self.db.insert(DOC_VERSION, f"{api_id}/{name}", version):
                raise ConflictException(f"Documentation version {name} already exists")
            if stage is not None:
                stage["documentationVersion"] = name
                self.db.put(STAGE, f"{api_id}/{stage_name}", stage)
        self.rest._changed()
        return version

    def get_version(self, api_id: str, account: str, name: str) -> dict[str, Any]:
        self.rest.get_api(api_id, account)
        version: dict[str, Any] | None = self.db.get(DOC_VERSION, f"{api_id}/{name}")
        if version is None:
            raise NotFoundException("Invalid Documentation version identifier specified")
        return version

    def list_versions(self, api_id: str, account: str) -> list[dict[str, Any]]:
        self.rest.get_api(api_id, account)
        return sorted((v for _, v in self.db.list(DOC_VERSION, f"{api_id}/")), key=lambda v: v["version"])

    def update_version(self, api_id: str, account: str, name: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        version = self.get_version(api_id, account, name)
        for op in ops:
            path, kind = op.get("path", ""), op.get("op", "replace")
            if path != "/description":
                raise BadRequestException(f"Invalid patch path {path}: only /description can be updated")
            if kind == "remove" or op.get("value") is None:
                version.pop("description", None)
            else:
                version["description"] = str(op["value"])
        self.db.put(DOC_VERSION, f"{api_id}/{name}", version)
        return version

    def delete_version(self, api_id: str, account: str, name: str) -> None:
        """Deletes the snapshot; stages that named it no longer name a documentation version."""
        self.get_version(api_id, account, name)
        with self.db.transaction():
            self.db.delete(DOC_VERSION, f"{api_id}/{name}")
            for key, stage in self.db.list(STAGE, f"{api_id}/"):
                if stage.get("documentationVersion") == name:
                    del stage["documentationVersion"]
                    self.db.put(STAGE, key, stage)
        self.rest._changed()


def _entities(api: dict[str, Any]) -> list[dict[str, str]]:
    """The locations of an API's own entities (what UNDOCUMENTED compares against)."""
    out: list[dict[str, str]] = [{"type": "API"}]
    for res in sorted(api["resources"].values(), key=lambda r: r["path"]):
        out.append({"type": "RESOURCE", "path": res["path"]})
        for verb in sorted(res.get("resourceMethods") or {}):
            out.append({"type": "METHOD", "path": res["path"], "method": verb})
    out.extend({"type": "MODEL", "name": name} for name in sorted(api.get("models") or {}))
    out.extend({"type": "AUTHORIZER", "name": a["name"]} for a in sorted((api.get("authorizers") or {}).values(), key=lambda a: a["name"]))
    return out
