"""The web console: an ASGI sub-app under ``/_nimbus/console/`` (mounted by the server, internal).

A single page (``static/``, no build step) that does what AWS's console does for the services Nimbus serves.
Every action is an AWS API call (``calls.py``): the browser posts ``{service, operation, params, region}``
to ``api/call``; the call is signed with the signed-in user's own keys and goes through the edge, so
authentication, ``--iam enforce`` and validation apply exactly as to an SDK. Objects move between the
browser and S3 by presigned URLs (``api/presign``), never through the console.

Sign-in: an access key pair (checked with STS GetCallerIdentity), or a URL from ``nimbus console``, which is
a presigned GetCallerIdentity request: opening it proves the keys without sending the secret. A session is a
random cookie (HttpOnly, SameSite=Strict, 12 h) held in memory: a restart signs everyone out. A session
ends too when its key is deactivated, deleted or expires. API posts must carry ``X-Nimbus-Console: 1``
(a cross-site page cannot send it without a CORS preflight, which the console never grants).
With ``--auth off`` there is no sign-in: the console acts as the account's root.
"""

from __future__ import annotations

import logging
import mimetypes
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable
from urllib.parse import parse_qs, unquote

import orjson

from nimbus.console.calls import CLIENT, MAX_INLINE_FILE_BYTES, CallError, Caller, Keys, jsonable, unzip_text

if TYPE_CHECKING:
    from nimbus.config import Settings
    from nimbus.credentials import CredentialStore

log = logging.getLogger("nimbus.console")

PREFIX = "/_nimbus/console"
STATIC = Path(__file__).parent / "static"
COOKIE = "nimbus_console"
SESSION_TTL_S = 12 * 3600
MAX_SESSIONS = 10_000
MAX_REQUEST_BYTES = 12 * 1024 * 1024  # a call's JSON (inline code, a test event, a record)
MAX_PRESIGN_EXPIRES_S = 3600
LOGIN_MARKER = "X-Nimbus-Console-Login"  # the signed parameter that makes a presigned GetCallerIdentity a console sign-in link
PRESIGNABLE = {("s3", "GetObject"), ("s3", "PutObject"), ("s3", "UploadPart")}  # the browser's own transfers
# Nimbus-only endpoints the console may call for a signed-in user: (path prefix, method)
NIMBUS_ENDPOINTS = (("/_nimbus/firehose/streams", "GET"), ("/_nimbus/firehose/flush/", "POST"))

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(slots=True)
class Session:
    keys: Keys
    identity: dict[str, Any]
    expires_at: float
    issued: bool = False  # keys the server issued at a password sign-in (revoked at sign-out)
    reset_required: bool = False  # the user's password must be changed (the page asks first)


