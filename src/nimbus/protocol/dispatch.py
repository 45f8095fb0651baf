"""``ServiceProtocol``: one served model's operations, routing and codec, behind one object.

The edge asks it which operation a request is (``operation_for_target`` for JSON protocols,
``match_rest``/``match_request`` for REST ones), then ``parse`` for the validated input and ``serialize``
or ``serialize_error`` for the response. Plans are compiled at first use of each operation and cached.
"""

from __future__ import annotations

import re
import threading
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from botocore.model import OperationModel, ServiceModel

from nimbus.errors import NotImplementedOperation, SerializationError, ServiceError
from nimbus.protocol import errors as wire_errors
from nimbus.protocol.http import HttpRequest, HttpResponse
from nimbus.protocol.json import JsonCodec, drop_nulls
from nimbus.protocol.models import load_service_model
from nimbus.protocol.query import QueryCodec, form_parameters
from nimbus.protocol.rest import RestCodec
from nimbus.protocol.restjson import RestJsonCodec
from nimbus.protocol.restxml import RestXmlCodec
from nimbus.protocol.rpcv2cbor import RpcV2CborCodec
from nimbus.protocol.validate import Validator

_LABEL = re.compile(r"\{([^}]+)\}")
MAX_INFLATED_BODY = 64 * 1024 * 1024  # a gzipped request body inflates to at most this (the edge's own buffer limit)


@dataclass(slots=True, frozen=True)
class Route:
    """One REST operation's request-line template, compiled for matching."""

    operation: str
    method: str
    pattern: re.Pattern[str]
    labels: tuple[tuple[str, bool], ...]  # (label, greedy) in capture order
    literal_query: tuple[tuple[str, str | None], ...]  # "?uploads" -> ("uploads", None)
    required_query: tuple[str, ...]
    required_headers: tuple[str, ...]
    literal_segments: int
    deprecated: bool
    index: int
    min_slashes: int  # how many "/" a path the pattern matches can hold: at least this many,
    max_slashes: int | None  # at most this many (None: a greedy label takes any number)


def compile_route(operation: OperationModel, index: int) -> Route:
    uri = operation.http.get("requestUri", "/")
    path, _, query = uri.partition("?")
    literal_query: list[tuple[str, str | None]] = []
    for part in filter(None, query.split("&")):
        key, eq, value = part.partition("=")
        literal_query.append((key, value if eq else None))
    labels: list[tuple[str, bool]] = []
    regex = ["^"]
    literal_segments = 0
    segments = path.split("/")
    trailing_slash = len(segments) > 1 and segments[-1] == ""
    if trailing_slash:
        segments = segments[:-1]
    ends_greedy = False
    any_greedy = False
    for position, segment in enumerate(segments):
        if position:
            regex.append("/")
        if "{" not in segment:
            if segment:
                literal_segments += 1
            regex.append(re.escape(segment))
            continue
        last = 0
        for found in _LABEL.finditer(segment):
            regex.append(re.escape(segment[last : found.start()]))
            label = found.group(1)
            greedy = label.endswith("+")
            any_greedy = any_greedy or greedy
            labels.append((label.rstrip("+"), greedy))
            regex.append("(.+)" if greedy else "([^/]+)")
            ends_greedy = greedy and found.end() == len(segment)
            last = found.end()
        regex.append(re.escape(segment[last:]))
    # labels other than greedy ones hold no "/", so the pattern fixes how many a path may have
    min_slashes = len(segments) - 1
    max_slashes: int | None = None if any_greedy else min_slashes
    if path == "/":
        regex = ["^/?"]
        min_slashes, max_slashes = 0, 1
    elif not ends_greedy:
        regex.append("/?")
        if max_slashes is not None:
            max_slashes += 1
    regex.append("$")
    required_query: list[str] = []
    required_headers: list[str] = []
    shape = operation.input_shape
    if shape is not None:
        for name in shape.required_members:
            member = shape.members[name]
            location = member.serialization.get("location")
            wire = str(member.serialization.get("name", name))
            if location == "querystring":
                required_query.append(wire)
            elif location == "header":
                required_headers.append(wire.lower())
    return Route(
        operation=operation.name,
        method=operation.http.get("method", "POST").upper(),
        pattern=re.compile("".join(regex), re.DOTALL),
        labels=tuple(labels),
        literal_query=tuple(literal_query),
        required_query=tuple(required_query),
        required_headers=tuple(required_headers),
        literal_segments=literal_segments,
        deprecated=bool(operation.deprecated),
        index=index,
        min_slashes=min_slashes,
        max_slashes=max_slashes,
    )


@dataclass(slots=True)
class _Candidates:
    """The routes that may match a path with a given number of "/": those without a literal query, and
    those with one under their first literal query key (a request lacking that key cannot match them)."""

    plain: list[Route]
    by_query_key: dict[str, list[Route]]


