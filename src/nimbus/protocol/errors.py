"""The one error serializer: ServiceError -> the protocol's error response. Also the per-service
table of the codes the codec itself raises for bad input.

Wire formats (aws-contracts.md 0.1, 0.2):
  json       {"__type": Code, "message": ...}            + X-Amzn-ErrorType
  rest-json  X-Amzn-ErrorType: Code; {"Type": "User"|"Service", "message": ..., "Message": ...}
  rest-xml   <Error><Code/><Message/>...<RequestId/><HostId/></Error>; HEAD -> status only
  query      <ErrorResponse xmlns=..><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

import orjson

from nimbus.errors import ServiceError, ValidationError
from nimbus.protocol.http import HttpResponse
from nimbus.protocol.timestamps import to_iso8601


@dataclass(frozen=True, slots=True)
class MemberError:
    """What a service answers, instead of the framework's "1 validation error detected: ...", when one
    member's value breaks the model (S3 checks some headers' enums itself, with its own code and words).

    fields: the error's extra elements in order, each a fixed text or None for the value sent."""

    code: str
    message: str
    fields: tuple[tuple[str, str | None], ...] = ()
    status: int = 400

    def error(self, value: Any) -> ServiceError:
        extra = {name: value if text is None else text for name, text in self.fields}
        return ValidationError(self.message, code=self.code, status=self.status, **extra)


@dataclass(frozen=True, slots=True)
class InputErrorCodes:
    """Codes for input the codec rejects before any handler runs.

    missing:   a required member is absent
    invalid:   a model constraint fails (length, range, enum, pattern)
    malformed: the body cannot be parsed, or a member has the wrong type
    headers:   a header member (by lower-case name) whose failure is the service's own error instead
    show_values: whether a constraint's message quotes the value ("Value 'x' at 'name' ..."); IAM and STS
               leave it out ("Value at 'tags' failed to satisfy constraint: ...")
    payload:   the code (with S3's schema wording) when every failure is inside the operation's XML payload
               (a CORS or lifecycle document missing a required element): S3 validates those as documents
    """

    missing: str
    invalid: str
    malformed: str
    headers: Mapping[str, MemberError] = field(default_factory=dict, compare=False, hash=False)
    show_values: bool = True
    payload: str | None = None  # the code when only a member inside an XML payload fails (S3: MalformedXML)


def _argument(message: str, header: str) -> MemberError:
    return MemberError("InvalidArgument", message, (("ArgumentName", header), ("ArgumentValue", None)))


# S3 checks these headers' enums itself (the codes, words and elements S3 answers; reimplementations that
# mirror S3's errors, e.g. MinIO's table and LocalStack's AWS-validated provider, agree):
S3_HEADER_ERRORS: dict[str, MemberError] = {
    "x-amz-metadata-directive": _argument("Unknown metadata directive.", "x-amz-metadata-directive"),
    "x-amz-tagging-directive": _argument("Unknown tagging directive.", "x-amz-tagging-directive"),
    "x-amz-storage-class": MemberError(
        "InvalidStorageClass", "The storage class you specified is not valid", (("StorageClassRequested", None),)
    ),
}


# What each AWS service answers when input breaks its model. Real services differ: Firehose and Kinesis
# answer the framework's ValidationException ("1 validation error detected: ...", as terraform-provider-aws's
# acceptance runs against Firehose show) and keep their modeled InvalidArgumentException for the service's own
# rules, Logs InvalidParameterException, Lambda InvalidParameterValueException
# for missing members but the generic ValidationException for constraint failures and
# InvalidRequestContentException for unparseable JSON, S3 InvalidArgument / MalformedXML, and both API
# Gateway models BadRequestException.
INPUT_ERROR_CODES: dict[str, InputErrorCodes] = {
    # CloudWatch: MissingParameter for absent members, its modeled ValidationError (ValidationException) for the rest
    "cloudwatch": InputErrorCodes("MissingParameter", "ValidationError", "SerializationException"),
    "firehose": InputErrorCodes("ValidationException", "ValidationException", "SerializationException"),
    "kinesis": InputErrorCodes("ValidationException", "ValidationException", "SerializationException"),
    "logs": InputErrorCodes("InvalidParameterException", "InvalidParameterException", "SerializationException"),
    "lambda": InputErrorCodes(
        "InvalidParameterValueException", "ValidationException", "InvalidRequestContentException"
    ),
    "s3": InputErrorCodes("InvalidArgument", "InvalidArgument", "MalformedXML", S3_HEADER_ERRORS, payload="MalformedXML"),
    "apigateway": InputErrorCodes("BadRequestException", "BadRequestException", "BadRequestException"),
    "apigatewayv2": InputErrorCodes("BadRequestException", "BadRequestException", "BadRequestException"),
}