class ConsoleApp:
    def __init__(self, edge: Any, credentials: "CredentialStore", settings: "Settings") -> None:
        self.caller = Caller(edge)
        self.credentials = credentials
        self.settings = settings
        self.sessions: dict[str, Session] = {}

    @staticmethod
    def matches(scope: dict[str, Any], headers: dict[str, str]) -> bool:
        path = str(scope.get("path", ""))
        return path == PREFIX or path.startswith(PREFIX + "/")

    # --- ASGI ----------------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        path: str = scope["path"][len(PREFIX) :]
        method: str = scope["method"]
        client = scope.get("client")
        if client:
            CLIENT.set((str(client[0]), int(client[1])))
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        try:
            if path in ("", "/") or path == "/index.html":
                if path == "":
                    await _send(send, 302, [(b"location", (PREFIX + "/").encode())], b"")
                    return
                await self._static(send, "index.html", method)
            elif path.startswith("/static/"):
                await self._static(send, path[len("/static/") :], method)
            elif path == "/login" and method == "GET":
                await self._presigned_login(scope, headers, send)
            elif path.startswith("/api/"):
                await self._api(path[len("/api/") :], method, scope, headers, receive, send)
            else:
                await _json(send, 404, {"error": {"code": "NotFound", "message": "No such console page."}})
        except CallError as e:
            await _json(send, e.status if 400 <= e.status < 600 else 400, {"error": {"code": e.code, "message": e.message}, "status": e.status})
        except Exception:  # noqa: BLE001 - never a stack trace on the wire
            log.exception("console request failed path=%s", path)
            await _json(send, 500, {"error": {"code": "InternalFailure", "message": "The console failed; see the server log."}})

    async def _static(self, send: Send, name: str, method: str) -> None:
        target = (STATIC / unquote(name)).resolve()
        if method not in ("GET", "HEAD") or not target.is_relative_to(STATIC.resolve()) or not target.is_file():
            await _json(send, 404, {"error": {"code": "NotFound", "message": "No such console file."}})
            return
        ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype in ("application/javascript", "text/javascript"):
            ctype += "; charset=utf-8"
        body = target.read_bytes()
        await _send(send, 200, [
            (b"content-type", ctype.encode()), (b"cache-control", b"no-cache"),
            (b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
            (b"content-security-policy", b"default-src 'self'; connect-src 'self' http: https:; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"),
        ], b"" if method == "HEAD" else body)

    # --- sessions ------------------------------------------------------------------------------

    def _session(self, headers: dict[str, str]) -> Session | None:
        if not self.settings.auth:
            root = self.credentials.root
            keys = Keys(root.access_key_id, root.secret_access_key)
            return Session(keys, {"Arn": root.arn, "Account": root.account_id, "UserId": root.account_id}, float("inf"))
        token = _cookie(headers.get("cookie", ""), COOKIE)
        session = self.sessions.get(token) if token else None
        if session is None:
            return None
        now = time.time()
        creds = self.credentials.lookup(session.keys.access_key_id, now)
        if now >= session.expires_at or creds is None or creds.secret_access_key != session.keys.secret_access_key:
            self.sessions.pop(token, None)  # type: ignore[arg-type]
            return None
        return session

    def _new_session(self, keys: Keys, identity: dict[str, Any], *, issued: bool = False, reset_required: bool = False) -> str:
        now = time.time()
        if len(self.sessions) >= MAX_SESSIONS:
            for token in [t for t, s in self.sessions.items() if s.expires_at <= now] or list(self.sessions)[: MAX_SESSIONS // 10]:
                self.sessions.pop(token, None)
        token = secrets.token_urlsafe(32)
        creds = self.credentials.lookup(keys.access_key_id, now)
        expires = now + SESSION_TTL_S
        if creds is not None and creds.expires_at is not None:
            expires = min(expires, creds.expires_at)
        self.sessions[token] = Session(keys, identity, expires, issued, reset_required)
        return token

    @staticmethod
    def _cookie_header(token: str, max_age: int) -> tuple[bytes, bytes]:
        return (b"set-cookie", f"{COOKIE}={token}; Path={PREFIX}; HttpOnly; SameSite=Strict; Max-Age={max_age}".encode())

    async def _whoami(self, keys: Keys, host: str) -> dict[str, Any]:
        region = self.settings.default_region
        found = await self.caller.call(keys, region, host, "sts", "GetCallerIdentity", {})
        return {k: found.get(k) for k in ("Arn", "Account", "UserId")}

    async def _password_login(self, req: dict[str, Any], host: str, send: Send) -> None:
        """An IAM user's name and password (a login profile), through IAM's sign-in endpoint."""
        doc = {"userName": str(req.get("userName") or ""), "password": str(req.get("password") or ""),
               "account": str(req.get("account") or "")}
        if not doc["userName"] or not doc["password"]:
            raise CallError("ValidationError", "Enter a user name and a password.")
        answer = await self.caller.dispatch("POST", f"http://{host}/_nimbus/iam/signin", {"host": host, "content-type": "application/json"},
                                            orjson.dumps(doc))
        try:
            found = orjson.loads(bytes(answer.body))
        except orjson.JSONDecodeError:
            found = {}
        if answer.status != 200:
            raise CallError("SignInFailed", str(found.get("message") or "Sign-in failed."), 401)
        keys = Keys(found["AccessKeyId"], found["SecretAccessKey"], found["SessionToken"])
        reset = bool(found.get("PasswordResetRequired"))
        token = self._new_session(keys, await self._whoami(keys, host), issued=True, reset_required=reset)
        await _json(send, 200, {"identity": self.sessions[token].identity, "passwordResetRequired": reset},
                    [self._cookie_header(token, SESSION_TTL_S)])

    async def _presigned_login(self, scope: dict[str, Any], headers: dict[str, str], send: Send) -> None:
        """``nimbus console``'s URL: a presigned STS GetCallerIdentity whose path is the console's login page."""
        raw_query = scope.get("query_string", b"").decode("latin-1")
        q = parse_qs(raw_query)
        credential = (q.get("X-Amz-Credential") or [""])[0]
        host = headers.get("host", self.settings.endpoint_url.split("//", 1)[1])
        scope_parts = credential.split("/")
        # only a link made for the console: presigned STS GetCallerIdentity carrying the console's marker (so a
        # presigned URL made for anything else, an S3 ListBuckets or an EKS-style token, signs nobody in)
        meant = (q.get("Action") == ["GetCallerIdentity"] and q.get(LOGIN_MARKER) == ["1"]
                 and len(scope_parts) == 5 and scope_parts[3] == "sts")
        answer = await self.caller.dispatch("GET", f"http://{host}/?{raw_query}", {"host": host}, b"") if meant else None
        key_id = scope_parts[0]
        creds = self.credentials.lookup(key_id) if key_id else None
        if answer is None or answer.status != 200 or creds is None:
            body = b"<!doctype html><title>Nimbus console</title><p>This sign-in link is not valid (it expired, or its keys are no longer active). Run <code>nimbus console</code> again, or <a href=\"./\">sign in with an access key</a>.</p>"
            await _send(send, 403, [(b"content-type", b"text/html; charset=utf-8")], body)
            return
        keys = Keys(creds.access_key_id, creds.secret_access_key, creds.session_token)
        token = self._new_session(keys, await self._whoami(keys, host))
        await _send(send, 303, [(b"location", (PREFIX + "/").encode()), self._cookie_header(token, SESSION_TTL_S), (b"cache-control", b"no-store")], b"")

    # --- /api/ ---------------------------------------------------------------------------------

    async def _api(self, name: str, method: str, scope: dict[str, Any], headers: dict[str, str], receive: Receive, send: Send) -> None:
        host = headers.get("host") or self.settings.endpoint_url.split("//", 1)[1]
        if name == "session" and method == "GET":
            session = self._session(headers)
            if session is None:
                await _json(send, 401, {"error": {"code": "SignInRequired", "message": "Sign in to use the console."}, "authOff": False})
                return
            await _json(send, 200, {"identity": session.identity, "defaultRegion": self.settings.default_region,
                                    "passwordResetRequired": session.reset_required,
                                    "authOff": not self.settings.auth, "accountId": self.settings.account_id,
                                    "endpoint": f"http://{host}"})
            return
        if method != "POST":
            raise CallError("MethodNotAllowed", "Use POST.", 405)
        if headers.get("x-nimbus-console") != "1":
            raise CallError("Forbidden", "Console API requests carry the X-Nimbus-Console header.", 403)
        body = await _read(receive)
        try:
            req = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError as e:
            raise CallError("SerializationException", "The request is not valid JSON.") from e
        if not isinstance(req, dict):
            raise CallError("SerializationException", "The request must be a JSON object.")
        if name == "login" and req.get("userName") is not None:
            await self._password_login(req, host, send)
            return
        if name == "login":
            keys = Keys(str(req.get("accessKeyId") or "").strip(), str(req.get("secretAccessKey") or "").strip(),
                        str(req.get("sessionToken") or "").strip() or None)
            if not keys.access_key_id or not keys.secret_access_key:
                raise CallError("ValidationError", "Enter an access key ID and a secret access key.")
            try:
                identity = await self._whoami(keys, host)
            except CallError as e:
                raise CallError("SignInFailed", f"Those keys were refused: {e.message or e.code}", 401) from e
            token = self._new_session(keys, identity)
            await _json(send, 200, {"identity": identity}, [self._cookie_header(token, SESSION_TTL_S)])
            return
        if name == "logout":
            token = _cookie(headers.get("cookie", ""), COOKIE)
            ended = self.sessions.pop(token, None) if token else None
            if ended is not None and ended.issued:
                self.credentials.revoke(ended.keys.access_key_id)  # the password sign-in's keys end with it
            await _json(send, 200, {}, [self._cookie_header("", 0)])
            return
        session = self._session(headers)
        if session is None:
            raise CallError("SignInRequired", "Sign in to use the console.", 401)
        region = str(req.get("region") or self.settings.default_region)
        params = req.get("params") or {}
        if not isinstance(params, dict):
            raise CallError("ParamValidation", "params must be a JSON object.")
        if name == "call":
            service, operation = str(req.get("service") or ""), str(req.get("operation") or "")
            data = await self.caller.call(session.keys, region, host, service, operation, params)
            if (service, operation) == ("iam", "ChangePassword"):
                session.reset_required = False
            await _json(send, 200, {"data": jsonable(data)})
        elif name == "presign":
            service, operation = str(req.get("service") or ""), str(req.get("operation") or "")
            if (service, operation) not in PRESIGNABLE:
                raise CallError("NotSupportedByConsole", f"The console presigns only {sorted(PRESIGNABLE)}.")
            expires = max(1, min(int(req.get("expires") or 300), MAX_PRESIGN_EXPIRES_S))
            url = self.caller.presign(session.keys, region, host, service, operation, params, expires)
            await _json(send, 200, {"url": url})
        elif name == "nimbus":
            # Nimbus's own conveniences that are no AWS operation (the CLI's `nimbus firehose flush/describe`)
            path, verb = str(req.get("path") or ""), str(req.get("method") or "GET")
            if not any(path.startswith(p) and verb == m for p, m in NIMBUS_ENDPOINTS):
                raise CallError("NotSupportedByConsole", f"The console does not call {verb} {path}.")
            answer = await self.caller.dispatch(verb, f"http://{host}{path}", {"host": host}, b"")
            try:
                doc = orjson.loads(bytes(answer.body)) if answer.body else {}
            except orjson.JSONDecodeError:
                doc = {"message": bytes(answer.body[:500]).decode("utf-8", "replace")}
            if answer.status >= 300:
                raise CallError("NimbusEndpointFailed", str(doc.get("message") or answer.status), answer.status)
            await _json(send, 200, {"data": doc})
        elif name == "function-code":
            await self._function_code(session, region, host, params, send)
        else:
            raise CallError("NotFound", f"No console API named {name!r}.", 404)

    async def _function_code(self, session: Session, region: str, host: str, params: dict[str, Any], send: Send) -> None:
        """A function's package as text files for the code editor (GetFunction, then its Code.Location)."""
        found = await self.caller.call(session.keys, region, host, "lambda", "GetFunction", params)
        code = found.get("Code") or {}
        location = code.get("Location")
        if not location:
            await _json(send, 200, {"files": None, "reason": f"The function's code is a {code.get('RepositoryType') or 'package'} without a download location."})
            return
        size = int((found.get("Configuration") or {}).get("CodeSize") or 0)
        if size > MAX_INLINE_FILE_BYTES:
            await _json(send, 200, {"files": None, "reason": "The deployment package is too large to edit inline."})
            return
        answer = await self.caller.dispatch("GET", str(location), {"host": host}, b"")
        if answer.status != 200:
            raise CallError("CodeUnavailable", f"The function's code could not be fetched ({answer.status}).", 502)
        files = unzip_text(bytes(answer.body))
        await _json(send, 200, {"files": files, "reason": None if files is not None else "The package holds binary files or is too large to edit inline."})


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        k, _, v = part.strip().partition("=")
        if k == name and v:
            return v
    return None


async def _read(receive: Receive) -> bytes:
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
        if len(body) > MAX_REQUEST_BYTES:
            raise CallError("RequestEntityTooLarge", "The request is too large for the console.", 413)
        if not message.get("more_body"):
            break
    return bytes(body)


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _json(send: Send, status: int, doc: Any, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    await _send(send, status, [(b"content-type", b"application/json"), (b"cache-control", b"no-store"), *(extra or [])], orjson.dumps(doc))