class RouteIndex:
    """One method's routes, grouped so a request's pattern matches run only on routes it can match: by
    the number of "/" in the path (exact for label-only templates, a minimum for greedy ones) and by the
    first literal query key. Pruning only: every candidate is still checked exactly as before, and the
    best-scoring match wins, so results do not depend on the index."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes
        finite = [r.max_slashes for r in routes if r.max_slashes is not None]
        # any count at or past the cap matches only greedy routes (whose minimums are all below it)
        self.cap = max(finite + [r.min_slashes for r in routes] + [0]) + 1
        self._by_slashes = [self._group(n) for n in range(self.cap + 1)]

    def _group(self, slashes: int) -> _Candidates:
        group = _Candidates([], {})
        for route in self.routes:
            if route.min_slashes > slashes or (route.max_slashes is not None and route.max_slashes < slashes):
                continue
            if route.literal_query:
                group.by_query_key.setdefault(route.literal_query[0][0], []).append(route)
            else:
                group.plain.append(route)
        return group

    def candidates(self, path: str, query_keys: dict[str, str]) -> list[Route]:
        group = self._by_slashes[min(path.count("/"), self.cap)]
        if not group.by_query_key or not query_keys:
            return group.plain
        found = group.plain
        for key in query_keys:
            more = group.by_query_key.get(key)
            if more:
                found = found + more
        return found


class ServiceProtocol:
    """Routing, parsing, validation and serialisation for one AWS service model."""

    def __init__(self, service_name: str, protocol: str | None = None) -> None:
        """``protocol``: another of the model's ``protocols`` than its default (CloudWatch's model lists
        smithy-rpc-v2-cbor, json and query; the edge picks one per request, see ``for_wire``)."""
        self.service_name = service_name
        self.model: ServiceModel = load_service_model(service_name)
        self.protocol: str = self.model.protocol
        if protocol is not None and protocol != self.protocol:
            if protocol not in self.model.metadata.get("protocols", ()):
                raise ValueError(f"{service_name} is not served over {protocol!r}")
            self.protocol = protocol
        self._variants: dict[str, ServiceProtocol] = {self.protocol: self}
        self._compressed_requests: bool | None = None
        self.codes = wire_errors.input_error_codes(service_name, self.protocol)
        self.validator = Validator(self.codes)
        self.target_prefix: str | None = self.model.metadata.get("targetPrefix")
        self.json_version: str = self.model.metadata.get("jsonVersion", "1.0")
        self._operations: dict[str, OperationModel] = {}
        self._streaming_inputs: dict[str, bool] = {}
        self._lock = threading.Lock()
        self._routes: dict[str, RouteIndex] | None = None
        self._json: JsonCodec | None = None
        self._cbor: Any = None  # CborCodec, built on the first CBOR request (JSON protocols only)
        self._rest: RestCodec | None = None
        self._query: QueryCodec | None = None
        self._rpcv2: RpcV2CborCodec | None = None
        if self.protocol == "json":
            self._json = JsonCodec(self.model, self.codes)
        elif self.protocol == "rest-json":
            self._rest = RestJsonCodec(self.model, self.codes)
        elif self.protocol == "rest-xml":
            self._rest = RestXmlCodec(self.model, self.codes)
        elif self.protocol == "query":
            self._query = QueryCodec(self.model, self.codes)
        elif self.protocol == "smithy-rpc-v2-cbor":
            self._rpcv2 = RpcV2CborCodec(self.model, self.codes)
        else:
            raise ValueError(f"unsupported protocol {self.protocol!r} for {service_name}")

    def for_wire(self, protocol: str) -> ServiceProtocol:
        """This service's codec for the wire protocol a request came in (itself, for its model's default)."""
        found = self._variants.get(protocol)
        if found is None:
            with self._lock:
                found = self._variants.get(protocol)
                if found is None:
                    found = self._variants[protocol] = ServiceProtocol(self.service_name, protocol)
        return found

    # -- operations --------------------------------------------------------------------------------
    def operation_model(self, operation: str) -> OperationModel:
        found = self._operations.get(operation)
        if found is None:
            if operation not in self.model.operation_names:
                raise NotImplementedOperation(f"Unknown operation {operation} for {self.service_name}")
            found = self._operations[operation] = self.model.operation_model(operation)
        return found

    def operation_for_target(self, target: str) -> str | None:
        prefix, dot, name = target.rpartition(".")
        if not dot or prefix != self.target_prefix or name not in self.model.operation_names:
            return None
        return name

    def operation_for_action(self, request: HttpRequest) -> tuple[str, dict[str, str]]:
        """The query protocol's operation (its ``Action`` parameter) and the request's flat parameters,
        which ``parse`` then takes as its ``path_params`` (so the form is read once)."""
        assert self._query is not None
        self.inflate(request)
        flat = form_parameters(request, self.codes.malformed)
        return self._query.action(flat), flat

    def inflate(self, request: HttpRequest) -> None:
        """A body the client gzipped (botocore compresses CloudWatch PutMetricData bodies over 10 KB: the
        model's ``requestcompression`` trait) replaced by its inflated bytes, once. Only for models with that
        trait: elsewhere (S3) Content-Encoding describes the stored object, not the request."""
        encoding = request.headers.get("content-encoding")
        if not encoding or "gzip" not in encoding.lower() or not isinstance(request.body, (bytes, bytearray)):
            return
        if self._compressed_requests is None:
            operations = self.model._service_description.get("operations", {})
            self._compressed_requests = any("requestcompression" in op for op in operations.values())
        if not self._compressed_requests:
            return
        inflater = zlib.decompressobj(wbits=31)
        try:
            body = inflater.decompress(bytes(request.body), MAX_INFLATED_BODY + 1)
        except zlib.error as exc:
            raise SerializationError(f"Could not decompress the gzip request body: {exc}", code=self.codes.malformed) from exc
        if len(body) > MAX_INFLATED_BODY or inflater.unconsumed_tail:
            raise ServiceError("Request entity too large", code="RequestEntityTooLargeException", status=413)
        request.body = body
        request.headers = {k: v for k, v in request.headers.items() if k != "content-encoding"}

    def _route_table(self) -> dict[str, RouteIndex]:
        if self._routes is None:
            with self._lock:
                if self._routes is None:
                    table: dict[str, list[Route]] = {}
                    for index, name in enumerate(self.model.operation_names):
                        route = compile_route(self.operation_model(name), index)
                        table.setdefault(route.method, []).append(route)
                    self._routes = {method: RouteIndex(routes) for method, routes in table.items()}
        return self._routes

    def match_rest(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        headers: dict[str, str],
        *,
        raw_path: str | None = None,
    ) -> tuple[str, dict[str, str]] | None:
        """Find the operation of a REST request. Pass ``raw_path`` (still percent-encoded) when you have
        it: labels are then cut from the raw path and decoded one by one, so an encoded ``/`` stays
        inside its label. Without it, ``path`` (decoded) is matched as is."""
        if self._rpcv2 is not None:  # one path per operation: /service/<ServiceName>/operation/<Operation>
            op = self._rpcv2.route(method, path)
            return (op, {}) if op is not None else None
        index = self._route_table().get(method.upper())
        if index is None:
            return None
        target = raw_path if raw_path is not None else path
        target = target.split("?", 1)[0] or "/"
        query_keys: dict[str, str] = {}
        for key, value in query:
            query_keys.setdefault(key, value)
        best: tuple[tuple[int, ...], Route, re.Match[str]] | None = None
        for route in index.candidates(target, query_keys):
            found = route.pattern.match(target)
            if found is None:
                continue
            ok = True
            for key, value in route.literal_query:
                present = query_keys.get(key)
                if present is None or (value is not None and present != value):
                    ok = False
                    break
            if not ok:
                continue
            required_present = sum(1 for k in route.required_query if k in query_keys) + sum(
                1 for h in route.required_headers if h in headers
            )
            satisfied = required_present == len(route.required_query) + len(route.required_headers)
            score = (
                int(satisfied),
                route.literal_segments,
                len(route.literal_query),
                required_present,
                int(not route.deprecated),
                -route.index,
            )
            if best is None or score > best[0]:
                best = (score, route, found)
        if best is None:
            return None
        _, route, found = best
        decode = raw_path is not None
        params = {
            label: unquote(value) if decode else value
            for (label, _greedy), value in zip(route.labels, found.groups())
        }
        return route.operation, params

    def match_request(self, request: HttpRequest) -> tuple[str, dict[str, str]] | None:
        return self.match_rest(
            request.method, request.path, request.query, request.headers, raw_path=request.raw_path or None
        )

    # -- codec -------------------------------------------------------------------------------------
    def is_streaming_input(self, operation: str) -> bool:
        """True when the input payload is a blob marked ``streaming`` (S3 PutObject, UploadPart): parse()
        then passes the request's ByteStream through. botocore's own ``has_streaming_input`` also counts
        any blob payload (Lambda Invoke), which Nimbus reads whole."""
        found = self._streaming_inputs.get(operation)
        if found is None:
            found = self._streaming_inputs[operation] = self._payload_streams(self.operation_model(operation).input_shape)
        return found

    def output_is_streaming(self, operation: str) -> bool:
        return self._payload_streams(self.operation_model(operation).output_shape)

    @staticmethod
    def _payload_streams(shape: Any) -> bool:
        if shape is None:
            return False
        payload = shape.serialization.get("payload")
        if payload is None:
            return False
        member = shape.members[payload]
        return member.type_name in ("blob", "string") and bool(member.serialization.get("streaming"))

    def parse(
        self,
        operation: str,
        request: HttpRequest,
        path_params: dict[str, str] | None = None,
        *,
        validate: bool = True,
    ) -> dict[str, Any]:
        model = self.operation_model(operation)
        self.inflate(request)
        if self._json is not None:
            body = request.body
            if not isinstance(body, (bytes, bytearray)):
                raise SerializationError("request body was not read before parsing", code=self.codes.malformed)
            if is_cbor(request.headers):
                params = self._cbor_codec().parse(model, bytes(body))
            elif not is_json(request.headers):
                raise ServiceError(
                    f"The content type {request.headers.get('content-type')!r} is not one this JSON-protocol service "
                    f"reads (application/x-amz-json-{self.json_version}).",
                    code="UnknownOperationException", status=400,
                )
            else:
                scanned = self._json.scan(model, body) if validate else None
                if scanned is not None:  # a plain record batch, in C (no dicts per record)
                    params, stand_in = scanned
                    try:
                        self.validator.validate(model.input_shape, stand_in)
                        return params
                    except ServiceError:
                        pass  # the general parser below reports it, with the rest of the body's errors
                params = self._json.parse(model, bytes(body))
            params = drop_nulls(params)  # a member sent as null is absent, as AWS reads it
        elif self._rpcv2 is not None:
            body = request.body
            if not isinstance(body, (bytes, bytearray)):
                raise SerializationError("request body was not read before parsing", code=self.codes.malformed)
            params = self._rpcv2.parse(model, bytes(body))
        elif self._query is not None:
            # path_params: the flat parameters operation_for_action read (else the request's own)
            params = self._query.parse(model, path_params if path_params is not None else form_parameters(request, self.codes.malformed))
        else:
            assert self._rest is not None
            params = self._rest.parse(model, request, path_params)
            if self.protocol == "rest-json":
                params = drop_nulls(params)
        if validate:
            self.validator.validate(model.input_shape, params)
        return params

    def _cbor_codec(self) -> Any:
        if self._cbor is None:
            from nimbus.protocol.cbor import CborCodec

            self._cbor = CborCodec(self.codes.malformed)
        return self._cbor

    def serialize(
        self, operation: str, output: dict[str, Any] | None, request_id: str, *, cbor: bool = False
    ) -> HttpResponse:
        model = self.operation_model(operation)
        if cbor and self._json is not None:
            return self._cbor_codec().serialize(model, output, request_id)  # type: ignore[no-any-return]
        if self._json is not None:
            return self._json.serialize(model, output, request_id)
        if self._query is not None:
            return self._query.serialize(model, output, request_id)
        if self._rpcv2 is not None:
            return self._rpcv2.serialize(model, output, request_id)
        assert self._rest is not None
        return self._rest.serialize(model, output, request_id)

    def serialize_error(
        self,
        error: ServiceError,
        request_id: str,
        operation: str | None = None,
        *,
        head: bool = False,
        cbor: bool = False,
    ) -> HttpResponse:
        if cbor and self._json is not None:
            from nimbus.protocol.cbor import serialize_error as cbor_error

            return cbor_error(error, request_id, head=head)
        if self._rpcv2 is not None:
            return self._rpcv2.serialize_error(error, request_id, head=head)
        response = wire_errors.serialize_error(
            self.protocol, error, request_id, json_version=self.json_version, head=head,
            namespace=self._query.namespace if self._query is not None else "",
        )
        if self._json is not None and "awsQueryCompatible" in self.model.metadata:
            # a former query service over JSON (CloudWatch): the query code, for SDKs that map by it
            response.headers.append(("x-amzn-query-error", f"{error.code};{'Sender' if error.sender_fault else 'Receiver'}"))
        return response


_JSON_MEDIA_TYPES = frozenset(("application/x-amz-json-1.0", "application/x-amz-json-1.1", "application/json"))


def is_json(headers: dict[str, str]) -> bool:
    """A JSON-protocol request's Content-Type: absent, or a JSON media type (either protocol version; AWS
    routes by it and answers a request it cannot route, such as a form post, UnknownOperationException)."""
    value = headers.get("content-type")
    if value is None or value.startswith("application/x-amz-json-1."):
        return True
    return value.split(";", 1)[0].strip().lower() in _JSON_MEDIA_TYPES


def is_cbor(headers: dict[str, str]) -> bool:
    """A JSON-protocol request sent as CBOR (``application/x-amz-cbor-1.1``, the AWS SDK for Java)."""
    return headers.get("content-type", "").startswith("application/x-amz-cbor")
