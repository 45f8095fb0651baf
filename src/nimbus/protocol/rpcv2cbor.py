"""Smithy RPC v2 CBOR (``smithy-rpc-v2-cbor``): what botocore 1.44 speaks to CloudWatch.

A request is ``POST /service/<ServiceName>/operation/<Operation>`` with ``smithy-protocol: rpc-v2-cbor``
and the input structure as a CBOR map (``Content-Type: application/cbor``; no body for an empty input).
Members go by their member names; blobs are byte strings; timestamps are tag 1 around epoch **seconds**
(an integer or a float, unlike the Java SDK's milliseconds in ``cbor.py``'s JSON-as-CBOR).

The answer carries ``smithy-protocol: rpc-v2-cbor``; an operation without an output shape answers an empty
body (and no Content-Type), one with an output a CBOR map. An error is a CBOR map holding ``__type`` (the
error's shape id, ``namespace#ShapeName``), ``message`` and the error's other members, with the status of
the error shape's ``httpStatusCode``. For models marked ``awsQueryCompatible`` (CloudWatch), the header
``x-amzn-query-error: <query code>;Sender|Receiver`` gives the code the query protocol used, which botocore
reports as ``Error.Code``. The encoder and decoder are ``cbor.py``'s.
"""

from __future__ import annotations

import datetime as dt
import math
import struct
from typing import Any

from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from nimbus.errors import SerializationError, ServiceError
from nimbus.protocol.cbor import CborError, Tag, dumps, loads
from nimbus.protocol.errors import InputErrorCodes
from nimbus.protocol.http import HttpResponse

CONTENT_TYPE = "application/cbor"
PROTOCOL_HEADER = ("smithy-protocol", "rpc-v2-cbor")
_UTC = dt.timezone.utc


def smithy_namespace(model: ServiceModel) -> str:
    """The Smithy namespace of a model's shape ids (``com.amazonaws.cloudwatch``): botocore's JSON models
    do not carry it; AWS names it after the service id, lower-cased without spaces."""
    service_id = str(model.metadata.get("serviceId") or model.service_name)
    return "com.amazonaws." + service_id.lower().replace(" ", "")


def epoch_tag(value: Any) -> Tag:
    """A timestamp (datetime or epoch seconds) as tag 1 around epoch seconds: an integer when whole, else a
    float (milliseconds kept)."""
    if isinstance(value, dt.datetime):
        seconds = (value if value.tzinfo else value.replace(tzinfo=_UTC)).timestamp()
    else:
        seconds = float(value)
    whole = round(seconds)
    if abs(seconds - whole) < 5e-7:
        return Tag(1, int(whole))
    return Tag(1, round(seconds, 3))


