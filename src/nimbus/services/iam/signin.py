"""``POST /_nimbus/iam/signin``: a user name and password (a login profile) for temporary keys.

The web console's "IAM user" sign-in calls it (as AWS's console signs users in at signin.aws.amazon.com,
which is no public API either). Body: ``{"account": "<id or alias, optional>", "userName": "...",
"password": "..."}``; answer: the keys (``AccessKeyId``, ``SecretAccessKey``, ``SessionToken``,
``Expiration``) and ``PasswordResetRequired``, or 401 with one message for every failure (no user, no
login profile, a wrong password, too many attempts). Mounted by the server (internal: ``/_nimbus/`` only);
the IAM service itself is loaded on the first sign-in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from nimbus.errors import ServiceError

if TYPE_CHECKING:
    from nimbus.server import Nimbus

PATH = "/_nimbus/iam/signin"
MAX_BODY = 16 * 1024


class SignIn:
    def __init__(self, core: Nimbus) -> None:
        self.core = core

    @staticmethod
    def matches(scope: dict[str, Any], headers: dict[str, str]) -> bool:
        return scope.get("path") == PATH

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        status, doc = 405, {"message": "Use POST."}
        if scope["method"] == "POST":
            status, doc = await self._sign_in(receive)
        body = orjson.dumps(doc)
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"), (b"cache-control", b"no-store"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def _sign_in(self, receive: Any) -> tuple[int, dict[str, Any]]:
        raw = bytearray()
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if len(raw) > MAX_BODY:
                return 413, {"message": "Request too large."}
            if not message.get("more_body"):
                break
        try:
            req = orjson.loads(raw)
            user, password = str(req["userName"]), str(req["password"])
            account = str(req.get("account") or "")
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return 400, {"message": "Expected {\"userName\": ..., \"password\": ...}."}
        api = self.core.api("iam")
        own = self.core.settings.account_id
        if account and account != own and account not in api.engine.account_aliases(own):
            return 401, {"message": "Your user name or password is not correct, or the user may not sign in."}
        try:
            keys = await api.logins.sign_in(own, user, password)
        except ServiceError as e:
            return 401, {"message": e.message}
        return 200, keys
