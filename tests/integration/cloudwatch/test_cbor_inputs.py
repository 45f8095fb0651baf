"""Every CloudWatch operation over RPC v2 CBOR against a real server, with botocore's example inputs and
mangled copies of them: no answer is a 500, every error is a CBOR map with ``__type``."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from nimbus.protocol.cbor import loads
from nimbus.protocol.dispatch import ServiceProtocol
from tests.conftest import NimbusProcess
from tests.integration.cloudwatch.test_cloudwatch import _signed
from tests.unit.protocol.botocore_harness import example

HEADERS = {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor", "Accept": "application/cbor"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusProcess]:
    proc = NimbusProcess(tmp_path_factory.mktemp("cwcbor") / "data").start()
    try:
        yield proc
    finally:
        proc.stop()


def test_every_operation_with_example_and_mangled_inputs(server: NimbusProcess) -> None:
    import botocore.serialize

    proto = ServiceProtocol("cloudwatch")
    serializer = botocore.serialize.create_serializer("smithy-rpc-v2-cbor")
    rng = random.Random(11)
    statuses: dict[int, int] = {}
    for name in proto.model.operation_names:
        model = proto.operation_model(name)
        params = example(model.input_shape) if model.input_shape is not None else {}
        body = serializer.serialize_to_request(params, model)["body"]
        bodies = [body] + [bytes(rng.randrange(256) if rng.random() < 0.05 else b for b in body) for _ in range(3)] + [body[: len(body) // 2]]
        for sent in bodies:
            status, headers, raw = _signed(server, f"/service/GraniteServiceVersion20100801/operation/{name}", sent, HEADERS)
            statuses[status] = statuses.get(status, 0) + 1
            assert status < 500 or status == 501, (name, status, raw[:300])
            if status >= 400:
                assert headers.get("smithy-protocol") == "rpc-v2-cbor" and "__type" in loads(raw), (name, raw[:300])
    assert statuses.get(200, 0) > 0 and statuses.get(400, 0) > 0
    assert "unhandled error" not in server.logs()
