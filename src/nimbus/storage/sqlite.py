"""SqliteMetadataStore: the MetadataStore on one SQLite file in WAL mode with ``synchronous=FULL``.

Every committed write is fsync'd to the WAL before the call returns, so it survives kill -9 and power
loss. Documents are orjson bytes in one ``documents(kind, key, doc)`` table; the schema evolves through
the numbered scripts in ``migrations/`` recorded in ``schema_migrations``. One connection shared by the
event loop and worker threads, serialised by a ``TransactionLock``; calls are synchronous on purpose
(sub-millisecond, no thread hop). Reads from outside a transaction go through a second, read-only
connection: in WAL mode a reader sees every committed transaction and never waits for a writer, so a
``get`` on the event loop does not stall behind a commit's fsync running in a worker thread. (A ``get``
made while no transaction is open at all uses the writer's connection instead: its page cache survives
its own commits, whereas every commit makes the read-only connection drop its whole cache.)

Small committed reads are also remembered in memory (``_Reads``): a read answered from there costs a
dict lookup instead of a query (about 4 µs: locks, a statement, a cursor), which is most of a cheap
list or describe call. Every write bumps a generation number once it is committed; a remembered read is
used only while the generation it was made under is still the current one, so it is never older than the
latest commit.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from nimbus.storage.base import Doc, StorageError, prefix_end
from nimbus.storage.txlock import TransactionLock, _current_task

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_GET = "SELECT doc FROM documents WHERE kind = ? AND key = ?"
_PUT = (
    "INSERT INTO documents (kind, key, doc) VALUES (?, ?, ?) "
    "ON CONFLICT (kind, key) DO UPDATE SET doc = excluded.doc"
)
_INSERT = "INSERT OR IGNORE INTO documents (kind, key, doc) VALUES (?, ?, ?)"
CHECKPOINT_INTERVAL_S = 0.1
READS_ENTRIES = 256  # remembered reads; all are dropped when full
READS_ENTRY_BYTES = 8192  # a read whose documents are larger is not remembered


class _Reads:
    """Committed reads remembered by (statement, parameters), tagged with the write generation they were
    made under. ``generation`` is bumped after every commit (and rollback), under the store's lock; a read
    takes the generation *before* it queries, so a result that might miss a commit carries a generation
    older than that commit's bump and is never served after it."""

    __slots__ = ("generation", "entries")

    def __init__(self) -> None:
        self.generation = 0
        self.entries: dict[tuple[str, tuple[object, ...]], tuple[int, list[Any]]] = {}

    def get(self, key: tuple[str, tuple[object, ...]]) -> list[Any] | None:
        hit = self.entries.get(key)
        if hit is not None and hit[0] == self.generation:
            return hit[1]
        return None

    def put(self, key: tuple[str, tuple[object, ...]], generation: int, rows: list[Any]) -> None:
        if len(rows) > 64 or sum(len(r[-1]) if isinstance(r[-1], bytes) else 8 for r in rows) > READS_ENTRY_BYTES:
            return
        entries = self.entries
        if len(entries) >= READS_ENTRIES:
            entries.clear()
        entries[key] = (generation, rows)

    def bump(self) -> None:
        self.generation += 1


