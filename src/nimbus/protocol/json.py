"""AWS JSON 1.0/1.1 (Firehose, Kinesis, Logs) and the JSON document half of rest-json.

``JsonShapes`` compiles, per shape, a reader (wire JSON value -> Python input: base64 blobs to bytes,
timestamps to aware datetimes, locationName to member name) and a writer (output dict -> JSON-ready
value). Subtrees with nothing to convert compile to ``None`` and are passed through untouched, so a
Kinesis PutRecords body walks only ``Records[*].Data``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import orjson
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from nimbus.errors import SerializationError
from nimbus.protocol.errors import InputErrorCodes
from nimbus.protocol.http import HttpResponse
from nimbus.protocol.timestamps import format_timestamp, parse_timestamp, to_epoch

try:  # SIMD base64 (several times faster than binascii on records of 1 KB)
    from pybase64 import b64decode as _simd_b64decode
    from pybase64 import b64encode as _simd_b64encode
    from pybase64 import b64encode_as_string as _simd_b64encode_text
except ImportError:  # pragma: no cover - pybase64 is a dependency; binascii is the fallback
    _simd_b64decode = None
    _simd_b64encode = None
    _simd_b64encode_text = None
try:
    from nimbus._speedups import decode_blob_member as _decode_blob_member
except ImportError:  # not compiled: read_blob_structures's loop does it all
    _decode_blob_member = None  # type: ignore[assignment]
try:
    from nimbus._speedups import has_none as _has_none
except ImportError:  # not compiled: drop_nulls walks every document
    _has_none = None  # type: ignore[assignment]
try:
    from nimbus._speedups import scan_record_batch as _scan_record_batch
except ImportError:  # not compiled: record batches take the general parser
    _scan_record_batch = None  # type: ignore[assignment]

Reader = Callable[[Any], Any]
Writer = Callable[[Any], Any]

# A value a service has already serialised (``orjson.Fragment(b'[...]')``): writers and ``strip_none`` pass
# it through untouched and orjson embeds its bytes as they are. The service owns its exact wire form
# (member order, base64, timestamps) and must produce what the writer would have.
Fragment = orjson.Fragment


def shape_key(shape: Shape) -> str:
    """Cache key: the shape name plus member-level traits (timestampFormat, locationName...)."""
    serialization = shape.serialization
    if not serialization:
        return shape.name
    return shape.name + repr(sorted((k, repr(v)) for k, v in serialization.items()))


def strip_none(value: Any) -> Any:
    """Drop None members from dicts (recursively); returns the same object when nothing changes."""
    kind = type(value)
    if kind is dict:
        if None in value.values():
            return {k: strip_none(v) for k, v in value.items() if v is not None}
        for item in value.values():
            item_kind = type(item)
            if (item_kind is dict or item_kind is list) and strip_none(item) is not item:
                return {k: strip_none(v) for k, v in value.items()}
        return value
    if kind is list:
        for item in value:
            item_kind = type(item)
            if item_kind is dict:
                # inline the common case (a list of flat structures): no call per item
                values = item.values()
                if None in values:
                    return [strip_none(v) for v in value if v is not None]
                for member in values:
                    member_kind = type(member)
                    if (member_kind is dict or member_kind is list) and strip_none(member) is not member:
                        return [strip_none(v) for v in value if v is not None]
            elif item is None or (item_kind is list and strip_none(item) is not item):
                return [strip_none(v) for v in value if v is not None]
        return value
    return value


def drop_nulls(doc: Any) -> Any:
    """A parsed input without its null members and null list items (AWS reads a null member as an absent
    one). A walk in C first finds whether there is any null (most inputs have none: a 500-record body in a
    few µs); only then is the document rebuilt, in one linear pass that stops at depth 64 (no AWS input
    shape nests deeper; what lies below is not in the model)."""
    if _has_none is not None and not _has_none(doc):
        return doc
    return _without_nulls(doc, 0)


def _without_nulls(value: Any, depth: int) -> Any:
    kind = type(value)
    if depth > 64 or (kind is not dict and kind is not list):
        return value
    depth += 1
    if kind is dict:
        return {k: _without_nulls(v, depth) for k, v in value.items() if v is not None}
    return [_without_nulls(v, depth) for v in value if v is not None]


def _strict_a2b(value: str) -> bytes:
    """``binascii.a2b_base64(value, strict_mode=True)``, faster: pybase64 (validating) decodes what it
    accepts to the same bytes; what it refuses goes to binascii, which decides (binascii accepts a few
    strings pybase64 refuses, e.g. padding after a whole quantum, 'AAAA='), so accepted values, results
    and errors are exactly binascii's."""
    try:
        return _simd_b64decode(value, None, True)  # type: ignore[misc] # positional: no keyword parsing
    except (binascii.Error, ValueError, TypeError):
        return binascii.a2b_base64(value, strict_mode=True)


