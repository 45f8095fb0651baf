"""Bad input never crashes the server: every operation of every served service, adversarial values.

One real server. For each operation of each botocore model Nimbus serves, a deterministic (seeded)
generator builds several inputs (missing required members, wrong types, empty / 100 KB / control-char
strings, negative and huge numbers, unknown resources, foreign and malformed ARNs) and sends them through
a boto3 client without client-side validation; then a few raw SigV4-signed requests with garbage bodies
and headers. No answer may be a 500 InternalFailure (501 NotImplemented is fine), every error carries a
code, nothing hangs, the server log has no "unhandled error", and /_nimbus/health still answers 200.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import io
import json
import os
import random
import re
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ReadTimeoutError,
)
from botocore.model import ListShape, MapShape, Shape, StructureShape

from nimbus.protocol.models import SERVED_SERVICES, load_service_model
from tests.conftest import ACCESS_KEY, SECRET_KEY, NimbusProcess

SEED = int(os.environ.get("NIMBUS_FUZZ_SEED", "20261127"))  # other seeds explore further; the default is the CI one
VARIANTS = 24  # generated inputs per operation
READ_TIMEOUT = 20  # seconds: an answer slower than this counts as a hang
ROLE = "arn:aws:iam::000000000000:role/fuzz-role"

# Operations whose success would make the run slow or nondeterministic regardless of input.
SKIP = {
    ("lambda", "Invoke"): "runs code (covered with bad payloads separately)",
    ("lambda", "InvokeWithResponseStream"): "runs code",
    ("lambda", "InvokeAsync"): "runs code",
}

HUGE = "x" * 100_000
NAMED_STRINGS = [
    "",
    " ",
    HUGE,
    "nimbus-fuzz-missing",
    "\x00",
    "a\x00b\x01\x7f",
    "line\nbreak\r\ttab",
    "héllo wörld ✓ 日本語 \u202e\ufeff",
    "😀" * 50,
    "../../../etc/passwd",
    "%00%2F..%2F",
    "a/b/c",
    "-1",
    "0",
    "99999999999999999999999999999",
    "NaN",
    "null",
    "true",
    "{}",
    "[1,2]",
    "<xml>&amp;</xml>",
    "' OR 1=1 --",
    "$LATEST",
    "*",
    ":",
    "arn:",
    "arn:aws",
    "arn:aws:lambda:eu-west-1:999999999999:function:fuzz-fn",
    "arn:aws:lambda:us-east-1:000000000000:function:fuzz-fn:nope:extra:parts",
    "arn:aws:lambda:us-east-1:000000000000:function:",
    "arn:aws:lambda:us-east-1:123456789012:layer:lyr:1",
    "arn:aws:lambda:us-east-1:000000000000:layer:lyr:notanumber",
    "arn:aws:kinesis:eu-west-1:999999999999:stream/fuzz-stream",
    "arn:aws:kinesis:us-east-1:000000000000:stream/fuzz-stream/consumer/c:1",
    "arn:aws:kinesis:us-east-1:000000000000:stream/",
    "arn:aws:firehose:us-east-1:000000000000:deliverystream/fuzz-ds",
    "arn:aws:s3:::fuzz-bucket",
    "arn:aws:s3:::",
    "arn:aws:sqs:us-east-1:000000000000:queue",
    "arn:aws:logs:us-east-1:000000000000:log-group:fuzz-group:*",
    "arn:aws:logs:eu-west-1:999999999999:log-group:",
    "arn:aws:iam::000000000000:role/",
    "arn:aws:apigateway:us-east-1::/restapis/x",
    "arn:aws:execute-api:us-east-1:000000000000:abc/*/GET/",
    "arn:aws:lambda:us-east-1:000000000000:function:fuzz-fn",
    "arn:aws:kinesis:us-east-1:000000000000:stream/fuzz-stream",
]


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", "def handler(event, context):\n    return event\n")
    return buf.getvalue()


class Gen:
    """Adversarial values for botocore shapes, from one seeded random generator."""

    def __init__(self, rng: random.Random, existing: dict[str, list[str]]) -> None:
        self.rng = rng
        self.existing = existing

    def strings_for(self, member: str) -> list[str]:
        key = member.lower()
        for hint, values in self.existing.items():
            if hint.startswith("=") and hint[1:] == key or not hint.startswith("=") and hint in key:
                return values
        return []

    def value(self, shape: Shape, member: str = "", depth: int = 0) -> Any:
        rng = self.rng
        t = shape.type_name
        if rng.random() < 0.04:  # a wrong type
            return rng.choice(["str", 12, True, [], {}, None, 1.5])
        if t == "structure":
            assert isinstance(shape, StructureShape)
            return self.struct(shape, depth + 1)
        if t == "list":
            assert isinstance(shape, ListShape)
            if depth > 4:
                return []
            n = rng.choice([0, 1, 1, 2, 3, 150])
            return [self.value(shape.member, member, depth + 1) for _ in range(n)]
        if t == "map":
            assert isinstance(shape, MapShape)
            if depth > 4:
                return {}
            n = rng.choice([0, 1, 2, 60])
            return {str(self.value(shape.key, "key", depth + 1)) if i else "": self.value(shape.value, member, depth + 1) for i in range(n)}
        if t == "string":
            pool = self.strings_for(member)
            if shape.enum and rng.random() < 0.5:
                return rng.choice(shape.enum)
            if pool and rng.random() < 0.55:
                return rng.choice(pool)
            return rng.choice(NAMED_STRINGS)
        if t in ("integer", "long"):
            return rng.choice([-1, 0, 1, 2, -(2**31), 2**31, 2**63, 10**30, 7, 1000, 100000])
        if t in ("float", "double"):
            return rng.choice([-1.0, 0.0, 1e308, float("inf"), 0.5, -1e-9])
        if t == "boolean":
            return rng.choice([True, False])
        if t == "blob":
            return rng.choice([b"", b"\x00\xff" * 10, b"x" * 100_000, b"{}", b"not json", _zip()])
        if t == "timestamp":
            return rng.choice(
                [
                    dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc),
                    dt.datetime(9999, 12, 31, tzinfo=dt.timezone.utc),
                    dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
                    0,
                    -1,
                ]
            )
        return None

    # --- plausible values: every constraint of the model met, so the input reaches the service code ----

    VALID_STRINGS = [
        "fuzz1", "a", "1", "x" * 64, "arn:aws:lambda:us-east-1:000000000000:function:fuzz-fn", ROLE,
        "arn:aws:kinesis:us-east-1:000000000000:stream/fuzz-stream", "arn:aws:s3:::fuzz-bucket", "2", "$LATEST", "k",
        "/", "GET /x", "$default", "a.b", "python3.12", "app.handler", "0" * 56, "AAAAAAAA",
    ]

    def valid(self, shape: Shape, member: str = "", depth: int = 0) -> Any:
        rng = self.rng
        t = shape.type_name
        meta = shape.metadata
        if t == "structure":
            assert isinstance(shape, StructureShape)
            if depth > 5:
                return {}
            out: dict[str, Any] = {}
            for name, m in shape.members.items():
                if m.serialization.get("eventpayload") or m.serialization.get("eventstream"):
                    continue
                if name in shape.required_members or rng.random() < 0.5:
                    out[name] = self.valid(m, name, depth + 1)
            return out
        if t == "list":
            assert isinstance(shape, ListShape)
            n = max(meta.get("min", 0), rng.choice([0, 1, 1, 2]))
            n = min(n, meta.get("max", n))
            return [self.valid(shape.member, member, depth + 1) for _ in range(n if depth < 6 else 0)]
        if t == "map":
            assert isinstance(shape, MapShape)
            n = rng.choice([0, 1, 2]) if depth < 6 else 0
            return {str(self.valid(shape.key, "key", depth + 1)) + str(i): self.valid(shape.value, member, depth + 1) for i in range(n)}
        if t == "string":
            if shape.enum:
                return rng.choice(shape.enum)
            lo, hi = meta.get("min", 0), meta.get("max", 1 << 30)
            pattern = meta.get("pattern")
            try:
                rx = re.compile(pattern) if pattern else None
            except re.error:
                rx = None
            pool = self.strings_for(member)
            candidates = (rng.sample(pool, len(pool)) if pool else []) + rng.sample(self.VALID_STRINGS, len(self.VALID_STRINGS))
            for c in candidates:
                if lo <= len(c) <= hi and (rx is None or rx.fullmatch(c)):
                    return c
            return candidates[0]
        if t in ("integer", "long"):
            lo, hi = meta.get("min", 0), meta.get("max", 1000)
            return rng.choice([lo, hi, min(max(lo, 1), hi), min(max(lo, 100), hi)])
        if t in ("float", "double"):
            return float(meta.get("min", 1))
        if t == "boolean":
            return rng.choice([True, False])
        if t == "blob":
            return rng.choice([b"x", b"{}", _zip(), b"\x00\xff"])
        if t == "timestamp":
            return dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
        return None

    def mutate(self, shape: StructureShape, params: dict[str, Any]) -> dict[str, Any]:
        """Replace (or drop) one member somewhere in a plausible input by an adversarial value."""
        rng = self.rng
        node: Any = params
        node_shape: Shape = shape
        for _ in range(6):
            if isinstance(node, dict) and isinstance(node_shape, StructureShape) and node:
                name = rng.choice(sorted(node))
                child, child_shape = node[name], node_shape.members[name]
                if rng.random() < 0.5 or not isinstance(child, (dict, list)) or not child:
                    if rng.random() < 0.15:
                        del node[name]
                    else:
                        node[name] = self.value(child_shape, name, 3)
                    return params
                node, node_shape = child, child_shape
            elif isinstance(node, list) and isinstance(node_shape, ListShape) and node:
                i = rng.randrange(len(node))
                if rng.random() < 0.4 or not isinstance(node[i], (dict, list)):
                    node[i] = self.value(node_shape.member, "", 3)
                    return params
                node, node_shape = node[i], node_shape.member
            else:
                return params
        return params

    def struct(self, shape: StructureShape, depth: int = 0) -> dict[str, Any]:
        rng = self.rng
        out: dict[str, Any] = {}
        required = set(shape.required_members)
        for name, member in shape.members.items():
            if member.serialization.get("eventpayload") or member.type_name == "structure" and member.serialization.get("eventstream"):
                continue
            if name in required:
                if rng.random() < 0.12:  # a required member missing
                    continue
            elif rng.random() < 0.55:
                continue
            out[name] = self.value(member, name, depth)
        return out


def _fix_uri_members(model: Any, op: Any, params: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """REST operations cannot be serialised without their URI labels: give each a (possibly odd) string."""
    shape = op.input_shape
    if shape is None:
        return params
    for name, member in shape.members.items():
        if member.serialization.get("location") == "uri" and not isinstance(params.get(name), str):
            params[name] = rng.choice(["nimbus-fuzz-missing", "fuzz-bucket", "x y", "a%2Fb", "日本"])
        elif member.serialization.get("location") == "uri" and params[name] in ("", " "):
            params[name] = "nimbus-fuzz-missing"
        elif member.serialization.get("location") == "uri" and len(params[name]) > 2000:
            params[name] = params[name][:2000]
        elif member.serialization.get("location") in ("header", "headers") and isinstance(params.get(name), str):
            # http.client refuses control characters in header values; that is not the server's problem
            params[name] = re.sub(r"[\x00-\x1f\x7f]", "", params[name])[:4000]
    return params


class Findings:
    def __init__(self) -> None:
        self.crashes: list[str] = []
        self.codeless: list[str] = []
        self.hangs: list[str] = []
        self.sent = 0
        self.client_side = 0
        self.unparseable: list[str] = []
        self.codes: dict[str, int] = {}
        self.examples: dict[str, list[str]] = {}

    def check(self, label: str, status: int, code: str | None, body: bytes = b"") -> None:
        self.sent += 1
        self.codes[f"{status} {code}"] = self.codes.get(f"{status} {code}", 0) + 1
        self.examples.setdefault(f"{status} {code}", []).append(label)
        if status == 400 and body.startswith(b"Invalid HTTP request received"):
            return  # refused by the HTTP parser (control characters in a header), before any Nimbus code
        if status == 500 or code == "InternalFailure" or code == "InternalError" or code == "ServiceException" and status >= 500:
            self.crashes.append(f"{label}: {status} {code}")
        elif status >= 400 and not code:
            self.codeless.append(f"{label}: {status}")


@pytest.fixture(scope="module")
def server(nimbus_server: NimbusProcess) -> NimbusProcess:
    """This module's server (conftest's ``nimbus_server``, one per module)."""
    return nimbus_server


def _existing(server: NimbusProcess) -> dict[str, list[str]]:
    """A few real resources, so fuzzed inputs also reach past the 'not found' checks."""
    s3 = server.client("s3")
    s3.create_bucket(Bucket="fuzz-bucket")
    s3.put_object(Bucket="fuzz-bucket", Key="k", Body=b"hello")
    kin = server.client("kinesis")
    kin.create_stream(StreamName="fuzz-stream", ShardCount=1)
    logs = server.client("logs")
    logs.create_log_group(logGroupName="fuzz-group")
    logs.create_log_stream(logGroupName="fuzz-group", logStreamName="fuzz-ls")
    lam = server.client("lambda")
    lam.create_function(FunctionName="fuzz-fn", Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": _zip()})
    fh = server.client("firehose")
    fh.create_delivery_stream(
        DeliveryStreamName="fuzz-ds",
        ExtendedS3DestinationConfiguration={"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::fuzz-bucket"},
    )
    rest_id = server.client("apigateway").create_rest_api(name="fuzz-api")["id"]
    http_id = server.client("apigatewayv2").create_api(Name="fuzz-http", ProtocolType="HTTP")["ApiId"]
    stream_arn = "arn:aws:kinesis:us-east-1:000000000000:stream/fuzz-stream"
    return {
        "bucket": ["fuzz-bucket"],
        "key": ["k", "nimbus-fuzz-missing"],
        "functionname": ["fuzz-fn", "arn:aws:lambda:us-east-1:000000000000:function:fuzz-fn"],
        "deliverystreamname": ["fuzz-ds"],
        "streamname": ["fuzz-stream"],
        "streamarn": [stream_arn],
        "loggroupname": ["fuzz-group"],
        "loggroupidentifier": ["fuzz-group", "arn:aws:logs:us-east-1:000000000000:log-group:fuzz-group"],
        "logstreamname": ["fuzz-ls"],
        "restapiid": [rest_id],
        "apiid": [http_id],
        "shardid": ["shardId-000000000000", "shardId-999999999999", "shard"],
        "eventsourcearn": [stream_arn],
        "qualifier": ["$LATEST", "1", "alias"],
        "uploadid": ["nimbus-fuzz-missing"],
        # API Gateway patch operations: real paths with bad values
        "=path": [
            "/name", "/description", "/throttle/rateLimit", "/throttle/burstLimit", "/quota/limit", "/quota/offset",
            "/quota/period", "/minimumCompressionSize", "/apiStages", "/binaryMediaTypes/a~1b", "/*/*/throttling/burstLimit",
            "/*/*/caching/ttlInSeconds", "/variables/x", "/deploymentId", "/tracingEnabled", "/stages", "/enabled",
        ],
        "=value": ["abc", "-1", "1e999", "nan", "", "x:y", f"{rest_id}:nope", "99999999999999999999999", "true"],
        "=from": ["/name", "", "/nope"],
    }


def _client(server: NimbusProcess, service: str, region: str = "us-east-1") -> Any:
    cfg = Config(
        parameter_validation=False,
        retries={"max_attempts": 1, "mode": "standard"},
        read_timeout=READ_TIMEOUT,
        connect_timeout=5,
    )
    return server.client(service, region, config=cfg)


def _fuzz_operations(server: NimbusProcess, findings: Findings, rng: random.Random, existing: dict[str, list[str]]) -> None:
    gen = Gen(rng, existing)
    for service in SERVED_SERVICES:
        model = load_service_model(service)
        clients = [_client(server, service), _client(server, service, "eu-west-1")]
        names = sorted(model.operation_names, key=lambda n: (n.startswith(("Delete", "Remove", "Stop", "Abort")), n))
        for op_name in names:
            if (service, op_name) in SKIP:
                continue
            op = model.operation_model(op_name)
            for variant in range(VARIANTS):
                if op.input_shape is None:
                    params = {}
                elif variant % 2:
                    params = gen.struct(op.input_shape)
                else:  # a plausible input with one adversarial member (the first one left plausible)
                    params = gen.valid(op.input_shape)
                    if variant:
                        params = gen.mutate(op.input_shape, params)
                params = _fix_uri_members(model, op, params, rng)
                client = clients[1] if variant == VARIANTS - 1 else clients[0]
                label = f"{service}.{op_name}#{variant}"
                _call(client, op_name, params, label, findings)
                if findings.crashes and findings.crashes[-1].startswith(label + ":"):
                    findings.crashes[-1] += f" params={str(params)[:300]}"


def _call(client: Any, op_name: str, params: dict[str, Any], label: str, findings: Findings) -> None:
    try:
        resp = client._make_api_call(op_name, params)
    except ClientError as e:
        status = e.response["ResponseMetadata"]["HTTPStatusCode"]
        if status == 500 and e.response.get("Error", {}).get("Code") == "500":
            # botocore's own 500 for a body it could not parse (the server logged nothing): e.g. control
            # characters echoed into an XML document
            findings.unparseable.append(f"{label}: params={str(params)[:200]}")
            return
        findings.check(label, status, e.response.get("Error", {}).get("Code"))
        return
    except ReadTimeoutError:
        findings.hangs.append(label)
        return
    except ConnectionClosedError as e:
        findings.crashes.append(f"{label}: connection closed ({e})")
        return
    except Exception:  # noqa: BLE001 - botocore refusing to serialise a deliberately wrong value client-side
        findings.client_side += 1
        return
    body = resp.get("Body") or resp.get("Payload")
    if hasattr(body, "read"):
        body.read()
        body.close()
    findings.check(label, resp["ResponseMetadata"]["HTTPStatusCode"], None)


# --- raw requests -----------------------------------------------------------------------------

def _raw(
    server: NimbusProcess, method: str, path: str, body: bytes, headers: dict[str, str], signing: str, region: str = "us-east-1",
    sign: bool = True,
) -> tuple[int, bytes, dict[str, str]]:
    url = server.endpoint + path
    req = AWSRequest(method=method, url=url, data=body, headers={"Host": f"127.0.0.1:{server.port}", **headers})
    if sign:
        SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), signing, region).add_auth(req)
    prepared = req.prepare()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=READ_TIMEOUT)
    try:
        conn.putrequest(method, prepared.url[len(server.endpoint):] or "/", skip_accept_encoding=True, skip_host=True)
        for k, v in prepared.headers.items():
            conn.putheader(k, v)
        if "Content-Length" not in prepared.headers:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        return r.status, r.read(), {k.lower(): v for k, v in r.getheaders()}
    finally:
        conn.close()


def _error_code(status: int, body: bytes, headers: dict[str, str]) -> str | None:
    if headers.get("x-amzn-errortype"):
        return headers["x-amzn-errortype"].split(":", 1)[0]
    if status < 300:
        return None
    try:
        doc = json.loads(body)
        code = doc.get("__type") or doc.get("code") or doc.get("Code")
        return str(code).rsplit("#", 1)[-1] if code else None
    except ValueError:
        m = re.search(rb"<Code>([^<]+)</Code>", body)
        return m.group(1).decode() if m else None


def _raw_cases(existing: dict[str, list[str]]) -> list[tuple[str, str, str, bytes, dict[str, str], str]]:
    deep_json = b"[" * 100_000 + b"]" * 100_000
    deep_obj = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><Tagging><TagSet><Tag><Key>&lol3;</Key>'
        b"<Value>v</Value></Tag></TagSet></Tagging>"
    )
    deep_xml = b"<a>" * 50_000 + b"</a>" * 50_000
    garbage = bytes(random.Random(SEED).randrange(256) for _ in range(2048))
    cases: list[tuple[str, str, str, bytes, dict[str, str], str]] = []
    json_targets = {
        "kinesis": ("Kinesis_20131202", ["PutRecord", "PutRecords", "GetRecords", "GetShardIterator", "CreateStream", "ListShards", "DescribeStream"]),
        "firehose": ("Firehose_20150804", ["PutRecord", "PutRecordBatch", "CreateDeliveryStream", "DescribeDeliveryStream"]),
        "logs": ("Logs_20140328", ["PutLogEvents", "GetLogEvents", "FilterLogEvents", "CreateLogGroup", "DescribeLogStreams"]),
    }
    for svc, (prefix, ops) in json_targets.items():
        for op in ops:
            h = {"X-Amz-Target": f"{prefix}.{op}", "Content-Type": "application/x-amz-json-1.1"}
            for body in (
                garbage,
                b"",
                b"null",
                b"[]",
                b'"str"',
                b"123",
                b'{"a":',
                b"\xff\xfe{}",
                deep_json,
                deep_obj,
                b'{"StreamName":"fuzz-stream","Data":"!!!not base64!!!","PartitionKey":"p"}',
                b'{"StreamName":"fuzz-stream","Data":"YQ","PartitionKey":"p"}',
                b'{"StreamName":"fuzz-stream","Records":[{"Data":"%%%","PartitionKey":"p"}]}',
                b'{"DeliveryStreamName":"fuzz-ds","Record":{"Data":"@@@@"}}',
                b'{"DeliveryStreamName":"fuzz-ds","Records":[{"Data":"a"},{"Data":null}]}',
                b'{"StreamName":1e999,"ShardCount":1e999}',
                b'{"StreamName":"fuzz-stream","ShardIteratorType":"AT_TIMESTAMP","ShardId":"shardId-000000000000","Timestamp":"not a time"}',
                b'{"StreamName":"fuzz-stream","ShardIteratorType":"AT_TIMESTAMP","ShardId":"shardId-000000000000","Timestamp":1e300}',
                b'{"ShardIterator":"AAAA","Limit":-5}',
                b'{"ShardIterator":"' + b"A" * 100 + b'"}',
                b'{"logGroupName":"fuzz-group","logStreamName":"fuzz-ls","logEvents":[{"timestamp":1e300,"message":"m"}]}',
                b'{"logGroupName":"fuzz-group","logStreamName":"fuzz-ls","logEvents":[{"timestamp":-99999999999999999999,"message":"m"}]}',
                b'{"logGroupName":"fuzz-group","startTime":"x","endTime":[]}',
                b'{"logGroupName":"fuzz-group","filterPattern":"[a, b, ((((((("}',
                b'{"logGroupName":"fuzz-group","filterPattern":"{ $.x = "}',
                b'{"StreamName":"fuzz-stream","StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/other"}',
                b'{"NextToken":"!!!garbage-token"}',
                b'{"nextToken":"!!!garbage-token","logGroupName":"fuzz-group"}',
            ):
                cases.append((svc, "POST", "/", body, h, svc))
        # unknown / weird targets and content types
        for target in ("", f"{prefix}.", f"{prefix}.NoSuchOp", "Garbage", f"{prefix}.{ops[0]}\x7f", "." * 500):
            cases.append((svc, "POST", "/", b"{}", {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"}, svc))
        cases.append((svc, "POST", "/", b"\xa1\x61a\x61", {"X-Amz-Target": f"{prefix}.{ops[0]}", "Content-Type": "application/x-amz-cbor-1.1"}, svc))
        cases.append((svc, "POST", "/", garbage, {"X-Amz-Target": f"{prefix}.{ops[0]}", "Content-Type": "application/x-amz-cbor-1.1"}, svc))
        for cbor_body in (
            b"\x81" * 100_000,  # nested arrays deeper than the stack
            b"\xa1\x80\x01",  # a map keyed by an array
            b"\xa1\xc1\x00\x01",  # a map keyed by a timestamp tag
            b"\xa1\xd8\x20\x00\x01",  # a map keyed by another tag
            b"\xa1\x69Timestamp\xc1\xfb\x7f\xf0\x00\x00\x00\x00\x00\x00",  # epoch +inf
            b"\xa1\x69Timestamp\xc1\x1b\xff\xff\xff\xff\xff\xff\xff\xff",  # epoch beyond year 9999
            b"\xa1\x69Timestamp\xc1\xfb\x7f\xf8\x00\x00\x00\x00\x00\x00",  # epoch NaN
        ):
            for op in ops:
                h = {"X-Amz-Target": f"{prefix}.{op}", "Content-Type": "application/x-amz-cbor-1.1"}
                cases.append((svc, "POST", "/", cbor_body, h, svc))
        cases.append((svc, "GET", "/", b"", {"X-Amz-Target": f"{prefix}.{ops[0]}"}, svc))
    # rest-json: Lambda and API Gateway
    for path, method in (
        ("/2015-03-31/functions", "POST"),
        ("/2015-03-31/functions/fuzz-fn/invocations", "POST"),
        ("/2015-03-31/functions/fuzz-fn/configuration", "PUT"),
        ("/2015-03-31/functions/fuzz-fn/code", "PUT"),
        ("/2015-03-31/functions/fuzz-fn/policy", "POST"),
        ("/2015-03-31/event-source-mappings/", "POST"),
        ("/2018-10-31/layers/lyr/versions", "POST"),
        ("/2015-03-31/functions/fuzz-fn/versions", "POST"),
        ("/2019-09-30/functions/fuzz-fn/event-invoke-config", "PUT"),
        ("/2021-10-31/functions/fuzz-fn/url", "POST"),
        ("/2015-03-31/functions/?MaxItems=-1&Marker=%ff%fe", "GET"),
        ("/2015-03-31/functions/?Marker=garbage!!", "GET"),
    ):
        for body in (
            garbage,
            b"null",
            b"[]",
            b'{"a":',
            deep_json,
            deep_obj,
            b'{"FunctionName":"f","Runtime":"python3.12","Role":"r","Handler":"h","Code":{"ZipFile":"!!!notb64"}}',
            b'{"FunctionName":"f2","Runtime":"python3.12","Role":"' + ROLE.encode() + b'","Handler":"app.h","Code":{"ZipFile":"UEsDBAo="}}',
            b'{"FunctionName":"f3","Runtime":"python3.12","Role":"' + ROLE.encode() + b'","Handler":"app.h","Code":{"ZipFile":"' + base64.b64encode(b"PK\x05\x06" + b"\x00" * 18) + b'"}}',
            b'{"ZipFile":"%%%"}',
            b'{"Content":{"ZipFile":"$$$"}}',
            b'{"Timeout":"ten","MemorySize":-1}',
            b'{"Environment":{"Variables":{"":"x","A":null}}}',
            b'{"EventSourceArn":"arn:aws:kinesis:us-east-1:000000000000:stream/fuzz-stream","FunctionName":"fuzz-fn","StartingPosition":"AT_TIMESTAMP","StartingPositionTimestamp":"yesterday"}',
            b'{"Action":"lambda:InvokeFunction","Principal":"*","StatementId":"s","SourceArn":"::::"}',
        ):
            cases.append(("lambda", method, path, body, {"Content-Type": "application/json"}, "lambda"))
    for path, method in (
        ("/restapis", "POST"),
        ("/restapis/nope/resources", "GET"),
        (f"/restapis/{existing['restapiid'][0]}/resources/nope", "PATCH"),
        (f"/restapis/{existing['restapiid'][0]}/deployments", "POST"),
        ("/v2/apis", "POST"),
        (f"/v2/apis/{existing['apiid'][0]}/routes", "POST"),
        (f"/v2/apis/{existing['apiid'][0]}/integrations", "POST"),
        (f"/v2/apis/{existing['apiid'][0]}/stages", "POST"),
        (f"/v2/apis/{existing['apiid'][0]}", "PATCH"),
    ):
        for body in (garbage, b"null", b"[]", b'{"a":', deep_json, b'{"name":1e999,"patchOperations":[{"op":"bogus","path":"/x"}]}',
                     b'{"patchOperations":[{"op":"replace","path":"","value":null},{"op":"add"}]}',
                     b'{"Name":"","ProtocolType":"HTTP","RouteKey":"GET /{proxy+}/{proxy+}","Target":"integrations/nope"}',
                     b'{"RouteKey":"BAD","IntegrationType":"AWS_PROXY","IntegrationUri":"arn:","PayloadFormatVersion":"9.9"}',
                     b'{"StageName":"","AutoDeploy":"yes"}'):
            cases.append(("apigateway", method, path, body, {"Content-Type": "application/json"}, "apigateway"))
    # S3 (rest-xml)
    for path, method, extra in (
        ("/fuzz-bucket?tagging", "PUT", {}),
        ("/fuzz-bucket?cors", "PUT", {}),
        ("/fuzz-bucket?notification", "PUT", {}),
        ("/fuzz-bucket?versioning", "PUT", {}),
        ("/fuzz-bucket?lifecycle", "PUT", {}),
        ("/fuzz-bucket?delete", "POST", {}),
        ("/fuzz-bucket/k?tagging", "PUT", {}),
        ("/fuzz-bucket/mp?uploadId=nope", "POST", {}),
        ("/fuzz-new-bucket", "PUT", {}),
    ):
        for body in (garbage, b"<", bomb, deep_xml, b"<Delete><Object><Key></Key></Object></Delete>",
                     b"<Delete>" + b"<Object><Key>k</Key></Object>" * 1001 + b"</Delete>",
                     b"<CreateBucketConfiguration><LocationConstraint>\x00</LocationConstraint></CreateBucketConfiguration>",
                     b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>",
                     b"<NotificationConfiguration><CloudFunctionConfiguration><CloudFunction>arn:</CloudFunction></CloudFunctionConfiguration>"
                     b"<CloudFunctionConfiguration><Event>s3:Bogus:*</Event><LambdaFunctionArn>arn:aws:lambda:eu-west-1:999999999999:function:x</LambdaFunctionArn></CloudFunctionConfiguration></NotificationConfiguration>"):
            h = {"Content-Type": "application/xml", "Content-MD5": base64.b64encode(b"\x00" * 16).decode(), **extra}
            cases.append(("s3", method, path, body, h, "s3"))
            h2 = {"Content-Type": "application/xml"}
            cases.append(("s3", method, path, body, h2, "s3"))
    for headers in (
        {"Range": "bytes=garbage"},
        {"Range": "bytes=99999999999999999999999-"},
        {"Range": "bytes=5-1"},
        {"Range": "bytes=-0"},
        {"If-Modified-Since": "yesterday"},
        {"If-Match": "\x01"},
        {"x-amz-checksum-mode": "ENABLED", "partNumber": "x"},
    ):
        cases.append(("s3", "GET", "/fuzz-bucket/k", b"", headers, "s3"))
    for path in ("/fuzz-bucket/k?partNumber=-1", "/fuzz-bucket/k?partNumber=abc", "/fuzz-bucket/k?versionId=%00",
                 "/fuzz-bucket?list-type=2&max-keys=-1", "/fuzz-bucket?list-type=2&max-keys=abc&continuation-token=!!",
                 "/fuzz-bucket?list-type=2&start-after=%ff%fe", "/fuzz-bucket?uploads&max-uploads=99999999999999999999",
                 "/fuzz-bucket?versions&version-id-marker=zzz", "/fuzz-bucket/k?uploadId=nope&max-parts=-3",
                 "/fuzz-bucket?list-type=9", "/fuzz-bucket?encoding-type=bogus", "/%2F%2F?location"):
        cases.append(("s3", "GET", path, b"", {}, "s3"))
    for headers in (
        {"x-amz-checksum-crc32": "!!!"},
        {"x-amz-checksum-sha256": "AAAA"},
        {"x-amz-checksum-crc32c": "AAAAAA==", "x-amz-sdk-checksum-algorithm": "CRC32C"},
        {"x-amz-sdk-checksum-algorithm": "BOGUS"},
        {"Content-MD5": "notbase64!!"},
        {"Content-MD5": base64.b64encode(b"short").decode()},
        {"x-amz-copy-source": "nimbus-fuzz-missing/k"},
        {"x-amz-copy-source": "/"},
        {"x-amz-copy-source": "fuzz-bucket/k?versionId=%00"},
        {"x-amz-copy-source": "fuzz-bucket/k", "x-amz-copy-source-range": "bytes=9-1"},
        {"x-amz-copy-source": "fuzz-bucket/k", "x-amz-metadata-directive": "BOGUS"},
        {"x-amz-tagging": "a=%zz&&=&b"},
        {"x-amz-storage-class": "BOGUS"},
        {"x-amz-server-side-encryption": "BOGUS"},
        {"Expires": "not a date"},
        {"x-amz-object-lock-retain-until-date": "not a date"},
        {"x-amz-meta-" + "m" * 3000: "v"},
    ):
        cases.append(("s3", "PUT", "/fuzz-bucket/fuzzed", b"data", headers, "s3"))
        cases.append(("s3", "PUT", "/fuzz-bucket/fuzzed?partNumber=1&uploadId=nope", b"data", headers, "s3"))
    return cases


def _raw_unsigned_and_bad_auth(server: NimbusProcess, findings: Findings) -> None:
    bad_auth = [
        {"Authorization": "garbage"},
        {"Authorization": "AWS4-HMAC-SHA256 Credential=/, SignedHeaders=, Signature="},
        {"Authorization": "AWS4-HMAC-SHA256 Credential=NKIATESTACCESSKEY001/x/y/z/w, SignedHeaders=host, Signature=zz"},
        {"Authorization": "AWS4-HMAC-SHA256 Credential=" + "A" * 5000, "X-Amz-Date": "garbage"},
        {"Authorization": "AWS NKIATESTACCESSKEY001:!!!"},
        {"X-Amz-Date": "29991231T000000Z"},
        {"X-Amz-Content-Sha256": "zz"},
        {"X-Amz-Content-Sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"},
    ]
    for headers in bad_auth:
        for service, method, path, extra in (
            ("kinesis", "POST", "/", {"X-Amz-Target": "Kinesis_20131202.ListStreams", "Content-Type": "application/x-amz-json-1.1"}),
            ("s3", "GET", "/fuzz-bucket/k", {}),
            ("s3", "PUT", "/fuzz-bucket/auth-obj", {}),
            ("lambda", "GET", "/2015-03-31/functions/", {}),
        ):
            status, body, rh = _raw(server, method, path, b"{}", {**extra, **headers}, service, sign=False)
            findings.check(f"raw-auth {service} {method} {path} {headers}"[:200], status, _error_code(status, body, rh), body)
    for query in (
        "/fuzz-bucket/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%ff&X-Amz-Date=x&X-Amz-Expires=-1&X-Amz-SignedHeaders=host&X-Amz-Signature=zz",
        "/fuzz-bucket/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=NKIATESTACCESSKEY001/20260101/us-east-1/s3/aws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=99999999999999999999&X-Amz-SignedHeaders=host&X-Amz-Signature=00",
        "/fuzz-bucket/k?AWSAccessKeyId=NKIATESTACCESSKEY001&Expires=abc&Signature=%%%",
        "/fuzz-bucket/k?AWSAccessKeyId=NKIATESTACCESSKEY001&Expires=99999999999999999999999&Signature=x",
    ):
        status, body, rh = _raw(server, "GET", query, b"", {}, "s3", sign=False)
        findings.check(f"raw-presign {query}", status, _error_code(status, body, rh))


def _raw_streaming(server: NimbusProcess, findings: Findings) -> None:
    """aws-chunked bodies with broken framing."""
    for body in (b"zz;chunk-signature=00\r\nabc", b"3\r\nabc", b"-1\r\n\r\n", b"ffffffffffffffff\r\nx", b"3;chunk-signature=\r\nabc\r\n0\r\n\r\n"):
        for sha in ("STREAMING-UNSIGNED-PAYLOAD-TRAILER", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"):
            headers = {
                "X-Amz-Content-Sha256": sha,
                "Content-Encoding": "aws-chunked",
                "X-Amz-Decoded-Content-Length": "3",
                "X-Amz-Trailer": "x-amz-checksum-crc32",
            }
            try:
                status, rbody, rh = _raw(server, "PUT", "/fuzz-bucket/chunked", body, headers, "s3")
            except (ConnectionError, http.client.HTTPException) as e:
                findings.crashes.append(f"raw-chunked {sha} {body!r}: {e!r}")
                continue
            findings.check(f"raw-chunked {sha} {body!r}", status, _error_code(status, rbody, rh), rbody)


def test_bad_input_never_crashes(server: NimbusProcess) -> None:
    started = time.monotonic()
    rng = random.Random(SEED)
    existing = _existing(server)
    findings = Findings()

    _fuzz_operations(server, findings, rng, existing)

    for service, method, path, body, headers, signing in _raw_cases(existing):
        try:
            status, rbody, rh = _raw(server, method, path, body, headers, signing)
        except TimeoutError:
            findings.hangs.append(f"raw {service} {method} {path}")
            continue
        label = f"raw {service} {method} {path} {headers.get('X-Amz-Target', '')} body={body[:60]!r}"
        findings.check(label, status, _error_code(status, rbody, rh), rbody)
    _raw_unsigned_and_bad_auth(server, findings)
    _raw_streaming(server, findings)

    # Lambda Invoke with bad payloads (the function exists; each call answers an error or runs quickly).
    lam = _client(server, "lambda")
    for payload in (b"not json", b"\xff\xfe", b"[" * 10_000, b"", b"null"):
        _call(lam, "Invoke", {"FunctionName": "fuzz-fn", "Payload": payload}, f"lambda.Invoke {payload[:20]!r}", findings)
    for q in ("", "999", "$LATEST:x", "a" * 200):
        _call(lam, "Invoke", {"FunctionName": "fuzz-fn", "Qualifier": q, "Payload": b"{}"}, f"lambda.Invoke q={q[:20]}", findings)
    _call(lam, "Invoke", {"FunctionName": "fuzz-fn", "InvocationType": "Bogus", "Payload": b"{}"}, "lambda.Invoke type", findings)
    _call(lam, "Invoke", {"FunctionName": "fuzz-fn", "ClientContext": "!!!notb64", "Payload": b"{}"}, "lambda.Invoke ctx", findings)
    _call(lam, "Invoke", {"FunctionName": "fuzz-fn", "ClientContext": base64.b64encode(b"[1]").decode()}, "lambda.Invoke ctx2", findings)

    with urllib.request.urlopen(server.endpoint + "/_nimbus/health", timeout=10) as r:
        assert r.status == 200

    log_text = server.logs()
    logged = sorted(set(re.findall(r"unhandled error request_id=\S+ service=(\S+) operation=(\S+)", log_text)))
    if "Exception in ASGI application" in log_text:  # raised outside the edge's handler (e.g. while sending)
        at = log_text.index("Exception in ASGI application")
        logged.append(("asgi", log_text[at:at + 1500]))
    elapsed = time.monotonic() - started
    report = (
        f"sent={findings.sent} client-side-refused={findings.client_side} elapsed={elapsed:.1f}s\n"
        f"crashes ({len(findings.crashes)}):\n  " + "\n  ".join(findings.crashes[:200]) + "\n"
        f"hangs ({len(findings.hangs)}):\n  " + "\n  ".join(findings.hangs) + "\n"
        f"errors without a code ({len(findings.codeless)}):\n  " + "\n  ".join(findings.codeless[:100]) + "\n"
        f"logged unhandled errors: {logged}\n"
        f"answers botocore could not parse (reported, not failed) ({len(findings.unparseable)}):\n  " + "\n  ".join(findings.unparseable[:50]) + "\n"
        f"answers: {sorted(findings.codes.items(), key=lambda kv: -kv[1])}"
    )
    print(report)
    if os.environ.get("NIMBUS_FUZZ_EXAMPLES"):  # which requests answered each status and code
        print({k: v[:15] for k, v in findings.examples.items()})
    Path(server.data_dir.parent / "fuzz-report.txt").write_text(report)
    assert not findings.crashes and not findings.hangs and not findings.codeless and not logged, report


def test_crashes_found_by_fuzzing_answer_aws_errors(server: NimbusProcess) -> None:
    """Regressions: each of these once answered 500 InternalFailure."""
    kin = _client(server, "kinesis")
    try:
        kin.create_stream(StreamName="fuzz-regress", ShardCount=1)
    except ClientError:
        pass
    for call in (
        lambda: kin.put_records(StreamName="fuzz-regress", Records=[{"Data": b"x", "PartitionKey": "p"}, {"Data": b"y"}]),
        lambda: kin.put_record(StreamName="fuzz-regress", Data=b"x"),
    ):
        with pytest.raises(ClientError) as err:
            call()
        assert err.value.response["Error"]["Code"] == "ValidationException"
        assert "partitionKey" in err.value.response["Error"]["Message"]
    apigw = _client(server, "apigateway")
    for stages in ([{}], [{"apiId": "x"}], [{"stage": "s"}]):
        with pytest.raises(ClientError) as err:
            apigw.create_usage_plan(name="p", apiStages=stages)
        assert err.value.response["Error"]["Code"] == "BadRequestException"
    plan = apigw.create_usage_plan(name="p")["id"]
    api = apigw.create_rest_api(name="regress")["id"]
    for path, value in (("/throttle/rateLimit", "abc"), ("/throttle/burstLimit", "1.5"), ("/quota/limit", "nan"), ("/throttle/rateLimit", "inf")):
        with pytest.raises(ClientError) as err:
            apigw.update_usage_plan(usagePlanId=plan, patchOperations=[{"op": "replace", "path": path, "value": value}])
        assert err.value.response["Error"]["Code"] == "BadRequestException", path
    with pytest.raises(ClientError) as err:
        apigw.update_rest_api(restApiId=api, patchOperations=[{"op": "replace", "path": "/minimumCompressionSize", "value": "big"}])
    assert err.value.response["Error"]["Code"] == "BadRequestException"
    assert "unhandled error" not in server.logs()
    s3 = _client(server, "s3")
    s3.create_bucket(Bucket="fuzz-regress")
    s3.put_object(Bucket="fuzz-regress", Key="k", Body=b"x")
    for value in ("\x00", "a\r\nX-Injected: 1", "日本"):
        for call in (s3.get_object, s3.head_object):
            with pytest.raises(ClientError) as err:
                call(Bucket="fuzz-regress", Key="k", ResponseContentType=value)
            assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
            if call is s3.get_object:
                assert err.value.response["Error"]["Code"] == "InvalidArgument"
    assert s3.get_object(Bucket="fuzz-regress", Key="k", ResponseContentType="text/plain; charset=é")["ContentType"] == "text/plain; charset=é"
    assert "unhandled error" not in server.logs()


BAD_HEADERS_HANDLER = '''
def handler(event, context):
    case = (event.get("rawPath") or "/").rstrip("/").rsplit("/", 1)[-1]
    return {
        "crlf": {"statusCode": 200, "headers": {"X-A": "a\\r\\nX-Injected: 1"}, "body": "x"},
        "nul": {"statusCode": 200, "headers": {"X-A": "a\\u0000b"}, "body": "x"},
        "space-name": {"statusCode": 200, "headers": {"X A": "v"}, "body": "x"},
        "unicode-name": {"statusCode": 200, "headers": {"\\u65e5\\u672c": "v"}, "body": "x"},
        "empty-name": {"statusCode": 200, "headers": {"": "v"}, "body": "x"},
        "cookie": {"statusCode": 200, "cookies": ["a=\\n"], "body": "x"},
    }.get(case, {"statusCode": 200, "headers": {"X-A": "fine\\tvalue"}, "body": "ok"})
'''


def test_function_response_with_bad_headers_is_a_malformed_response(server: NimbusProcess) -> None:
    """A function answering an HTTP API with headers HTTP cannot carry gets AWS's 500 for a malformed
    response (it once made the server drop the connection or answer a bare 500)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", BAD_HEADERS_HANDLER)
    lam = server.client("lambda")
    lam.create_function(FunctionName="fuzz-headers", Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": buf.getvalue()})
    lam.add_permission(FunctionName="fuzz-headers", StatementId="apigw", Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com")
    api = server.client("apigatewayv2").create_api(
        Name="fuzz-headers", ProtocolType="HTTP", Target="arn:aws:lambda:us-east-1:000000000000:function:fuzz-headers"
    )["ApiId"]
    base = f"{server.endpoint}/_aws/execute-api/{api}/$default/"
    with urllib.request.urlopen(base + "ok", timeout=READ_TIMEOUT) as r:
        assert (r.status, r.headers["X-A"], r.read()) == (200, "fine\tvalue", b"ok")
    for case in ("crlf", "nul", "space-name", "unicode-name", "empty-name", "cookie"):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(base + case, timeout=READ_TIMEOUT)
        assert err.value.code == 500, case
        assert json.loads(err.value.read()) == {"message": "Internal Server Error"}, case
        assert "X-Injected" not in err.value.headers, case
    assert "Exception in ASGI application" not in server.logs()
