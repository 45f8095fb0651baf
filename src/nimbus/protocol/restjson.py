"""rest-json (Lambda, API Gateway v1 and v2): HTTP bindings from ``rest.py`` plus a JSON body.

Body timestamps are epoch seconds unless the member says otherwise; header timestamps RFC 822.
"""

from __future__ import annotations

from typing import Any

from botocore.model import OperationModel, ServiceModel, StructureShape

from nimbus.protocol.errors import InputErrorCodes
from nimbus.protocol.json import JsonShapes, Reader, Writer, dump_json, load_json_object, strip_none
from nimbus.protocol.rest import Bindings, RestCodec


class RestJsonCodec(RestCodec):
    protocol = "rest-json"
    body_content_type = "application/json"

    def __init__(self, model: ServiceModel, codes: InputErrorCodes) -> None:
        super().__init__(model, codes)
        self.shapes = JsonShapes(codes)
        self._body_readers: dict[str, Reader] = {}
        self._body_writers: dict[str, Writer] = {}

    def response_headers(self, request_id: str) -> list[tuple[str, str]]:
        return [("x-amzn-RequestId", request_id)]

    def parse_body(self, operation: OperationModel, plan: Bindings, body: bytes) -> dict[str, Any]:
        read = self._body_readers.get(operation.name)
        if read is None:
            read = self._body_readers[operation.name] = self.shapes.structure_reader(plan.body)
        result: dict[str, Any] = read(load_json_object(body, self.codes))
        return result

    def parse_payload_structure(self, plan: Bindings, body: bytes) -> Any:
        assert plan.payload_shape is not None
        doc = load_json_object(body, self.codes)
        read = self.shapes.reader(plan.payload_shape)
        return doc if read is None else read(doc)

    def serialize_body(self, operation: OperationModel, plan: Bindings, output: dict[str, Any]) -> bytes | None:
        write = self._body_writers.get(operation.name)
        if write is None:
            write = self._body_writers[operation.name] = self.shapes.structure_writer(plan.body)
        return dump_json(write(output))

    def serialize_payload_structure(self, operation: OperationModel, plan: Bindings, value: Any) -> bytes:
        assert plan.payload_shape is not None
        write = self.shapes.writer(plan.payload_shape)
        return dump_json(strip_none(value) if write is None else write(value))

    def serialize_event_members(self, shape: StructureShape, payload: dict[str, Any]) -> bytes:
        write = self.shapes.writer(shape)
        return dump_json(strip_none(payload) if write is None else write(payload))