if _simd_b64decode is None:  # pragma: no cover
    def _strict_a2b(value: str) -> bytes:  # noqa: F811
        return binascii.a2b_base64(value, strict_mode=True)


def _strict_a2b_positional(value: str, _altchars: None, _validate: bool) -> bytes:
    return binascii.a2b_base64(value, strict_mode=True)


def decode_base64(value: Any, codes: InputErrorCodes) -> bytes:
    if not isinstance(value, str):
        raise SerializationError(f"Expected a base64 string, got {type(value).__name__}", code=codes.malformed)
    try:
        return _strict_a2b(value)
    except (binascii.Error, ValueError) as exc:
        raise SerializationError("Invalid base64 value", code=codes.malformed) from exc


def blob_reader(codes: InputErrorCodes) -> Reader:
    malformed = codes.malformed
    a2b = _strict_a2b

    def read_blob(value: Any) -> bytes:
        if type(value) is not str:
            return decode_base64(value, codes)  # a str subclass, or the error
        try:
            return a2b(value)
        except (binascii.Error, ValueError) as exc:
            raise SerializationError("Invalid base64 value", code=malformed) from exc

    read_blob.is_blob = True  # type: ignore[attr-defined]
    return read_blob


def b64encode_text(data: bytes) -> str:
    """Standard base64 of ``data`` as text (pybase64's SIMD encoder where installed: 1 KB ~850 -> ~160 ns)."""
    if _simd_b64encode_text is not None:
        return _simd_b64encode_text(data)  # type: ignore[no-any-return]
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def encode_blob(value: Any) -> str:
    if isinstance(value, str):
        value = value.encode("utf-8")
    if _simd_b64encode is not None:
        return _simd_b64encode(value).decode("ascii")
    return base64.b64encode(value).decode("ascii")


