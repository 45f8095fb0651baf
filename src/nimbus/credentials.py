"""Who may call Nimbus: the root key pair, and short-lived scoped keys issued to function environments.

Root credentials come from NIMBUS_ACCESS_KEY_ID / NIMBUS_SECRET_ACCESS_KEY, else from
``<data-dir>/credentials.json`` (mode 0600), else they are generated on first start, stored there and
printed once. Scoped keys (``ASIA...`` with a session token) live in memory: the environments they
were issued to die with the server.
"""

from __future__ import annotations

import os
import secrets
import string
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

CREDENTIALS_FILE = "credentials.json"
_ALNUM_UPPER = string.ascii_uppercase + string.digits


@dataclass(slots=True, frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None
    expires_at: float | None = None  # epoch seconds
    principal: str = "root"
    account_id: str = "000000000000"

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at


def _new_key_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALNUM_UPPER) for _ in range(16))


def _new_secret() -> str:
    return secrets.token_urlsafe(30)[:40]


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
    def __init__(self, root: Credentials, account_id: str) -> None:
        self.root = Credentials(root.access_key_id, root.secret_access_key, account_id=account_id)
        self.account_id = account_id
        self._keys: dict[str, Credentials] = {self.root.access_key_id: self.root}

    def lookup(self, access_key_id: str, now: float | None = None) -> Credentials | None:
        creds = self._keys.get(access_key_id)
        if creds is None:
            return None
        if creds.expired(time.time() if now is None else now):
            self._keys.pop(access_key_id, None)
            return None
        return creds

    def issue(self, principal: str, ttl_seconds: float = 12 * 3600) -> Credentials:
        """Issue a scoped temporary key pair (for a function environment)."""
        creds = Credentials(
            _new_key_id("ASIA"),
            _new_secret(),
            session_token=secrets.token_urlsafe(48),
            expires_at=time.time() + ttl_seconds,
            principal=principal,
            account_id=self.account_id,
        )
        self._keys[creds.access_key_id] = creds
        return creds

    def revoke(self, access_key_id: str) -> None:
        if access_key_id != self.root.access_key_id:
            self._keys.pop(access_key_id, None)
