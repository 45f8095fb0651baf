"""What rest-json and rest-xml share: HTTP bindings of members to the URI, query string, headers,
status code and payload, compiled once per operation. The body format is left to the subclass.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from botocore.model import OperationModel, ServiceModel, Shape, StructureShape

from nimbus.bytestream import ByteStream
from nimbus.errors import NotImplementedOperation, SerializationError
from nimbus.protocol.errors import InputErrorCodes
from nimbus.protocol.http import HttpRequest, HttpResponse
from nimbus.protocol.models import PRESENCE_STATUS
from nimbus.protocol.timestamps import format_timestamp, parse_timestamp


@dataclass(slots=True)
class Bindings:
    """Where each member of one input or output shape lives on the wire."""

    shape: StructureShape | None
    uri: list[tuple[str, str, Shape]] = field(default_factory=list)  # (member, label, shape)
    query: list[tuple[str, str, Shape]] = field(default_factory=list)  # (member, key, shape)
    query_map: tuple[str, Shape] | None = None
    headers: list[tuple[str, str, Shape]] = field(default_factory=list)  # (member, lower-case name, shape)
    header_maps: list[tuple[str, str]] = field(default_factory=list)  # (member, lower-case prefix)
    header_index: dict[str, list[int]] = field(default_factory=dict)  # lower-case name -> indexes in headers
    status: str | None = None
    payload: str | None = None
    payload_shape: Shape | None = None
    payload_kind: str | None = None  # "blob" | "string" | "structure" | "eventstream"
    streaming: bool = False
    body: list[tuple[str, Shape]] = field(default_factory=list)
    # output side: (member, wire name as written, shape, str values go out as they are, is Content-Type)
    out_headers: list[tuple[str, str, Shape, bool, bool]] = field(default_factory=list)
    header_positions: dict[str, int] = field(default_factory=dict)  # member -> index in out_headers


def bindings_for(shape: StructureShape | None) -> Bindings:
    plan = Bindings(shape)
    if shape is None:
        return plan
    payload = shape.serialization.get("payload")
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "uri":
            plan.uri.append((name, wire, member))
        elif location == "querystring":
            if member.type_name == "map":
                plan.query_map = (name, member)
            else:
                plan.query.append((name, wire, member))
        elif location == "header":
            plan.header_index.setdefault(wire.lower(), []).append(len(plan.headers))
            plan.headers.append((name, wire.lower(), member))
            plain = member.type_name == "string" and not member.serialization.get("jsonvalue")
            plan.header_positions[name] = len(plan.out_headers)
            plan.out_headers.append((name, wire, member, plain, wire.lower() == "content-type"))
        elif location == "headers":
            plan.header_maps.append((name, wire.lower()))
        elif location == "statusCode":
            plan.status = name
        elif name == payload:
            plan.payload = name
            plan.payload_shape = member
            if member.serialization.get("eventstream"):
                plan.payload_kind = "eventstream"
            elif member.type_name in ("blob", "string"):
                plan.payload_kind = member.type_name
                plan.streaming = bool(member.serialization.get("streaming"))
            else:
                plan.payload_kind = "structure"
        else:
            plan.body.append((name, member))
    return plan


# -- text (URI, query, header) values ---------------------------------------------------------------


def split_header_list(text: str) -> list[str]:
    """RFC 7230 list: commas separate, double quotes protect commas and escaped quotes."""
    items: list[str] = []
    current: list[str] = []
    quoted = False
    escaped = False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            items.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    items.append("".join(current).strip())
    return items


def from_text(shape: Shape, text: str, codes: InputErrorCodes, where: str) -> Any:
    kind = shape.type_name
    try:
        if kind == "string":
            if shape.serialization.get("jsonvalue"):
                return orjson.loads(base64.b64decode(text))
            return text
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
        if kind == "boolean":
            lowered = text.strip().lower()
            if lowered not in ("true", "false"):
                raise ValueError(text)
            return lowered == "true"
        if kind == "timestamp":
            return parse_timestamp(text)
        if kind == "blob":
            return base64.b64decode(text, validate=True)
        if kind == "list":
            member = shape.member  # type: ignore[attr-defined]
            return [from_text(member, item, codes, where) for item in split_header_list(text) if item != ""]
    except (ValueError, binascii.Error, orjson.JSONDecodeError, SerializationError) as exc:
        raise SerializationError(f"Invalid value for {where}: {text!r}", code=codes.malformed) from exc
    return text


def to_text(shape: Shape, value: Any, default_timestamp: str) -> str:
    kind = shape.type_name
    if kind == "timestamp":
        return str(format_timestamp(value, shape.serialization.get("timestampFormat", default_timestamp)))
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "blob":
        return base64.b64encode(value if isinstance(value, bytes) else str(value).encode()).decode("ascii")
    if kind == "list":
        member = shape.member  # type: ignore[attr-defined]
        parts = []
        for item in value:
            text = to_text(member, item, default_timestamp)
            if member.type_name == "string" and ("," in text or '"' in text):
                text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
            parts.append(text)
        return ",".join(parts)
    if kind == "string" and shape.serialization.get("jsonvalue"):
        return base64.b64encode(orjson.dumps(value)).decode("ascii")
    if kind in ("float", "double") and isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def payload_bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError(f"payload must be bytes or str, got {type(value).__name__}")


def is_async_iterable(value: Any) -> bool:
    return hasattr(value, "__aiter__")


class RestCodec:
    """Bindings half of a REST codec. Subclasses implement the body format."""

    protocol = "rest"
    body_content_type = "application/json"
    header_timestamp_format = "rfc822"
    query_timestamp_format = "iso8601"

    def __init__(self, model: ServiceModel, codes: InputErrorCodes) -> None:
        self.model = model
        self.codes = codes
        self._inputs: dict[str, Bindings] = {}
        self._outputs: dict[str, Bindings] = {}

    def input_bindings(self, operation: OperationModel) -> Bindings:
        found = self._inputs.get(operation.name)
        if found is None:
            found = self._inputs[operation.name] = bindings_for(operation.input_shape)
        return found

    def output_bindings(self, operation: OperationModel) -> Bindings:
        found = self._outputs.get(operation.name)
        if found is None:
            found = self._outputs[operation.name] = bindings_for(operation.output_shape)
        return found

    # -- body format hooks -------------------------------------------------------------------------
    def parse_body(self, operation: OperationModel, plan: Bindings, body: bytes) -> dict[str, Any]:
        raise NotImplementedError

    def parse_payload_structure(self, plan: Bindings, body: bytes) -> Any:
        raise NotImplementedError

    def serialize_body(self, operation: OperationModel, plan: Bindings, output: dict[str, Any]) -> bytes | None:
        raise NotImplementedError

    def serialize_payload_structure(self, operation: OperationModel, plan: Bindings, value: Any) -> bytes:
        raise NotImplementedError

    def response_headers(self, request_id: str) -> list[tuple[str, str]]:
        raise NotImplementedError

    # -- parse -------------------------------------------------------------------------------------
    def parse(
        self, operation: OperationModel, request: HttpRequest, path_params: dict[str, str] | None
    ) -> dict[str, Any]:
        plan = self.input_bindings(operation)
        codes = self.codes
        params: dict[str, Any] = {}
        if plan.uri and path_params:
            for name, label, shape in plan.uri:
                text = path_params.get(label)
                if text is not None:
                    params[name] = from_text(shape, text, codes, f"URI label {label}")
        if (plan.query or plan.query_map) and request.query:
            query = request.query
            used: set[str] = set()
            for name, key, shape in plan.query:
                used.add(key)
                if shape.type_name == "list":
                    values = [v for k, v in query if k == key]
                    if values:
                        member = shape.member  # type: ignore[attr-defined]
                        params[name] = [from_text(member, v, codes, f"query {key}") for v in values]
                else:
                    for k, v in query:
                        if k == key:
                            params[name] = from_text(shape, v, codes, f"query {key}")
                            break
            if plan.query_map is not None:
                map_name, map_shape = plan.query_map
                value_shape = map_shape.value  # type: ignore[attr-defined]
                collected: dict[str, Any] = {}
                for k, v in query:
                    if k in used:
                        continue
                    if value_shape.type_name == "list":
                        collected.setdefault(k, []).append(v)
                    else:
                        collected.setdefault(k, v)
                if collected:
                    params[map_name] = collected
        if plan.headers or plan.header_maps:
            headers = request.headers
            bound = plan.headers
            if len(headers) < len(bound):
                # visit only the bound headers the request carries (S3 binds dozens), in model order
                index = plan.header_index
                hits = [i for h in headers if h in index for i in index[h]]
                if len(hits) > 1:
                    hits.sort()
                bound = [bound[i] for i in hits]
            for name, header, shape in bound:
                text = headers.get(header)
                if text is not None:
                    if shape.type_name == "list" and text == "":
                        continue
                    params[name] = from_text(shape, text, codes, f"header {header}")
            for name, prefix in plan.header_maps:
                found = {k[len(prefix) :]: v for k, v in headers.items() if k.startswith(prefix)}
                if found:
                    params[name] = found
        body = request.body
        if plan.payload is not None:
            if plan.payload_kind in ("blob", "string"):
                if plan.streaming:
                    if isinstance(body, (bytes, bytearray)):
                        body = ByteStream.from_bytes(bytes(body))
                    params[plan.payload] = body
                else:
                    raw = self._require_bytes(body)
                    if raw:
                        params[plan.payload] = raw if plan.payload_kind == "blob" else raw.decode("utf-8", "replace")
            elif plan.payload_kind == "structure":
                raw = self._require_bytes(body)
                if raw and not raw.isspace():
                    params[plan.payload] = self.parse_payload_structure(plan, raw)
        elif plan.body:
            params.update(self.parse_body(operation, plan, self._require_bytes(body)))
        return params

    def _require_bytes(self, body: Any) -> bytes:
        if isinstance(body, (bytes, bytearray)):
            return bytes(body)
        raise SerializationError("request body was not read before parsing", code=self.codes.malformed)

    # -- event streams (Lambda InvokeWithResponseStream) -------------------------------------------
    def _event_stream(self, stream: StructureShape, events: Any) -> AsyncIterator[bytes]:
        """Each ``{EventName: payload}`` the service yields as one message (rest protocols send no
        ``initial-response``: the output's other members are headers)."""
        from nimbus.protocol.eventstream import event_message, event_stream

        def message(name: str, payload: Any) -> bytes:
            return event_message(name, *self.event_body(stream.members[name], payload))

        return event_stream(events, message)

    def event_body(self, shape: Shape, payload: dict[str, Any]) -> tuple[bytes, str]:
        """One event's message payload and content type: its ``eventpayload`` member as is (a blob as
        bytes, a string as text), else the event's members as the protocol's body document."""
        assert isinstance(shape, StructureShape)
        for name, member in shape.members.items():
            if member.serialization.get("eventpayload"):
                value = payload.get(name)
                if member.type_name == "blob":
                    return payload_bytes(value) if value is not None else b"", "application/octet-stream"
                if member.type_name == "string":
                    return (value or "").encode("utf-8"), "text/plain"
        return self.serialize_event_members(shape, payload), self.body_content_type

    def serialize_event_members(self, shape: StructureShape, payload: dict[str, Any]) -> bytes:
        raise NotImplementedOperation(f"Event stream responses are not supported by {self.protocol}")

    # -- serialize ---------------------------------------------------------------------------------
    def serialize(self, operation: OperationModel, output: dict[str, Any] | None, request_id: str) -> HttpResponse:
        plan = self.output_bindings(operation)
        status = int(operation.http.get("responseCode", 200))
        headers = self.response_headers(request_id)
        has_content_type = any(h.lower() == "content-type" for h, _ in headers)
        output = output or {}
        members = plan.out_headers
        if len(output) < len(members):
            # visit only the members present (outputs set a few of S3's dozens of headers), in model order
            positions = plan.header_positions
            present = sorted([i for i in map(positions.get, output) if i is not None])
            members = [members[i] for i in present]
        for name, wire, shape, plain, is_content_type in members:
            value = output.get(name)
            if value is not None:
                if plain and type(value) is str:
                    headers.append((wire, value))
                elif shape.type_name == "list" and not value:
                    continue
                else:
                    headers.append((wire, to_text(shape, value, self.header_timestamp_format)))
                has_content_type = has_content_type or is_content_type
        for name, prefix in plan.header_maps:
            value = output.get(name)
            if value:
                wire_prefix = plan.shape.members[name].serialization.get("name", prefix) if plan.shape else prefix
                for key, item in value.items():
                    if item is not None:
                        headers.append((wire_prefix + key, str(item)))
                        has_content_type = has_content_type or (wire_prefix + key).lower() == "content-type"
        if plan.status is not None and output.get(plan.status) is not None:
            status = int(output[plan.status])
        presence = PRESENCE_STATUS.get(self.model.service_name, {}).get(operation.name)
        if presence is not None and output.get(presence[0]) is not None:
            status = presence[1]
        body: bytes | AsyncIterator[bytes] = b""
        if plan.payload is not None:
            value = output.get(plan.payload)
            if plan.payload_kind in ("blob", "string"):
                if value is not None:
                    if isinstance(value, ByteStream):
                        body = value.chunks()
                    elif is_async_iterable(value):
                        body = value
                    else:
                        body = payload_bytes(value)
                    if not has_content_type:
                        headers.append(
                            ("Content-Type", "application/octet-stream" if plan.payload_kind == "blob" else "text/plain")
                        )
            elif plan.payload_kind == "structure":
                if value is not None:
                    body = self.serialize_payload_structure(operation, plan, value)
                    if not has_content_type:
                        headers.append(("Content-Type", self.body_content_type))
            elif plan.payload_kind == "eventstream":
                if value is not None:
                    assert isinstance(plan.payload_shape, StructureShape)
                    body = self._event_stream(plan.payload_shape, value)
                    if not has_content_type:
                        headers.append(("Content-Type", "application/vnd.amazon.eventstream"))
        elif plan.body and status != 204:
            encoded = self.serialize_body(operation, plan, output)
            if encoded is not None:
                body = encoded
                if not has_content_type:
                    headers.append(("Content-Type", self.body_content_type))
        return HttpResponse(status=status, headers=headers, body=body)
