"""The AWS query protocol (IAM, STS): form-encoded requests, XML responses.

A request is ``Action=CreateRole&Version=2010-05-08&RoleName=r&Tags.member.1.Key=k...``, in a
``application/x-www-form-urlencoded`` body or in the query string (both are read; the body wins). Its
members are flattened the way botocore's ``QuerySerializer`` writes them:

  structure  ``Prefix.Member`` (the member's ``locationName`` if it has one)
  list       ``Prefix.member.N`` (N from 1; ``member`` is the list member's ``locationName`` if set),
             ``Prefix.N`` when flattened; an empty list is ``Prefix=``
  map        ``Prefix.entry.N.key`` / ``Prefix.entry.N.value`` (``Prefix.N.key`` when flattened)
  scalars    booleans ``true``/``false``, timestamps ISO 8601, blobs base64

The answer is ``<{Action}Response xmlns="{the model's xmlNamespace}"><{Action}Result>...</{Action}Result>
<ResponseMetadata><RequestId>..</RequestId></ResponseMetadata></{Action}Response>`` (the Result element
is the output shape's ``resultWrapper``), written by the rest-xml shape writers: non-flattened lists wrap
their items in ``<member>``, maps in ``<entry><key/><value/></entry>``. Errors are
``<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`` (protocol/errors.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import quoteattr

from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from nimbus.errors import SerializationError, ServiceError
from nimbus.protocol.errors import InputErrorCodes
from nimbus.protocol.http import HttpRequest, HttpResponse
from nimbus.protocol.json import shape_key
from nimbus.protocol.rest import from_text
from nimbus.protocol.restxml import XmlShapes, member_key
from nimbus.protocol.timestamps import to_iso8601_seconds

# (flat parameters, the set of every dotted prefix of their names, prefix) -> value, or _ABSENT
QueryReader = Callable[[dict[str, str], set[str], str], Any]
_ABSENT = object()
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def form_parameters(request: HttpRequest, malformed: str = "MalformedQueryString") -> dict[str, str]:
    """The request's parameters: the query string's, then the form body's over them. A body that is not
    a form (another content type) is not read as one."""
    flat: dict[str, str] = {}
    for key, value in request.query:
        flat[key] = value
    body = request.body
    if isinstance(body, (bytes, bytearray)) and body:
        content_type = request.headers.get("content-type", FORM_CONTENT_TYPE)
        if not content_type.lower().startswith(FORM_CONTENT_TYPE):
            raise SerializationError(
                f"The content type {content_type!r} is not supported: send the parameters as "
                f"{FORM_CONTENT_TYPE} or in the query string.",
                code=malformed,
            )
        try:
            text = bytes(body).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SerializationError("The request body is not valid UTF-8.", code=malformed) from exc
        for key, value in parse_qsl(text, keep_blank_values=True):
            flat[key] = value
    return flat


def _prefixes(flat: dict[str, str]) -> set[str]:
    """Every dotted prefix of every parameter name ("A.member.1.B" gives "A", "A.member", "A.member.1"
    and itself), so that whether a member is present at all is one set lookup."""
    found: set[str] = set()
    for key in flat:
        found.add(key)
        cut = key.rfind(".")
        while cut > 0:
            head = key[:cut]
            if head in found:
                break
            found.add(head)
            cut = key.rfind(".", 0, cut)
    return found


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


class QueryCodec:
    protocol = "query"

    def __init__(self, model: ServiceModel, codes: InputErrorCodes) -> None:
        self.model = model
        self.codes = codes
        self.shapes = XmlShapes(codes, to_iso8601_seconds)
        self.namespace: str = str(model.metadata.get("xmlNamespace", ""))
        self.version: str = str(model.metadata.get("apiVersion", ""))
        self._readers: dict[str, QueryReader] = {}
        self._writers: dict[str, Callable[[dict[str, Any], list[str]], None]] = {}

    # -- requests ----------------------------------------------------------------------------------
    def action(self, flat: dict[str, str]) -> str:
        """The operation a request names (``Action``): missing or unknown is the caller's error."""
        action = flat.get("Action")
        if not action:
            raise ServiceError("The request must contain the parameter Action.", code="MissingAction", status=400)
        if action not in self.model.operation_names:
            raise ServiceError(
                f"Could not find operation {action} for version {flat.get('Version') or self.version}",
                code="InvalidAction", status=400,
            )
        return action

    def parse(self, operation: OperationModel, flat: dict[str, str]) -> dict[str, Any]:
        shape = operation.input_shape
        if shape is None:
            return {}
        value = self.reader(shape)(flat, _prefixes(flat), "")
        return {} if value is _ABSENT else value  # type: ignore[no-any-return]

    def reader(self, shape: Shape) -> QueryReader:
        key = shape_key(shape)
        found = self._readers.get(key)
        if found is not None:
            return found
        cell: list[QueryReader] = []
        self._readers[key] = lambda flat, present, prefix: cell[0](flat, present, prefix)
        compiled = self._compile(shape)
        cell.append(compiled)
        self._readers[key] = compiled
        return compiled

    def _compile(self, shape: Shape) -> QueryReader:
        if isinstance(shape, StructureShape):
            plan = [
                (name, str(member.serialization.get("name", name)), self.reader(member))
                for name, member in shape.members.items()
            ]

            def read_structure(flat: dict[str, str], present: set[str], prefix: str) -> Any:
                if prefix and prefix not in present:
                    return _ABSENT
                out: dict[str, Any] = {}
                for name, wire, read in plan:
                    value = read(flat, present, _join(prefix, wire))
                    if value is not _ABSENT:
                        out[name] = value
                return out

            return read_structure
        if isinstance(shape, ListShape):
            read_member = self.reader(shape.member)
            flattened = bool(shape.serialization.get("flattened"))
            member_name = shape.member.serialization.get("name")

            def read_list(flat: dict[str, str], present: set[str], prefix: str) -> Any:
                if flattened:
                    base = prefix if not member_name else ".".join(prefix.split(".")[:-1] + [str(member_name)])
                else:
                    base = f"{prefix}.{member_name or 'member'}"
                if f"{base}.1" not in present:
                    return [] if prefix in present else _ABSENT  # "Prefix=": the empty list
                items: list[Any] = []
                index = 1
                while f"{base}.{index}" in present:
                    item = read_member(flat, present, f"{base}.{index}")
                    if item is not _ABSENT:
                        items.append(item)
                    index += 1
                return items

            return read_list
        if isinstance(shape, MapShape):
            read_key = self.reader(shape.key)
            read_value = self.reader(shape.value)
            key_name = str(shape.key.serialization.get("name", "key"))
            value_name = str(shape.value.serialization.get("name", "value"))
            flattened = bool(shape.serialization.get("flattened"))

            def read_map(flat: dict[str, str], present: set[str], prefix: str) -> Any:
                if prefix not in present:
                    return _ABSENT
                base = prefix if flattened else f"{prefix}.entry"
                out: dict[Any, Any] = {}
                index = 1
                while f"{base}.{index}" in present:
                    k = read_key(flat, present, f"{base}.{index}.{key_name}")
                    v = read_value(flat, present, f"{base}.{index}.{value_name}")
                    if k is not _ABSENT:
                        out[k] = None if v is _ABSENT else v
                    index += 1
                return out

            return read_map
        return self._scalar(shape)

    def _scalar(self, shape: Shape) -> QueryReader:
        codes = self.codes

        def read_scalar(flat: dict[str, str], present: set[str], prefix: str) -> Any:
            text = flat.get(prefix)
            if text is None:
                return _ABSENT
            try:
                return from_text(shape, text, codes, prefix)  # the REST codecs' reading of a header or query value
            except SerializationError as exc:
                where = prefix[:1].lower() + prefix[1:]
                raise ServiceError(
                    f"1 validation error detected: Value at '{where}' failed to satisfy constraint: "
                    f"Member must be a valid {shape.type_name}",
                    code=codes.invalid, status=400,
                ) from exc

        return read_scalar

    # -- responses ---------------------------------------------------------------------------------
    def serialize(self, operation: OperationModel, output: dict[str, Any] | None, request_id: str) -> HttpResponse:
        name = operation.name
        ns = f" xmlns={quoteattr(self.namespace)}" if self.namespace else ""
        parts = [f"<{name}Response{ns}>"]
        shape = operation.output_shape
        if shape is not None:
            write = self._writers.get(name)
            if write is None:
                write = self._writers[name] = self._result_writer(shape)
            write(output or {}, parts)
        parts.append(f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{name}Response>")
        return HttpResponse(
            200, [("x-amzn-RequestId", request_id), ("Content-Type", "text/xml")], "".join(parts).encode("utf-8")
        )

    def _result_writer(self, shape: Shape) -> Callable[[dict[str, Any], list[str]], None]:
        assert isinstance(shape, StructureShape)
        wrapper = str(shape.serialization.get("resultWrapper") or "")
        members = [
            (name, member_key(member, name), self.shapes.writer(member))
            for name, member in shape.members.items()
        ]

        def write_result(output: dict[str, Any], parts: list[str]) -> None:
            if wrapper:
                parts.append(f"<{wrapper}>")
            for name, wire, write in members:
                value = output.get(name)
                if value is not None:
                    write(wire, value, parts)
            if wrapper:
                parts.append(f"</{wrapper}>")

        return write_result