def load_migrations() -> list[tuple[int, str, str]]:
    """The packaged migrations as (version, file name, SQL), in version order."""
    found: list[tuple[int, str, str]] = []
    for entry in resources.files("nimbus.storage.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if versions != list(range(1, len(found) + 1)):
        raise StorageError(f"metadata migrations are not numbered 1..n: {versions}")
    return found


class SqliteMetadataStore:
    """MetadataStore on SQLite. ``path`` is created (with its directory) if missing."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Owner-only (the documents include STS session secrets); SQLite gives its -wal and -shm files the
        # database file's permissions.
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        os.chmod(path, 0o600)
        self._path = path
        self._lock = TransactionLock()
        # isolation_level=None: no implicit transactions; BEGIN/COMMIT are ours alone.
        self._db: sqlite3.Connection | None = sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=False
        )
        mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StorageError(f"{path}: SQLite refused WAL mode (got {mode!r})")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._migrate()
        self._reads = _Reads()
        self._reader_lock = threading.Lock()
        self._reader: sqlite3.Connection | None = sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=False
        )
        self._reader.execute("PRAGMA query_only=ON")
        self._reader.execute("PRAGMA busy_timeout=5000")
        # A thread of its own checkpoints the WAL every CHECKPOINT_INTERVAL_S. SQLite's automatic checkpoint
        # (in the COMMIT that crosses 1,000 WAL pages) stays on, because only a checkpoint made between two
        # commits lets the next one start the WAL over; but it then finds the pages already copied, and
        # costs one fsync instead of milliseconds of copying in a commit the event loop may be waiting for.
        self._checkpoint_stop = threading.Event()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name="nimbus-sqlite-checkpoint", daemon=True
        )
        self._checkpointer.start()

    # -------------------------------------------------------------------------------------- plumbing

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise StorageError("metadata store is closed")
        return self._db

    def _migrate(self) -> None:
        db = self._conn
        db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at_ms INTEGER NOT NULL)"
        )
        applied = {row[0] for row in db.execute("SELECT version FROM schema_migrations")}
        for version, name, sql in load_migrations():
            if version in applied:
                continue
            db.execute("BEGIN IMMEDIATE")
            try:
                # executescript would COMMIT first; run statement by statement inside our transaction.
                for statement in _split_sql(sql):
                    db.execute(statement)
                db.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)", (version, name, int(time.time() * 1000))
                )
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            log.info("applied metadata migration version=%d name=%s", version, name)

    @property
    def schema_version(self) -> int:
        row = self._conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
        return int(row[0])

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Commit everything inside atomically. Nested blocks are savepoints of the outer transaction."""
        with self._lock.hold() as depth:
            db = self._conn
            if depth == 1:
                db.execute("BEGIN IMMEDIATE")
                try:
                    try:
                        yield
                    except BaseException:
                        db.execute("ROLLBACK")
                        raise
                    db.execute("COMMIT")
                finally:
                    self._reads.bump()
            else:
                savepoint = f"sp{depth}"
                db.execute(f"SAVEPOINT {savepoint}")
                try:
                    yield
                except BaseException:
                    db.execute(f"ROLLBACK TO {savepoint}")
                    db.execute(f"RELEASE {savepoint}")
                    raise
                db.execute(f"RELEASE {savepoint}")

    # -------------------------------------------------------------------------------------- documents

    def get(self, kind: str, key: str) -> Doc | None:
        rows = self._fetchall(_GET, (kind, key))
        return _load(rows[0][0]) if rows else None

    def put(self, kind: str, key: str, doc: Doc) -> None:
        blob = orjson.dumps(doc)
        owner = self._lock._owner
        if owner is not None and owner[0] == threading.get_ident() and owner[1] is _current_task():
            self._conn.execute(_PUT, (kind, key, blob))  # inside this owner's open transaction
            return
        with self._lock.hold():
            try:
                self._conn.execute(_PUT, (kind, key, blob))
            finally:
                self._reads.bump()

    def insert(self, kind: str, key: str, doc: Doc) -> bool:
        blob = orjson.dumps(doc)
        owner = self._lock._owner
        if owner is not None and owner[0] == threading.get_ident() and owner[1] is _current_task():
            return self._conn.execute(_INSERT, (kind, key, blob)).rowcount == 1  # inside this owner's transaction
        with self._lock.hold():
            try:
                return self._conn.execute(_INSERT, (kind, key, blob)).rowcount == 1
            finally:
                self._reads.bump()

    def delete(self, kind: str, key: str) -> bool:
        with self._lock.hold():
            try:
                return self._conn.execute("DELETE FROM documents WHERE kind = ? AND key = ?", (kind, key)).rowcount == 1
            finally:
                self._reads.bump()

    def list(
        self, kind: str, prefix: str = "", *, after: str | None = None, limit: int | None = None
    ) -> list[tuple[str, Doc]]:
        where, params = _range(kind, prefix, after)
        sql = f"SELECT key, doc FROM documents WHERE {where} ORDER BY key"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(max(limit, 0))
        return [(key, _load(blob)) for key, blob in self._fetchall(sql, params)]

    def count(self, kind: str, prefix: str = "") -> int:
        where, params = _range(kind, prefix, None)
        return int(self._fetchall(f"SELECT count(*) FROM documents WHERE {where}", params)[0][0])

    def _fetchall(self, sql: str, params: Sequence[object]) -> list[Any]:
        """A read's rows. The connection: the writer's when its lock is free (no transaction open; its page
        cache survives its own commits) or inside this task's own transaction (it must see its uncommitted
        writes); else the read-only one, which no commit in progress can block."""
        lock = self._lock
        owner = lock._owner
        if owner is None or owner[0] != threading.get_ident():
            # outside any transaction of this caller: the latest committed state, maybe remembered
            reads = self._reads
            key = (sql, tuple(params))
            rows = reads.get(key)
            if rows is not None:
                return rows
            generation = reads.generation
            if owner is None and lock._lock.acquire(False):
                try:
                    rows = self._conn.execute(sql, params).fetchall()
                finally:
                    lock._lock.release()
            else:
                with self._reader_lock:
                    reader = self._reader
                    if reader is None:
                        raise StorageError("metadata store is closed")
                    rows = reader.execute(sql, params).fetchall()
            reads.put(key, generation, rows)
            return rows
        if owner[1] is _current_task():
            return self._conn.execute(sql, params).fetchall()  # inside this owner's open transaction
        with self._lock.hold():  # another task of this thread: hold() refuses it
            return self._conn.execute(sql, params).fetchall()

    def _checkpoint_loop(self) -> None:
        """Every CHECKPOINT_INTERVAL_S: a PASSIVE checkpoint, which waits for no reader or writer. It copies
        the committed WAL frames into the database file (fsync'd), so the next write transaction starts the
        WAL over from its beginning; the WAL stays a few MB under any write rate."""
        try:
            conn = sqlite3.connect(str(self._path), isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as exc:
            log.error("metadata checkpointer could not open the database error=%r; checkpoints inline only", exc)
            return
        try:
            while not self._checkpoint_stop.wait(CHECKPOINT_INTERVAL_S):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:  # e.g. a full disk: the WAL keeps the data; try again later
                    log.warning("metadata checkpoint failed error=%r", exc)
        finally:
            conn.close()

    def close(self) -> None:
        self._checkpoint_stop.set()
        if self._checkpointer.is_alive() and self._checkpointer is not threading.current_thread():
            self._checkpointer.join()
        with self._lock.hold():
            self._reads.bump()
            self._reads.entries.clear()
            with self._reader_lock:
                if self._reader is not None:
                    self._reader.close()
                    self._reader = None
            if self._db is not None:
                self._db.close()
                self._db = None


def _load(blob: bytes) -> Doc:
    doc = orjson.loads(blob)
    if not isinstance(doc, dict):
        raise StorageError("stored document is not a JSON object")
    return doc


def _range(kind: str, prefix: str, after: str | None) -> tuple[str, list[object]]:
    clauses = ["kind = ?"]
    params: list[object] = [kind]
    if prefix:
        clauses.append("key >= ?")
        params.append(prefix)
        end = prefix_end(prefix)
        if end is not None:
            clauses.append("key < ?")
            params.append(end)
    if after is not None:
        clauses.append("key > ?")
        params.append(after)
    return " AND ".join(clauses), params


def _split_sql(script: str) -> list[str]:
    """Statements of a migration script (split on ';' at line ends; migrations keep to that form)."""
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
