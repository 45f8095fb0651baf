"""MetadataStore contract, run against SqliteMetadataStore and MemoryMetadataStore alike."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from nimbus.storage.base import MetadataStore, StorageError
from nimbus.storage.memory import MemoryMetadataStore
from nimbus.storage.sqlite import SqliteMetadataStore, load_migrations


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    s: MetadataStore = MemoryMetadataStore() if request.param == "memory" else SqliteMetadataStore(tmp_path / "m.db")
    yield s
    s.close()


def test_get_put_roundtrip_types(store: MetadataStore) -> None:
    doc = {"s": "héllo ✓", "i": 2**62, "neg": -5, "f": 1.5, "t": True, "n": None, "l": [1, "a", [2]], "d": {"x": {}}}
    store.put("functions", "f1", doc)
    assert store.get("functions", "f1") == doc
    assert store.get("functions", "missing") is None
    assert store.get("streams", "f1") is None  # kinds are separate namespaces


def test_returned_docs_are_copies(store: MetadataStore) -> None:
    doc = {"l": [1]}
    store.put("k", "a", doc)
    doc["l"].append(2)
    got = store.get("k", "a")
    assert got == {"l": [1]}
    assert got is not None
    got["l"].append(3)
    assert store.get("k", "a") == {"l": [1]}


def test_put_upserts_insert_does_not(store: MetadataStore) -> None:
    assert store.insert("k", "a", {"v": 1}) is True
    assert store.insert("k", "a", {"v": 2}) is False
    assert store.get("k", "a") == {"v": 1}
    store.put("k", "a", {"v": 3})
    assert store.get("k", "a") == {"v": 3}


def test_delete(store: MetadataStore) -> None:
    store.put("k", "a", {})
    assert store.delete("k", "a") is True
    assert store.delete("k", "a") is False
    assert store.get("k", "a") is None


def test_list_prefix_after_limit_sorted(store: MetadataStore) -> None:
    for key in ["b/2", "a/1", "b/1", "b/10", "c", "b", "b\U0010ffff", "bz"]:
        store.put("k", key, {"key": key})
    store.put("other", "b/3", {})
    assert [k for k, _ in store.list("k")] == sorted(["b/2", "a/1", "b/1", "b/10", "c", "b", "b\U0010ffff", "bz"])
    assert [k for k, _ in store.list("k", "b/")] == ["b/1", "b/10", "b/2"]
    assert [k for k, _ in store.list("k", "b")] == ["b", "b/1", "b/10", "b/2", "bz", "b\U0010ffff"]
    assert [k for k, _ in store.list("k", "b/", after="b/1")] == ["b/10", "b/2"]
    assert [k for k, _ in store.list("k", "b/", limit=2)] == ["b/1", "b/10"]
    assert [k for k, _ in store.list("k", after="b/2", limit=2)] == ["bz", "b\U0010ffff"]
    assert store.list("k", "b/1")[0] == ("b/1", {"key": "b/1"})
    assert store.count("k") == 8
    assert store.count("k", "b/") == 3
    assert store.count("k", "zzz") == 0
    assert store.count("nothing") == 0


def test_unicode_and_odd_keys(store: MetadataStore) -> None:
    keys = ["", " ", "../x", "ключ", "a\x00b", "🙂" * 300]
    for key in keys:
        store.put("k", key, {"k": key})
    for key in keys:
        assert store.get("k", key) == {"k": key}
    assert [k for k, _ in store.list("k")] == sorted(keys)


def test_transaction_commits_atomically(store: MetadataStore) -> None:
    with store.transaction():
        store.put("k", "a", {"v": 1})
        store.put("k", "b", {"v": 2})
        assert store.get("k", "a") == {"v": 1}  # own writes visible inside
    assert store.count("k") == 2


def test_transaction_rolls_back_on_error(store: MetadataStore) -> None:
    store.put("k", "keep", {"v": 0})
    with pytest.raises(KeyError):
        with store.transaction():
            store.put("k", "keep", {"v": 1})
            store.put("k", "new", {"v": 1})
            store.delete("k", "keep")
            raise KeyError("boom")
    assert store.get("k", "keep") == {"v": 0}
    assert store.get("k", "new") is None


def test_nested_transaction_joins_outer(store: MetadataStore) -> None:
    with store.transaction():
        store.put("k", "outer", {})
        with store.transaction():
            store.put("k", "inner", {})
        with pytest.raises(ValueError):
            with store.transaction():  # an inner failure undoes only the inner block
                store.put("k", "undone", {})
                raise ValueError
    assert sorted(k for k, _ in store.list("k")) == ["inner", "outer"]
    with pytest.raises(ValueError):
        with store.transaction():
            with store.transaction():
                store.put("k", "later", {})
            raise ValueError  # the outer failure undoes the committed inner block too
    assert store.get("k", "later") is None


def test_transaction_isolated_from_other_threads(store: MetadataStore) -> None:
    entered = threading.Event()
    release = threading.Event()
    seen: list[object] = []

    def other() -> None:
        entered.wait()
        seen.append(store.get("k", "a"))  # the state before the transaction, or after it: never inside

    t = threading.Thread(target=other)
    t.start()
    with store.transaction():
        store.put("k", "a", {"v": 1})
        entered.set()
        release.wait(0.05)
        store.put("k", "a", {"v": 2})
    t.join()
    assert seen in ([None], [{"v": 2}])
    assert store.get("k", "a") == {"v": 2}


def test_sqlite_reads_do_not_wait_for_a_transaction_of_another_thread(tmp_path: Path) -> None:
    """A read outside any transaction sees the last committed state at once, even while another thread
    holds a transaction (a commit's fsync must not stall the event loop's reads)."""
    store = SqliteMetadataStore(tmp_path / "m.db")
    try:
        store.put("k", "a", {"v": 0})
        inside = threading.Event()
        finish = threading.Event()

        def writer() -> None:
            with store.transaction():
                store.put("k", "a", {"v": 1})
                store.put("k", "b", {"v": 1})
                inside.set()
                finish.wait(30)

        t = threading.Thread(target=writer)
        t.start()
        assert inside.wait(30)
        assert store.get("k", "a") == {"v": 0}  # returns while the writer still holds its transaction
        assert [k for k, _ in store.list("k")] == ["a"] and store.count("k") == 1
        finish.set()
        t.join()
        assert store.get("k", "a") == {"v": 1} and store.count("k") == 2
    finally:
        store.close()


def test_await_inside_transaction_is_refused(store: MetadataStore) -> None:
    async def main() -> None:
        holding = asyncio.Event()
        done = asyncio.Event()

        async def holder() -> None:
            with store.transaction():
                store.put("k", "a", {})
                holding.set()
                await done.wait()

        task = asyncio.create_task(holder())
        await holding.wait()
        with pytest.raises(RuntimeError, match="transaction"):
            store.get("k", "a")
        done.set()
        await task
        assert store.get("k", "a") == {}

    asyncio.run(main())


def test_worker_threads_and_loop_share_the_store(store: MetadataStore) -> None:
    async def main() -> None:
        def work(n: int) -> None:
            for i in range(50):
                store.put("k", f"{n}/{i}", {"i": i})

        await asyncio.gather(*(asyncio.to_thread(work, n) for n in range(4)))
        assert store.count("k") == 200

    asyncio.run(main())


def test_unserialisable_doc_is_rejected(store: MetadataStore) -> None:
    with pytest.raises(TypeError):
        store.put("k", "a", {"b": b"bytes"})
    with pytest.raises(TypeError):
        store.put("k", "a", {"big": 2**70})
    assert store.get("k", "a") is None


def test_closed_store_refuses(store: MetadataStore) -> None:
    store.close()
    with pytest.raises(StorageError):
        store.get("k", "a")


def test_sqlite_survives_reopen_and_records_migrations(tmp_path: Path) -> None:
    s = SqliteMetadataStore(tmp_path / "m.db")
    s.put("k", "a", {"v": 1})
    assert s.schema_version == len(load_migrations())
    s.close()
    s = SqliteMetadataStore(tmp_path / "m.db")
    assert s.get("k", "a") == {"v": 1}
    assert s.schema_version == len(load_migrations())
    mode = s._conn.execute("PRAGMA journal_mode").fetchone()[0]
    sync = s._conn.execute("PRAGMA synchronous").fetchone()[0]
    assert (mode, sync) == ("wal", 2)  # 2 == FULL
    s.close()


def test_sqlite_checkpoints_the_wal_off_the_writer(tmp_path: Path) -> None:
    """Far below SQLite's own 1,000-page automatic checkpoint, the checkpointer thread copies committed
    pages into the database file: commits never have to do all of that copying themselves."""
    import time

    s = SqliteMetadataStore(tmp_path / "m.db")
    try:
        before = (tmp_path / "m.db").stat().st_size
        for i in range(60):
            s.put("objects", f"k{i:03d}", {"body": "x" * 3000})  # ~1 page each: 60 pages in the WAL
        deadline = time.monotonic() + 5
        while (tmp_path / "m.db").stat().st_size < before + 60 * 3000 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert (tmp_path / "m.db").stat().st_size >= before + 60 * 3000
        assert s.get("objects", "k059") == {"body": "x" * 3000}
    finally:
        s.close()
    assert not any(t.name == "nimbus-sqlite-checkpoint" and t.is_alive() for t in threading.enumerate())


def test_sqlite_remembered_reads_never_outlive_a_commit(tmp_path: Path) -> None:
    """Reads are remembered in memory between writes: each write, commit and rollback makes them stale,
    and a reader racing a writer thread never goes back in time nor keeps an old value after the last commit."""
    store = SqliteMetadataStore(tmp_path / "m.db")
    try:
        store.put("k", "a", {"v": 0})
        assert store.get("k", "a") == {"v": 0} and store.get("k", "a") == {"v": 0}  # the second is remembered
        store.put("k", "a", {"v": 1})
        assert store.get("k", "a") == {"v": 1}
        assert store.insert("k", "b", {"v": 1}) and [k for k, _ in store.list("k")] == ["a", "b"]
        assert store.delete("k", "b") and [k for k, _ in store.list("k")] == ["a"] and store.count("k") == 1
        with pytest.raises(RuntimeError):
            with store.transaction():
                store.put("k", "a", {"v": 99})
                assert store.get("k", "a") == {"v": 99}  # its own uncommitted write
                raise RuntimeError("roll back")
        assert store.get("k", "a") == {"v": 1}
        big = {"blob": "x" * 20_000}  # larger than a remembered read may be: read from the database every time
        store.put("k", "big", big)
        assert store.get("k", "big") == big and store.get("k", "big") == big

        last = 300
        stop = threading.Event()
        seen: list[int] = []

        def reader() -> None:
            while not stop.is_set():
                doc = store.get("k", "n")
                seen.append(-1 if doc is None else int(doc["v"]))

        t = threading.Thread(target=reader)
        t.start()
        for i in range(last + 1):
            if i % 2:
                store.put("k", "n", {"v": i})
            else:
                with store.transaction():
                    store.put("k", "n", {"v": i})
        stop.set()
        t.join()
        assert seen == sorted(seen), "a read went back to an older value"
        assert store.get("k", "n") == {"v": last}
    finally:
        store.close()