class JsonShapes:
    """Compiled per-shape JSON readers and writers for one service model."""

    def __init__(self, codes: InputErrorCodes, *, timestamp_format: str = "unixtimestamp") -> None:
        self.codes = codes
        self.timestamp_format = timestamp_format
        self._readers: dict[str, Reader | None] = {}
        self._writers: dict[str, Writer | None] = {}
        self._needs: dict[str, bool] = {}

    # -- what needs converting -------------------------------------------------------------------
    def needs_conversion(self, shape: Shape) -> bool:
        key = shape_key(shape)
        if key not in self._needs:
            self._needs[key] = self._reaches_conversion(shape, set())
        return self._needs[key]

    def _reaches_conversion(self, shape: Shape, seen: set[str]) -> bool:
        if shape.name in seen:
            return False
        seen.add(shape.name)
        kind = shape.type_name
        if kind in ("blob", "timestamp"):
            return True
        if kind == "structure" and isinstance(shape, StructureShape):
            if shape.is_document_type:
                return False
            for name, member in shape.members.items():
                if member.serialization.get("name", name) != name:
                    return True
                if self._reaches_conversion(member, seen):
                    return True
        elif isinstance(shape, ListShape):
            return self._reaches_conversion(shape.member, seen)
        elif isinstance(shape, MapShape):
            return self._reaches_conversion(shape.value, seen)
        return False

    # -- readers ---------------------------------------------------------------------------------
    def reader(self, shape: Shape) -> Reader | None:
        return self._compiled(self._readers, shape, self._compile_reader)

    def _compiled(self, cache: dict[Any, Any], shape: Shape, compile_: Callable[[Shape], Any]) -> Any:
        """Compile a reader or writer once per shape; None where the value needs no conversion."""
        key = shape_key(shape)
        if key in cache:
            return cache[key]
        if not self.needs_conversion(shape):
            cache[key] = None
            return None
        cell: list[Any] = []
        cache[key] = lambda value: cell[0](value)  # recursion trampoline for recursive shapes
        compiled = compile_(shape)
        cell.append(compiled)
        cache[key] = compiled
        return compiled

    def structure_reader(self, members: list[tuple[str, Shape]]) -> Reader:
        """Reader for a set of members (a whole structure, or the body members of a REST input)."""
        plan = [(member.serialization.get("name", name), name, self.reader(member)) for name, member in members]
        codes = self.codes
        if all(wire == name for wire, name, _ in plan):
            # No renames: convert the few members that need it in place, no new dict per structure.
            converting = [(name, read) for _, name, read in plan if read is not None]

            def read_in_place(value: Any) -> Any:
                if type(value) is not dict:
                    raise SerializationError("Expected a JSON object", code=codes.malformed)
                for name, read in converting:
                    item = value.get(name)
                    if item is not None:
                        value[name] = read(item)
                return value

            read_in_place.converting = converting  # type: ignore[attr-defined] # lets list readers fuse loops
            return read_in_place

        def read_structure(value: Any) -> Any:
            if not isinstance(value, dict):
                raise SerializationError("Expected a JSON object", code=codes.malformed)
            out: dict[str, Any] = {}
            for wire, name, read in plan:
                item = value.get(wire)
                if item is not None:
                    out[name] = item if read is None else read(item)
            return out

        return read_structure

    def _compile_reader(self, shape: Shape) -> Reader:
        codes = self.codes
        kind = shape.type_name
        if kind == "blob":
            return blob_reader(codes)
        if kind == "timestamp":
            return parse_timestamp
        if isinstance(shape, StructureShape):
            return self.structure_reader(list(shape.members.items()))
        if isinstance(shape, ListShape):
            read_member = self.reader(shape.member)
            assert read_member is not None
            converting = getattr(read_member, "converting", None)
            if converting is not None:
                return _structure_list_reader(converting, codes)

            def read_list(value: Any) -> Any:
                if not isinstance(value, list):
                    raise SerializationError("Expected a JSON array", code=codes.malformed)
                return [None if item is None else read_member(item) for item in value]

            return read_list
        if isinstance(shape, MapShape):
            read_value = self.reader(shape.value)
            assert read_value is not None

            def read_map(value: Any) -> Any:
                if not isinstance(value, dict):
                    raise SerializationError("Expected a JSON object", code=codes.malformed)
                return {k: None if v is None else read_value(v) for k, v in value.items()}

            return read_map
        return lambda value: value

    # -- writers ---------------------------------------------------------------------------------
    def writer(self, shape: Shape) -> Writer | None:
        return self._compiled(self._writers, shape, self._compile_writer)

    def structure_writer(self, members: list[tuple[str, Shape]]) -> Writer:
        plan = [(name, member.serialization.get("name", name), self.writer(member)) for name, member in members]

        def write_structure(value: Any) -> Any:
            out: dict[str, Any] = {}
            for name, wire, write in plan:
                item = value.get(name)
                if item is not None:
                    if write is None:
                        kind = type(item)  # scalars (most members) need no strip_none call
                        out[wire] = strip_none(item) if kind is dict or kind is list else item
                    elif type(item) is Fragment:
                        out[wire] = item  # already serialised by the service
                    else:
                        out[wire] = write(item)
            return out

        return write_structure

    def _compile_writer(self, shape: Shape) -> Writer:
        kind = shape.type_name
        if kind == "blob":
            return encode_blob
        if kind == "timestamp":
            fmt = shape.serialization.get("timestampFormat", self.timestamp_format)
            if fmt == "unixtimestamp":
                return to_epoch
            return lambda value: format_timestamp(value, fmt)
        if isinstance(shape, StructureShape):
            return self.structure_writer(list(shape.members.items()))
        if isinstance(shape, ListShape):
            write_member = self.writer(shape.member)
            assert write_member is not None
            return lambda value: [write_member(item) for item in value if item is not None]
        if isinstance(shape, MapShape):
            write_value = self.writer(shape.value)
            assert write_value is not None
            return lambda value: {k: write_value(v) for k, v in value.items() if v is not None}
        return lambda value: value


