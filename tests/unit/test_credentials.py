"""The credential store's durable keys: STS sessions and IAM users' long-term keys survive a new store on the
same metadata (a restart); expired sessions and inactive or deleted user keys are not accepted."""

from __future__ import annotations

import time
from pathlib import Path

from nimbus.credentials import CredentialStore, Credentials
from nimbus.storage.sqlite import SqliteMetadataStore

ACCOUNT = "000000000000"


def store(metadata: SqliteMetadataStore) -> CredentialStore:
    s = CredentialStore(Credentials("NKIAROOT000000000000", "root-secret"), ACCOUNT)
    s.bind(metadata)
    return s


def test_sessions_and_user_keys_outlive_the_store(tmp_path: Path) -> None:
    db = SqliteMetadataStore(tmp_path / "metadata.db")
    try:
        first = store(db)
        session = first.issue("assumed-role/r/s", 900, user_id="AROAX:s", durable=True)
        short = first.issue("assumed-role/r/t", 1, durable=True)
        memory_only = first.issue("assumed-role/f/fn", 900)
        key = first.create_user_key("user/dev/alice", "AIDAALICE")
        assert key.access_key_id.startswith("AKIA") and len(key.access_key_id) == 20
        assert key.arn == f"arn:aws:iam::{ACCOUNT}:user/dev/alice" and key.expires_at is None

        later = store(db)  # a restart
        got = later.lookup(session.access_key_id)
        assert got is not None and (got.secret_access_key, got.session_token, got.user_id) == (
            session.secret_access_key, session.session_token, "AROAX:s")
        assert later.lookup(memory_only.access_key_id) is None  # function keys die with the server
        assert later.lookup(short.access_key_id, now=time.time() + 5) is None
        assert later.lookup(key.access_key_id) == key

        later.set_user_key_active(key.access_key_id, False)
        assert later.lookup(key.access_key_id) is None and store(db).lookup(key.access_key_id) is None
        later.set_user_key_active(key.access_key_id, True)
        assert store(db).lookup(key.access_key_id) == key
        later.delete_user_key(key.access_key_id)
        assert later.lookup(key.access_key_id) is None and store(db).lookup(key.access_key_id) is None
    finally:
        db.close()


def test_expired_sessions_are_dropped_at_bind(tmp_path: Path) -> None:
    db = SqliteMetadataStore(tmp_path / "metadata.db")
    try:
        s = store(db)
        s.issue("assumed-role/r/s", 1, durable=True)
        assert db.count(CredentialStore.KIND) == 1
        CredentialStore(Credentials("NKIAROOT000000000000", "x"), ACCOUNT).bind(db, now=time.time() + 10)
        assert db.count(CredentialStore.KIND) == 0
    finally:
        db.close()


def test_expired_sessions_are_swept_while_serving(tmp_path: Path) -> None:
    db = SqliteMetadataStore(tmp_path / "metadata.db")
    try:
        s = store(db)
        for _ in range(5):
            s.issue("assumed-role/r/s", 1, durable=True)
            s.issue("assumed-role/f/fn", 1)
        live = s.issue("assumed-role/r/live", 3600, durable=True)
        assert db.count(CredentialStore.KIND) == 6
        assert s.sweep(now=time.time() + 5) == 10  # the ten one-second keys, in memory and on disk
        assert db.count(CredentialStore.KIND) == 1 and s.lookup(live.access_key_id) == live
        assert s.lookup(s.root.access_key_id) == s.root
    finally:
        db.close()
