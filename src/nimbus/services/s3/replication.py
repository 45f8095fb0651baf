"""S3 replication inside Nimbus (docs/services/s3.md, "Replication"): new versions written to a bucket with a
replication configuration are copied, with their version id, metadata, tags and ETag, to the destination
buckets of the enabled rules that match them.

A write that matches a rule is committed with ``x-amz-replication-status: PENDING`` and, in the same
transaction, a pending-replication document (``s3.replication``): a crash after the 200 loses nothing. The
``Replicator`` (one task per S3 engine) takes pending documents in order, writes each replica (status
``REPLICA``; never replicated further), marks the source version ``COMPLETED`` (``FAILED`` when a
destination bucket is gone or no longer versioned) and deletes the document. A replica already present
(a crash between writing it and deleting the document) is not written twice. Delete markers are replicated
when the rule says ``DeleteMarkerReplication: Enabled``; deletes of a version by id never are, as on S3.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from nimbus.storage import MetadataStore

log = logging.getLogger(__name__)

KIND_PENDING = "s3.replication"
SETTING = "replication"  # the bucket setting (settings.REPLICATION)
PENDING, COMPLETED, FAILED, REPLICA = "PENDING", "COMPLETED", "FAILED", "REPLICA"
ARN_PREFIX = "arn:aws:s3:::"
BATCH = 100
RETRY_S = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


def destinations(config: dict[str, Any] | None, key: str, tags: dict[str, str], *, marker: bool = False) -> list[list[Any]]:
    """[[destination bucket, storage class or None], ...] of the enabled rules matching ``key`` (and the
    object's ``tags``), the highest priority first, one entry per destination; for a delete marker only the
    rules that replicate delete markers (and match without tags, as S3 requires of them)."""
    if not config:
        return []
    rules = sorted(config.get("Rules") or [], key=lambda r: -int(r.get("Priority") or 0))
    out: dict[str, str | None] = {}
    for rule in rules:
        if rule.get("Status") != "Enabled" or not _matches(rule, key, {} if marker else tags, marker=marker):
            continue
        if marker and "Filter" in rule and (rule.get("DeleteMarkerReplication") or {}).get("Status") != "Enabled":
            continue
        dest = rule.get("Destination") or {}
        bucket = str(dest.get("Bucket") or "")
        if bucket.startswith(ARN_PREFIX):
            out.setdefault(bucket[len(ARN_PREFIX):], dest.get("StorageClass"))
    return [[bucket, storage] for bucket, storage in out.items()]


def _matches(rule: dict[str, Any], key: str, tags: dict[str, str], *, marker: bool) -> bool:
    if "Filter" not in rule:  # the first schema: a Prefix of its own (delete markers replicated with it)
        return key.startswith(str(rule.get("Prefix") or ""))
    f = rule.get("Filter") or {}
    if "Prefix" in f:
        return key.startswith(str(f["Prefix"] or ""))
    if "Tag" in f:
        return not marker and tags.get(f["Tag"].get("Key")) == f["Tag"].get("Value")
    if "And" in f:
        both = f["And"] or {}
        wanted = both.get("Tags") or []
        if marker and wanted:
            return False
        return key.startswith(str(both.get("Prefix") or "")) and all(tags.get(t.get("Key")) == t.get("Value") for t in wanted)
    return True


def pending_key(account: str, bucket: str, key: str, version_id: str) -> str:
    return f"{account}/{bucket}/{key}\x00{version_id}"


def pending_doc(account: str, bucket: str, key: str, version_id: str, dests: list[list[Any]], *, marker: bool = False) -> dict[str, Any]:
    doc: dict[str, Any] = {"a": account, "b": bucket, "k": key, "v": version_id, "d": dests}
    if marker:
        doc["m"] = 1
    return doc


class Replicator:
    """Works through the pending-replication documents: ``replicate(doc)`` (the engine's) does one, returning
    True when it is done for good (written, or failed for good), False to try again later."""

    def __init__(self, metadata: MetadataStore, replicate: Callable[[dict[str, Any]], Awaitable[bool]]) -> None:
        self.metadata = metadata
        self.replicate = replicate
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="s3-replication")
            self._wake.set()  # pending documents left by the previous run

    def kick(self) -> None:
        self._idle.clear()
        self._wake.set()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def drained(self) -> None:
        """Wait until nothing is pending (tests, and the engine's callers that need replicas written)."""
        await self._idle.wait()

    async def _run(self) -> None:
        attempt = 0
        while True:
            await self._wake.wait()
            self._wake.clear()
            rows = self.metadata.list(KIND_PENDING, limit=BATCH)
            if not rows:
                self._idle.set()
                attempt = 0
                continue
            retry = False
            for key, doc in rows:
                try:
                    done = await self.replicate(doc)
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - kept pending and tried again
                    log.exception("s3 replication failed key=%r", key)
                    done = False
                if done:
                    self.metadata.delete(KIND_PENDING, key)
                else:
                    retry = True
            if retry:
                delay = RETRY_S[min(attempt, len(RETRY_S) - 1)]
                attempt += 1
                try:
                    await asyncio.wait_for(self._wake.wait(), delay)
                except asyncio.TimeoutError:
                    pass
            else:
                attempt = 0
            self._wake.set()