def _structure_list_reader(converting: list[tuple[str, Reader]], codes: InputErrorCodes) -> Reader:
    """A list of structures read in place (no renames): one loop, no call per item; a lone blob member
    (Firehose PutRecordBatch, Kinesis PutRecords) is base64-decoded inline."""
    malformed = codes.malformed
    if len(converting) == 1 and getattr(converting[0][1], "is_blob", False):
        name = converting[0][0]
        fast = _simd_b64decode if _simd_b64decode is not None else _strict_a2b_positional
        a2b = binascii.a2b_base64

        def read_blob_structures(value: Any) -> Any:
            if not isinstance(value, list):
                raise SerializationError("Expected a JSON array", code=malformed)
            items = value
            if _decode_blob_member is not None and type(value) is list:
                # nimbus._speedups: the usual items in C; from the first unusual one on, the loop below
                stop = _decode_blob_member(value, name, fast)
                if stop < 0:
                    return value
                items = value[stop:]
            for item in items:
                if item is None:
                    continue
                if type(item) is not dict:
                    raise SerializationError("Expected a JSON object", code=malformed)
                data = item.get(name)
                if data is None:
                    continue
                if type(data) is not str:
                    item[name] = decode_base64(data, codes)  # a str subclass, or the error
                    continue
                try:
                    item[name] = fast(data, None, True)
                except (binascii.Error, ValueError, TypeError):
                    try:  # binascii decides what the fast decoder refused (see _strict_a2b)
                        item[name] = a2b(data, strict_mode=True)
                    except (binascii.Error, ValueError) as exc:
                        raise SerializationError("Invalid base64 value", code=malformed) from exc
            return value

        return read_blob_structures

    def read_structures(value: Any) -> Any:
        if not isinstance(value, list):
            raise SerializationError("Expected a JSON array", code=malformed)
        for item in value:
            if item is None:
                continue
            if type(item) is not dict:
                raise SerializationError("Expected a JSON object", code=malformed)
            for name, read in converting:
                member = item.get(name)
                if member is not None:
                    item[name] = read(member)
        return value

    return read_structures


def load_json_object(body: bytes, codes: InputErrorCodes) -> dict[str, Any]:
    """Request body -> JSON object; empty body is ``{}``; anything else malformed."""
    if not body or body.isspace():
        return {}
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise SerializationError(f"Could not parse request body into json: {exc}", code=codes.malformed) from exc
    if not isinstance(doc, dict):
        raise SerializationError(
            "Could not parse request body into json: expected a JSON object", code=codes.malformed
        )
    return doc


def _dump_default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return encode_blob(bytes(value))
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dump_json(doc: Any) -> bytes:
    return orjson.dumps(doc, default=_dump_default)


_FLAT_VALUE_TYPES = frozenset({str, int, float, bool, bytes, Fragment})


def dump_json_stripped(doc: Any) -> bytes:
    """``dump_json(strip_none(doc))``, without walking the document when it holds no None: orjson writes a
    None as ``null``, so output free of ``null`` had none to strip (a ``null`` inside a string, or a NaN,
    just takes the walk). A flat document (scalars and pre-serialised fragments, such as PutRecords' answer
    around its 500-record fragment) has its None members dropped directly, without scanning the output."""
    if type(doc) is dict and len(doc) <= 16:
        values = doc.values()
        for value in values:
            if value is not None and type(value) not in _FLAT_VALUE_TYPES:
                break
        else:
            if None in values:
                doc = {k: v for k, v in doc.items() if v is not None}
            return orjson.dumps(doc, default=_dump_default)
    body = orjson.dumps(doc, default=_dump_default)
    if b"null" in body:
        body = orjson.dumps(strip_none(doc), default=_dump_default)
    return body


