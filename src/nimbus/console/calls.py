"""The console's way into the server: AWS API calls, signed and dispatched in process.

The console is a client like the CLI (ARCHITECTURE.md: "Nimbus's own CLI and console are conveniences over
the same API"). A call from the browser names a service, an operation and its parameters as JSON; here
botocore serializes it with the service's model, SigV4 signs it with the signed-in user's keys and the
request goes through the edge's ASGI app as any SDK's would (authentication, IAM enforcement, validation,
the same codecs), without a socket. The answer is parsed back with botocore's parser.

botocore is imported on the first call, so a server whose console is never opened pays nothing for it.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as _dt
import io
import zipfile
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Awaitable, Callable
from urllib.parse import unquote, urlsplit

ASGIApp = Callable[[dict[str, Any], Callable[[], Awaitable[dict[str, Any]]], Callable[[dict[str, Any]], Awaitable[None]]], Awaitable[None]]

# the browser's address, set per console request: the AWS request it makes comes from there (aws:SourceIp)
CLIENT: ContextVar[tuple[str, int]] = ContextVar("nimbus_console_client", default=("127.0.0.1", 0))

MAX_ANSWER_BYTES = 16 * 1024 * 1024  # a larger answer (an object, a function's package) is fetched by URL instead
MAX_INLINE_FILE_BYTES = 1024 * 1024  # the code editor's limit per file, and per package (AWS's console: 3 MB)


@dataclass(frozen=True, slots=True)
class Keys:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None


class CallError(Exception):
    """An AWS error answer (code and message as the service sent them) or a request the console refused."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class Answer:
    __slots__ = ("status", "headers", "body")

    def __init__(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = bytearray()


class Caller:
    """Sign and dispatch AWS API calls to ``app`` (the edge) in process."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._session: Any = None
        self._models: dict[str, Any] = {}

    def _model(self, service: str) -> Any:
        model = self._models.get(service)
        if model is None:
            import botocore.session

            if self._session is None:
                self._session = botocore.session.get_session()
            try:
                model = self._session.get_service_model(service)
            except Exception as e:  # noqa: BLE001 - botocore's UnknownServiceError and friends
                raise CallError("UnknownService", f"No AWS service is named {service!r}.") from e
            self._models[service] = model
        return model

    def _request(self, keys: Keys, region: str, host: str, service: str, operation: str, params: dict[str, Any]) -> Any:
        """The botocore AWSRequest for a call, not yet signed."""
        from botocore.awsrequest import create_request_object, prepare_request_dict
        from botocore.exceptions import ParamValidationError
        from botocore.serialize import create_serializer

        model = self._model(service)
        try:
            op = model.operation_model(operation)
        except Exception as e:  # noqa: BLE001 - OperationNotFoundError
            raise CallError("UnknownOperation", f"{service} has no operation {operation!r}.") from e
        serializer = create_serializer(model.metadata["protocol"], include_validation=True)
        try:
            params = decode_params(params)
            if service == "s3":
                _s3_param_handlers(params)
            request_dict = serializer.serialize_to_request(params, op)
        except ParamValidationError as e:
            raise CallError("ParamValidation", str(e)) from e
        except (TypeError, ValueError) as e:
            raise CallError("ParamValidation", f"Invalid parameters: {e}") from e
        prepare_request_dict(request_dict, endpoint_url=f"http://{host}")
        request_dict["context"] = {}
        return create_request_object(request_dict), model, op

    @staticmethod
    def _auth(keys: Keys, model: Any, region: str, *, query_expires: int | None = None) -> Any:
        from botocore import auth
        from botocore.credentials import Credentials

        creds = Credentials(keys.access_key_id, keys.secret_access_key, keys.session_token)
        name = model.signing_name
        if query_expires is not None:
            cls = auth.S3SigV4QueryAuth if name == "s3" else auth.SigV4QueryAuth
            return cls(creds, name, region, expires=query_expires)
        return (auth.S3SigV4Auth if name == "s3" else auth.SigV4Auth)(creds, name, region)

    async def call(self, keys: Keys, region: str, host: str, service: str, operation: str, params: dict[str, Any]) -> Any:
        """The parsed answer of a call; raises CallError with the AWS code for an error answer."""
        from botocore.parsers import create_parser
        from botocore.response import StreamingBody

        request, model, op = self._request(keys, region, host, service, operation, params)
        if op.has_event_stream_output:
            raise CallError("NotSupportedByConsole", f"{operation} answers an event stream; the console does not call it.")
        self._auth(keys, model, region).add_auth(request)
        prepared = request.prepare()
        answer = await self.dispatch(prepared.method, prepared.url, dict(prepared.headers.items()), prepared.body or b"")
        body = bytes(answer.body)
        from botocore.awsrequest import HeadersDict

        response = {"status_code": answer.status, "headers": HeadersDict(answer.headers), "body": body, "context": {"operation_name": operation}}
        if op.has_streaming_output and answer.status < 300:
            response["body"] = StreamingBody(io.BytesIO(body), len(body))
        parsed = create_parser(model.metadata["protocol"]).parse(response, op.output_shape)
        if answer.status >= 300:
            error = parsed.get("Error") or {}
            raise CallError(str(error.get("Code") or answer.status), str(error.get("Message") or ""), answer.status)
        parsed.pop("ResponseMetadata", None)
        return parsed

    def presign(self, keys: Keys, region: str, host: str, service: str, operation: str, params: dict[str, Any], expires: int) -> str:
        """A presigned URL for the call (an object's download or upload from the browser itself)."""
        request, model, _op = self._request(keys, region, host, service, operation, params)
        self._auth(keys, model, region, query_expires=expires).add_auth(request)
        return str(request.prepare().url)

    async def dispatch(self, method: str, url: str, headers: dict[str, str], body: bytes | bytearray | str) -> Answer:
        """One HTTP request through the edge app, in process."""
        if isinstance(body, str):
            body = body.encode()
        parts = urlsplit(url)
        raw_path = parts.path or "/"
        if not any(k.lower() == "host" for k in headers):
            headers = {**headers, "host": parts.netloc}  # what botocore signed; an HTTP client would send it
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": unquote(raw_path),
            "raw_path": raw_path.encode("latin-1"),
            "query_string": parts.query.encode("latin-1"),
            "headers": [(k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in headers.items()]
            + ([(b"content-length", str(len(body)).encode())] if "content-length" not in {k.lower() for k in headers} else []),
            "client": CLIENT.get(),
            "server": (parts.hostname or "127.0.0.1", parts.port or 80),
        }
        done = asyncio.Event()
        sent = [False]

        async def receive() -> dict[str, Any]:
            if not sent[0]:
                sent[0] = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            await done.wait()  # the app asks again only to learn of a disconnect
            return {"type": "http.disconnect"}

        answer = Answer()

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer.status = int(message["status"])
                for k, v in message.get("headers", []):
                    name = k.decode("latin-1").lower()
                    value = v.decode("latin-1")
                    answer.headers[name] = f"{answer.headers[name]},{value}" if name in answer.headers else value
            elif message["type"] == "http.response.body":
                answer.body += message.get("body", b"")
                if len(answer.body) > MAX_ANSWER_BYTES:
                    raise CallError("AnswerTooLarge", "The answer is too large for the console; download it instead.", 413)

        try:
            await self.app(scope, receive, send)
        finally:
            done.set()
        return answer


def decode_params(value: Any) -> Any:
    """The browser's JSON parameters as botocore takes them: ``{"$b64": "..."}`` is a blob given in base64,
    ``{"$zip": {"name": "text", ...}}`` a zip archive of those files (inline function code)."""
    if isinstance(value, dict):
        if len(value) == 1:
            if "$b64" in value:
                try:
                    return base64.b64decode(str(value["$b64"]), validate=True)
                except ValueError as e:
                    raise CallError("ParamValidation", "A $b64 value is not valid base64.") from e
            if "$zip" in value and isinstance(value["$zip"], dict):
                return zip_files({str(k): str(v) for k, v in value["$zip"].items()})
        return {k: decode_params(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_params(v) for v in value]
    return value


def zip_files(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in sorted(files.items()):
            if not name or name.startswith("/") or ".." in name.split("/"):
                raise CallError("ParamValidation", f"Invalid file name in the code: {name!r}")
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, text.encode())
    return buf.getvalue()


def unzip_text(data: bytes) -> dict[str, str] | None:
    """A package's files as text for the code editor, or None when it cannot be edited inline (binary files,
    over the size limit: AWS's console says the same for large packages)."""
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return None
    files: dict[str, str] = {}
    total = 0
    for info in z.infolist():
        if info.is_dir():
            continue
        total += info.file_size
        if total > MAX_INLINE_FILE_BYTES:
            return None
        try:
            files[info.filename] = z.read(info).decode("utf-8")
        except UnicodeDecodeError:
            return None
    return files


def jsonable(value: Any) -> Any:
    """A parsed answer as JSON: timestamps in ISO 8601, blobs as text when they are UTF-8 (else ``{"$b64"}``)."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    if hasattr(value, "read") and callable(value.read):
        value = value.read()
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return {"$b64": base64.b64encode(value).decode()}
    return value


def _s3_param_handlers(params: dict[str, Any]) -> None:
    """What boto3 does to S3 parameters before serializing them (botocore's own handlers, which this call
    path does not run otherwise): ``CopySource`` as a dict (Bucket, Key, VersionId) becomes the quoted
    string, and an SSE-C key gets its MD5 member (and is base64-encoded by the handler, as boto3 sends it)."""
    from botocore import handlers

    if isinstance(params.get("CopySource"), dict):
        handlers.handle_copy_source_param(params)
    if "SSECustomerKey" in params:
        handlers.sse_md5(params)
    if "CopySourceSSECustomerKey" in params:
        handlers.copy_source_sse_md5(params)
