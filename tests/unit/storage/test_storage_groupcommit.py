"""GroupCommitter on SqliteMetadataStore and MemoryMetadataStore: results, isolated failures, durability."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from nimbus.storage.base import MetadataStore, StorageError
from nimbus.storage.groupcommit import GroupCommitter
from nimbus.storage.memory import MemoryMetadataStore
from nimbus.storage.sqlite import SqliteMetadataStore


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    s: MetadataStore = MemoryMetadataStore() if request.param == "memory" else SqliteMetadataStore(tmp_path / "m.db")
    yield s
    s.close()


def test_concurrent_transactions_commit_and_a_failure_rolls_back_alone(store: MetadataStore) -> None:
    async def main() -> None:
        committer = GroupCommitter(store)

        def write(i: int) -> int:
            store.put("k", f"{i:03d}", {"i": i})
            if i % 10 == 3:
                raise ValueError(f"refused {i}")
            store.put("k2", f"{i:03d}", {"i": i})
            return i * 2

        outcomes = await asyncio.gather(*(committer.run(lambda i=i: write(i)) for i in range(100)), return_exceptions=True)
        for i, outcome in enumerate(outcomes):
            if i % 10 == 3:
                assert isinstance(outcome, ValueError) and str(outcome) == f"refused {i}"
            else:
                assert outcome == i * 2
        kept = [int(k) for k, _ in store.list("k")]
        assert kept == [i for i in range(100) if i % 10 != 3]  # the failed ones left nothing, not even "k"
        assert [int(k) for k, _ in store.list("k2")] == kept
        await committer.aclose()
        with pytest.raises(StorageError):
            await committer.run(lambda: None)

    asyncio.run(main())


def test_committed_transactions_survive_reopening(tmp_path: Path) -> None:
    async def main() -> None:
        store = SqliteMetadataStore(tmp_path / "m.db")
        committer = GroupCommitter(store)
        await asyncio.gather(*(committer.run(lambda i=i: store.put("d", str(i), {"v": i})) for i in range(20)))
        await committer.aclose()
        store.close()

    asyncio.run(main())
    again = SqliteMetadataStore(tmp_path / "m.db")
    try:
        assert sorted(int(k) for k, _ in again.list("d")) == list(range(20))
    finally:
        again.close()