# Operations whose body is a batch of records, scanned straight into log payloads when plain:
# (service, operation) -> (list member, blob member, key member or None).
RECORD_BATCHES: dict[tuple[str, str], tuple[str, str, str | None]] = {
    ("kinesis", "PutRecords"): ("Records", "Data", "PartitionKey"),
    ("firehose", "PutRecordBatch"): ("Records", "Data", None),
}


class PackedRecords(Sequence[dict[str, Any]]):
    """The records of a plain record batch (``RECORD_BATCHES``) as the C scanner left them: one log payload
    per record (the data; with a key member, the key's UTF-8 length as 2 little-endian bytes, the key and
    the data, the layout of nimbus.services.kinesis.records.pack), ``total`` (data bytes + key characters)
    and ``largest`` (the largest data + key). Handlers take the payloads as they are; anything else reading
    the list gets the dicts the general parser would have made (built on first use)."""

    __slots__ = ("payloads", "total", "largest", "_data", "_key", "_entries")

    def __init__(self, payloads: list[bytes], total: int, largest: int, data: str, key: str | None) -> None:
        self.payloads = payloads
        self.total = total
        self.largest = largest
        self._data = data
        self._key = key
        self._entries: list[dict[str, Any]] | None = None

    def entries(self) -> list[dict[str, Any]]:
        if self._entries is None:
            if self._key is None:
                self._entries = [{self._data: payload} for payload in self.payloads]
            else:
                made = []
                for payload in self.payloads:
                    n = payload[0] | payload[1] << 8
                    made.append({self._data: payload[2 + n :], self._key: payload[2 : 2 + n].decode()})
                self._entries = made
        return self._entries

    def __len__(self) -> int:
        return len(self.payloads)

    def __getitem__(self, index: Any) -> Any:
        return self.entries()[index]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.entries())

    def __eq__(self, other: object) -> bool:
        return self.entries() == (other.entries() if isinstance(other, PackedRecords) else other)

    __hash__ = None  # type: ignore[assignment]


