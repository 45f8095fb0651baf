"""Every operation of every served model, through real botocore clients, both directions."""

from __future__ import annotations

from typing import Any

import pytest
from botocore import xform_name

from nimbus.protocol.dispatch import ServiceProtocol
from nimbus.protocol.http import HttpRequest, HttpResponse
from nimbus.protocol.models import INDISTINGUISHABLE_ROUTES, SERVED_SERVICES, load_service_model

from .botocore_harness import assert_contains, call, example, protocol

def _cases() -> list[Any]:
    cases = []
    for service in SERVED_SERVICES:
        for op in load_service_model(service).operation_names:
            cases.append(pytest.param(service, op, id=f"{service}.{op}"))
    return cases


def identify(proto: ServiceProtocol, request: HttpRequest) -> tuple[str | None, dict[str, str] | None]:
    if proto.protocol == "json":
        return proto.operation_for_target(request.headers["x-amz-target"]), None
    if proto.protocol == "query":
        return proto.operation_for_action(request)
    found = proto.match_request(request)
    return (found[0], found[1]) if found else (None, None)


@pytest.mark.parametrize(("service", "operation"), _cases())
def test_roundtrip(service: str, operation: str) -> None:
    proto = protocol(service)
    model = proto.operation_model(operation)
    params = example(model.input_shape) if model.input_shape is not None else {}
    has_eventstream = model.output_shape is not None and model.output_shape.event_stream_name is not None
    output = example(model.output_shape, output=True) if model.output_shape is not None else {}
    parsed: dict[str, Any] = {}

    def respond(request: HttpRequest) -> HttpResponse:
        name, path_params = identify(proto, request)
        assert name == INDISTINGUISHABLE_ROUTES.get(service, {}).get(operation, operation), f"routed to {name}"
        parsed.update(proto.parse(operation, request, path_params, validate=False))
        if has_eventstream:
            return HttpResponse(status=200, headers=[], body=b"")
        return proto.serialize(operation, output, "req-1")

    if has_eventstream:
        # Event-stream responses are not produced by the codec (known gap); check the request only.
        try:
            call(service, xform_name(operation), params, respond)
        except Exception:  # noqa: BLE001 - botocore cannot parse the empty stream we answer with
            pass
        assert_contains(params, parsed, "input")
        return
    result, _ = call(service, xform_name(operation), params, respond)
    assert_contains(params, parsed, "input")
    result.pop("ResponseMetadata")
    assert_contains(output, result, "output")