class RpcV2CborCodec:
    """Routing, shape-driven reading and writing for one model served over RPC v2 CBOR."""

    def __init__(self, model: ServiceModel, codes: InputErrorCodes) -> None:
        self.model = model
        self.codes = codes
        # the path's <ServiceName> is the model's targetPrefix (botocore builds it so), or the service's name
        self.service_names = {str(model.metadata.get("targetPrefix") or ""), model.service_name} - {""}
        self.namespace = smithy_namespace(model)
        self.query_compatible = "awsQueryCompatible" in model.metadata
        # wire code (the error trait's "code", else the shape name) -> error shape
        self._errors: dict[str, Shape] = {}
        for shape in model.error_shapes:
            self._errors.setdefault(shape.name, shape)
            code = (shape.metadata.get("error") or {}).get("code")
            if code:
                self._errors[code] = shape

    # -- routing -------------------------------------------------------------------------------------
    def route(self, method: str, path: str) -> str | None:
        """The operation of ``POST /service/<ServiceName>/operation/<Operation>``, or None."""
        if method.upper() != "POST":
            return None
        parts = path.split("/")
        if len(parts) != 5 or parts[0] or parts[1] != "service" or parts[3] != "operation":
            return None
        if parts[2] not in self.service_names or parts[4] not in self.model.operation_names:
            return None
        return parts[4]

    # -- input ---------------------------------------------------------------------------------------
    def parse(self, operation: OperationModel, body: bytes) -> dict[str, Any]:
        if not body:
            return {}
        try:
            doc = loads(body)
        except (CborError, IndexError, struct.error, TypeError, ValueError, OverflowError, OSError, RecursionError) as exc:
            raise SerializationError(f"Could not parse request body as CBOR: {exc}", code=self.codes.malformed) from exc
        if not isinstance(doc, dict):
            raise SerializationError("Could not parse request body: expected a CBOR map", code=self.codes.malformed)
        shape = operation.input_shape
        if shape is None:
            return {}
        result: dict[str, Any] = self._read(shape, doc, 0)
        return result

    def _read(self, shape: Shape, value: Any, depth: int) -> Any:
        """Wire values to Python: member names (or their serialized names), tag-1 and untagged epoch numbers
        to datetimes for timestamp members; null members and list items dropped (absent, as AWS reads them)."""
        if depth > 64:
            raise SerializationError("Input nests too deeply", code=self.codes.malformed)
        kind = shape.type_name
        if kind == "timestamp":
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                try:
                    return dt.datetime.fromtimestamp(value, _UTC)
                except (OverflowError, OSError, ValueError) as exc:
                    raise SerializationError(f"Timestamp out of range: {value}", code=self.codes.malformed) from exc
            return value
        if isinstance(shape, StructureShape):
            if not isinstance(value, dict) or shape.is_document_type:
                return value
            out = {}
            for name, member in shape.members.items():
                item = value.get(name)
                if item is None:
                    wire = member.serialization.get("name")
                    item = value.get(wire) if wire else None
                if item is not None:
                    out[name] = self._read(member, item, depth + 1)
            return out
        if isinstance(shape, ListShape) and isinstance(value, list):
            return [self._read(shape.member, v, depth + 1) for v in value if v is not None]
        if isinstance(shape, MapShape) and isinstance(value, dict):
            return {k: self._read(shape.value, v, depth + 1) for k, v in value.items() if v is not None}
        if kind in ("double", "float") and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value

    # -- output --------------------------------------------------------------------------------------
    def _write(self, shape: Shape, value: Any) -> Any:
        kind = shape.type_name
        if kind == "timestamp":
            return epoch_tag(value)
        if kind == "blob":
            return value.encode("utf-8") if isinstance(value, str) else bytes(value)
        if kind in ("double", "float") and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(shape, StructureShape) and isinstance(value, dict) and not shape.is_document_type:
            out = {}
            for name, member in shape.members.items():
                item = value.get(name)
                if item is not None:
                    out[name] = self._write(member, item)
            return out
        if isinstance(shape, ListShape) and isinstance(value, (list, tuple)):
            return [self._write(shape.member, v) for v in value if v is not None]
        if isinstance(shape, MapShape) and isinstance(value, dict):
            return {k: self._write(shape.value, v) for k, v in value.items() if v is not None}
        return value

    def serialize(self, operation: OperationModel, output: dict[str, Any] | None, request_id: str) -> HttpResponse:
        headers = [("x-amzn-RequestId", request_id), PROTOCOL_HEADER]
        shape = operation.output_shape
        if shape is None:  # Unit output: an empty body, no Content-Type
            return HttpResponse(status=200, headers=headers, body=b"")
        headers.append(("Content-Type", CONTENT_TYPE))
        return HttpResponse(status=200, headers=headers, body=dumps(self._write(shape, output or {})))

    # -- errors --------------------------------------------------------------------------------------
    def serialize_error(self, error: ServiceError, request_id: str, *, head: bool = False) -> HttpResponse:
        shape = self._errors.get(error.code)
        doc: dict[str, Any] = {
            "__type": f"{self.namespace}#{shape.name}" if shape is not None else error.code,
            "message": error.message,
        }
        for name, value in error.fields.items():
            if value is None or name in ("__type", "message", "Message"):
                continue
            if isinstance(value, float) and not math.isfinite(value):
                continue
            doc[name] = epoch_tag(value) if isinstance(value, dt.datetime) else value
        if shape is not None and "Message" in getattr(shape, "members", {}):
            doc["Message"] = error.message
        headers = [("x-amzn-RequestId", request_id), PROTOCOL_HEADER, ("Content-Type", CONTENT_TYPE)]
        if self.query_compatible:
            headers.append(("x-amzn-query-error", f"{error.code};{'Sender' if error.sender_fault else 'Receiver'}"))
        headers += list(error.headers.items())
        return HttpResponse(status=error.status, headers=headers, body=b"" if head else dumps(doc))