class JsonCodec:
    """awsJson 1.0/1.1: ``POST /`` with ``X-Amz-Target``; the whole input/output is the JSON body."""

    def __init__(self, model: ServiceModel, codes: InputErrorCodes) -> None:
        self.model = model
        self.codes = codes
        self.content_type = f"application/x-amz-json-{model.metadata.get('jsonVersion', '1.0')}"
        self.shapes = JsonShapes(codes)
        self._input_plans: dict[str, Reader | None] = {}
        self._output_plans: dict[str, Writer | None] = {}
        self._stream_members: dict[str, str | None] = {}
        self._batch_plans: dict[str, tuple[Any, ...] | None] = {}

    def _input_reader(self, operation: OperationModel) -> Reader | None:
        name = operation.name
        if name not in self._input_plans:
            shape = operation.input_shape
            self._input_plans[name] = None if shape is None else self.shapes.reader(shape)
        return self._input_plans[name]

    def _output_writer(self, operation: OperationModel) -> Writer | None:
        name = operation.name
        if name not in self._output_plans:
            shape = operation.output_shape
            self._output_plans[name] = None if shape is None else self.shapes.writer(shape)
        return self._output_plans[name]

    def _batch_plan(self, operation: OperationModel) -> tuple[Any, ...] | None:
        """The scanner's arguments for a record-batch operation, from the model: the top-level string
        members it takes (a body with any other goes to ``parse``), the list's maximum length, the blob's
        maximum size and the key's length range; and a one-record stand-in list for validating the
        top-level members."""
        name = operation.name
        if name in self._batch_plans:
            return self._batch_plans[name]
        plan = None
        spec = RECORD_BATCHES.get((self.model.service_name, name))
        shape = operation.input_shape
        if spec is not None and _scan_record_batch is not None and shape is not None:
            records, data, key = spec
            others = tuple(n for n, m in shape.members.items() if n != records and m.type_name == "string")
            list_shape = shape.members[records]
            item = list_shape.member  # type: ignore[attr-defined]
            if item.members[data].type_name == "blob":  # other members (DryRun) send a body to ``parse``
                key_min, key_max = 0, 0
                stand_in: dict[str, Any] = {data: b""}
                if key is not None:
                    key_min = item.members[key].metadata.get("min", 0)
                    key_max = item.members[key].metadata.get("max", 1 << 16)
                    stand_in[key] = "k" * max(1, key_min)
                args = (others, records, data, key, list_shape.metadata.get("max", 1 << 30),
                        item.members[data].metadata.get("max", 1 << 40), key_min, key_max,
                        _simd_b64decode if _simd_b64decode is not None else _strict_a2b_positional)
                plan = (args, records, data, key, [stand_in])
        self._batch_plans[name] = plan
        return plan

    def scan(self, operation: OperationModel, body: bytes | bytearray) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """A plain record batch (``RECORD_BATCHES``) parsed by the C scanner: (params with the records as
        ``PackedRecords``, a stand-in document to validate the other members with), or None for ``parse``."""
        plan = self._batch_plan(operation)
        if plan is None:
            return None
        args, records, data, key, stand_in = plan
        scanned = _scan_record_batch(body, *args)
        if scanned is None:
            return None
        top, payloads, total, largest = scanned
        params = dict(top)
        top[records] = stand_in
        params[records] = PackedRecords(payloads, total, largest, data, key)
        return params, top

    def parse(self, operation: OperationModel, body: bytes) -> dict[str, Any]:
        doc = load_json_object(body, self.codes)
        read = self._input_reader(operation)
        result: dict[str, Any] = doc if read is None else read(doc)
        return result

    def serialize(self, operation: OperationModel, output: dict[str, Any] | None, request_id: str) -> HttpResponse:
        name = operation.name
        if name not in self._stream_members:
            self._stream_members[name] = _event_stream_member(operation)
        stream_member = self._stream_members[name]
        if stream_member is not None and output and stream_member in output:
            return self._serialize_event_stream(operation, output, stream_member, request_id)
        if output:
            write = self._output_writer(operation)
            body = dump_json_stripped(output) if write is None else dump_json(write(output))
        else:
            body = b"{}"
        return HttpResponse(
            status=200,
            headers=[("x-amzn-RequestId", request_id), ("Content-Type", self.content_type)],
            body=body,
        )

    def _serialize_event_stream(
        self, operation: OperationModel, output: dict[str, Any], member: str, request_id: str
    ) -> HttpResponse:
        """An output with an event-stream member (Kinesis SubscribeToShard): the service returns an async
        iterator of ``{EventName: payload}`` under that member; each event is framed as it comes."""
        from nimbus.protocol.eventstream import event_message, event_stream

        shape = operation.output_shape
        assert isinstance(shape, StructureShape)
        events_shape = shape.members[member]
        assert isinstance(events_shape, StructureShape)
        rest = {k: v for k, v in output.items() if k != member}
        write_rest = self._output_writer(operation)
        initial = dump_json(strip_none(rest) if write_rest is None else write_rest(rest)) if rest else b"{}"
        shapes = self.shapes

        def message(name: str, payload: Any) -> bytes:
            write = shapes.writer(events_shape.members[name])
            return event_message(name, dump_json(strip_none(payload) if write is None else write(payload)))

        body = event_stream(output[member], message, initial=initial)
        return HttpResponse(
            status=200,
            headers=[("x-amzn-RequestId", request_id), ("Content-Type", "application/vnd.amazon.eventstream")],
            body=body,
        )


def _event_stream_member(operation: OperationModel) -> str | None:
    shape = operation.output_shape
    if shape is None or not isinstance(shape, StructureShape):
        return None
    for name, member in shape.members.items():
        if member.serialization.get("eventstream"):
            return name
    return None
