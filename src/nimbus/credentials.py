"""Who may call Nimbus: the root key pair, and short-lived scoped keys issued to function environments.

Root credentials come from NIMBUS_ACCESS_KEY_ID / NIMBUS_SECRET_ACCESS_KEY, else from
``<data-dir>/credentials.json`` (mode 0600), else they are generated on first start, stored there and
printed once. Scoped keys (``ASIA...`` with a session token) live in memory: the environments they
were issued to die with the server.
"""

from __future__ import annotations

import base64
import os
import secrets
import string
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

CREDENTIALS_FILE = "credentials.json"
_ALNUM_UPPER = string.ascii_uppercase + string.digits


@dataclass(slots=True, frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None
    expires_at: float | None = None  # epoch seconds
    # whom the keys speak for: "root", or an STS session: "assumed-role/<role>/<session>" (a role's,
    # including a function environment's) or "federated-user/<name>"
    principal: str = "root"
    account_id: str = "000000000000"
    user_id: str = ""  # STS GetCallerIdentity's UserId; "" is the account id (root)
    # an STS session's session policies (AssumeRole's Policy and PolicyArns, as JSON documents): under
    # --iam enforce they limit what the role's policies grant the session
    session_policies: tuple[str, ...] = ()

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    @property
    def arn(self) -> str:
        """The caller's ARN, as STS GetCallerIdentity and API Gateway's identity name it."""
        if self.principal == "root":
            return f"arn:aws:iam::{self.account_id}:root"
        if self.principal.startswith(("assumed-role/", "federated-user/")):
            return f"arn:aws:sts::{self.account_id}:{self.principal}"
        if self.principal.startswith("user/"):
            return f"arn:aws:iam::{self.account_id}:{self.principal}"
        return f"arn:aws:sts::{self.account_id}:assumed-role/{self.principal}"


def _new_key_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALNUM_UPPER) for _ in range(16))


def _new_secret() -> str:
    """40 characters of base64, as AWS's secret access keys look (letters, digits, ``/`` and ``+``)."""
    return base64.b64encode(secrets.token_bytes(30)).decode("ascii")


def load_or_create_root(data_dir: Path, access_key_id: str | None, secret: str | None) -> tuple[Credentials, bool]:
    """Return (root credentials, created_now). Explicit values win over the stored file."""
    if access_key_id and secret:
        return Credentials(access_key_id, secret), False
    path = data_dir / CREDENTIALS_FILE
    if path.exists():
        doc = orjson.loads(path.read_bytes())
        return Credentials(doc["access_key_id"], doc["secret_access_key"]), False
    creds = Credentials(_new_key_id("NKIA"), _new_secret())
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, orjson.dumps({"access_key_id": creds.access_key_id, "secret_access_key": creds.secret_access_key}))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    os.chmod(path, 0o600)
    return creds, True


def read_stored_root(data_dir: Path) -> Credentials | None:
    """For client-side commands: the root credentials a local server stored, if readable."""
    path = data_dir / CREDENTIALS_FILE
    try:
        doc = orjson.loads(path.read_bytes())
        return Credentials(doc["access_key_id"], doc["secret_access_key"])
    except (OSError, ValueError, KeyError):
        return None