# Any other model: by protocol.
DEFAULT_INPUT_ERROR_CODES: dict[str, InputErrorCodes] = {
    "json": InputErrorCodes("ValidationException", "ValidationException", "SerializationException"),
    "rest-json": InputErrorCodes("ValidationException", "ValidationException", "SerializationException"),
    "rest-xml": InputErrorCodes("InvalidArgument", "InvalidArgument", "MalformedXML"),
    # IAM and STS: "1 validation error detected: Value null at 'roleName' ..." is a ValidationError
    "query": InputErrorCodes("ValidationError", "ValidationError", "MalformedQueryString", show_values=False),
}


def input_error_codes(service_name: str, protocol: str) -> InputErrorCodes:
    return INPUT_ERROR_CODES.get(service_name) or DEFAULT_INPUT_ERROR_CODES.get(
        protocol, DEFAULT_INPUT_ERROR_CODES["json"]
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    return str(value)


def _field_text(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return to_iso8601(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def host_id(request_id: str) -> str:
    """S3's x-amz-id-2: opaque, derived from the request id so logs can correlate the two."""
    return base64.b64encode(hashlib.sha256(request_id.encode()).digest()).decode("ascii")


def serialize_error(
    protocol: str,
    error: ServiceError,
    request_id: str,
    *,
    json_version: str = "1.1",
    head: bool = False,
    namespace: str = "",
) -> HttpResponse:
    headers: list[tuple[str, str]]
    if protocol == "query":
        # <ErrorResponse><Error>: the query protocol's errors (IAM, STS), which botocore also reads for the
        # rest-xml services other than S3 (Nimbus serves none of them: it answers their requests NotImplemented)
        headers = [("x-amzn-RequestId", request_id), ("Content-Type", "text/xml")]
        ns = f' xmlns="{escape(namespace)}"' if namespace else ""
        parts = [
            f"<ErrorResponse{ns}><Error><Type>", "Sender" if error.sender_fault else "Receiver", "</Type><Code>",
            escape(error.code), "</Code><Message>", escape(error.message), "</Message>",
        ]
        for name, value in error.fields.items():
            if value is not None and name not in ("Type", "Code", "Message"):
                parts.append(f"<{name}>{escape(_field_text(value))}</{name}>")
        parts.append(f"</Error><RequestId>{escape(request_id)}</RequestId></ErrorResponse>")
        body = b"" if head else "".join(parts).encode("utf-8")
    elif protocol == "rest-xml":
        headers = [("x-amz-request-id", request_id), ("x-amz-id-2", host_id(request_id))]
        body = b""
        if not head and error.status != 304:  # HTTP forbids a body on 304 Not Modified
            headers.append(("Content-Type", "application/xml"))
            parts = [
                '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>',
                escape(error.code),
                "</Code><Message>",
                escape(error.message),
                "</Message>",
            ]
            for name, value in error.fields.items():
                if value is None or name in ("Code", "Message", "RequestId", "HostId"):
                    continue
                parts.append(f"<{name}>{escape(_field_text(value))}</{name}>")
            parts.append(f"<RequestId>{escape(request_id)}</RequestId><HostId>{host_id(request_id)}</HostId></Error>")
            body = "".join(parts).encode("utf-8")
    else:
        doc: dict[str, Any]
        if protocol == "json":
            doc = {"__type": error.code, "message": error.message}
            content_type = f"application/x-amz-json-{json_version}"
        else:
            doc = {
                "Type": "User" if error.sender_fault else "Service",
                "message": error.message,
                "Message": error.message,
            }
            content_type = "application/json"
        for name, value in error.fields.items():
            if value is not None:
                doc[name] = value
        headers = [
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", error.code),
            ("Content-Type", content_type),
        ]
        body = b"" if head else orjson.dumps(doc, default=_json_default)
    for name, value in error.headers.items():
        headers.append((name, value))
    return HttpResponse(status=error.status, headers=headers, body=body)