class CredentialStore:
    """The keys Nimbus accepts: root, keys issued to function environments (in memory: the environments
    die with the server) and STS sessions (``durable``: kept in the metadata store until they expire, so
    keys a user got from ``aws sts assume-role`` work across a restart, as on AWS)."""

    KIND = "sts.session"
    USER_KEYS = "iam.key"  # IAM users' long-term keys: {"k", "s", "p", "a", "u", "active"}

    def __init__(self, root: Credentials, account_id: str) -> None:
        self.root = Credentials(root.access_key_id, root.secret_access_key, account_id=account_id)
        self.account_id = account_id
        self._keys: dict[str, Credentials] = {self.root.access_key_id: self.root}
        self._metadata: Any = None
        self._next_sweep = 0.0  # time.time() after which issue() drops the expired sessions

    def bind(self, metadata: Any, now: float | None = None) -> None:
        """Keep durable sessions and users' keys in ``metadata`` (a MetadataStore) and load them; expired
        sessions are dropped (``sweep``)."""
        self._metadata = metadata
        for _, doc in metadata.list(self.KIND):
            self._keys.setdefault(doc["k"], Credentials(
                doc["k"], doc["s"], session_token=doc["t"], expires_at=doc["e"], principal=doc["p"],
                account_id=doc["a"], user_id=doc.get("u", ""), session_policies=tuple(doc.get("sp") or ()),
            ))
        for _, doc in metadata.list(self.USER_KEYS):
            if doc["active"]:
                self._keys.setdefault(doc["k"], self._user_key(doc))
        self.sweep(now)

    @staticmethod
    def _user_key(doc: dict[str, Any]) -> Credentials:
        return Credentials(doc["k"], doc["s"], principal=doc["p"], account_id=doc["a"], user_id=doc["u"])

    # -- IAM users' long-term keys (AKIA...), written in the caller's transaction --------------------
    def create_user_key(self, principal: str, user_id: str) -> Credentials:
        """A new active long-term key pair for the IAM user ``principal`` (``user/<path><name>``)."""
        assert self._metadata is not None, "bind() first"
        creds = Credentials(_new_key_id("AKIA"), _new_secret(), principal=principal, account_id=self.account_id,
                            user_id=user_id)
        doc = {"k": creds.access_key_id, "s": creds.secret_access_key, "p": principal, "a": self.account_id,
               "u": user_id, "active": True}
        self._metadata.put(self.USER_KEYS, creds.access_key_id, doc)
        self._keys[creds.access_key_id] = creds
        return creds

    def set_user_key_active(self, access_key_id: str, active: bool) -> None:
        self._update_user_key(access_key_id, active=active)

    def set_user_key_principal(self, access_key_id: str, principal: str) -> None:
        """The user was renamed or moved (IAM UpdateUser): the key now speaks for ``principal``."""
        self._update_user_key(access_key_id, p=principal)

    def _update_user_key(self, access_key_id: str, **changes: Any) -> None:
        doc = self._metadata.get(self.USER_KEYS, access_key_id) if self._metadata is not None else None
        if doc is None:
            return
        doc.update(changes)
        self._metadata.put(self.USER_KEYS, access_key_id, doc)
        self.forget_uncommitted([access_key_id])  # memory as the document now says

    def delete_user_key(self, access_key_id: str) -> None:
        if self._metadata is not None:
            self._metadata.delete(self.USER_KEYS, access_key_id)
        self._keys.pop(access_key_id, None)

    def forget_uncommitted(self, access_key_ids: list[str]) -> None:
        """Make these keys in memory what their stored documents say (active ones as stored, others dropped):
        after a change, or after a transaction that created, re-activated, renamed or deleted them rolled back."""
        for key in access_key_ids:
            doc = self._metadata.get(self.USER_KEYS, key) if self._metadata is not None else None
            if doc is None or not doc["active"]:
                self._keys.pop(key, None)
            else:
                self._keys[key] = self._user_key(doc)

    def lookup(self, access_key_id: str, now: float | None = None) -> Credentials | None:
        creds = self._keys.get(access_key_id)
        if creds is None:
            return None
        if creds.expired(time.time() if now is None else now):
            self._keys.pop(access_key_id, None)
            return None
        return creds

    def issue(
        self, principal: str, ttl_seconds: float = 12 * 3600, *, user_id: str = "", durable: bool = False,
        session_policies: tuple[str, ...] = (),
    ) -> Credentials:
        """Issue a temporary key pair (``ASIA...`` with a session token): for a function environment, or
        (``durable``) an STS session."""
        now = time.time()
        creds = Credentials(
            _new_key_id("ASIA"),
            _new_secret(),
            session_token=secrets.token_urlsafe(48),
            expires_at=now + ttl_seconds,
            principal=principal,
            account_id=self.account_id,
            user_id=user_id,
            session_policies=session_policies,
        )
        if durable and self._metadata is not None:
            doc = {
                "k": creds.access_key_id, "s": creds.secret_access_key, "t": creds.session_token,
                "e": creds.expires_at, "p": creds.principal, "a": creds.account_id, "u": creds.user_id,
            }
            if session_policies:
                doc["sp"] = list(session_policies)
            self._metadata.put(self.KIND, creds.access_key_id, doc)
        self._keys[creds.access_key_id] = creds
        if now >= self._next_sweep:
            self.sweep(now)
        return creds

    SWEEP_EVERY_S = 300.0

    def sweep(self, now: float | None = None) -> int:
        """Forget the expired temporary keys (in memory, and the durable sessions' documents), so a script that
        assumes roles in a loop does not grow the server for ever. Run by issue() at most every 5 minutes.
        Returns how many were dropped."""
        now = time.time() if now is None else now
        self._next_sweep = now + self.SWEEP_EVERY_S
        expired = [k for k, c in self._keys.items() if c.expired(now)]
        for key in expired:
            self._keys.pop(key, None)
        if self._metadata is not None:
            stale = [key for key, doc in self._metadata.list(self.KIND) if doc["e"] <= now]
            if stale:
                with self._metadata.transaction():
                    for key in stale:
                        self._metadata.delete(self.KIND, key)
        return len(expired)

    def revoke(self, access_key_id: str) -> None:
        if access_key_id != self.root.access_key_id:
            self._keys.pop(access_key_id, None)
