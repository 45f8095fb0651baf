"""``S3Engine``: the S3 object store behind the API, and the entry point other services write through.

Other engines (Firehose delivery) get it as the core component ``"s3.engine"``::

    from nimbus.services.s3.engine import s3_engine
    engine = s3_engine(core)
    info = await engine.put_object(
        account, region, bucket, key, data,          # data: bytes | AsyncIterable[bytes] (streamed)
        content_type="application/octet-stream",     # optional: content_encoding=, metadata={...}
    )                                                # -> S3Object (.etag, .size, .last_modified ...)

``put_object`` raises ``NoSuchBucket`` (nimbus.services.s3.errors) when the bucket is missing, and fires the
bucket's notifications exactly as a PutObject through the API does.

Blobs live in the engine's own FileBlobStore under ``<data_dir>/s3/`` so that its start-up sweep (orphan
bodies of puts interrupted by a crash) can never touch another service's blobs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterable, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from nimbus.clock import Clock, SystemClock
from nimbus.services.s3.buckets import KIND_OBJECT, KIND_PART, KIND_VERSIONS, Buckets
from nimbus.services.s3.lifecycle import DAY_S, DEFAULT_SWEEP_INTERVAL_S, Sweeper
from nimbus.services.s3.multipart import Multipart
from nimbus.services.s3.notifications import Deliver, Notifier, Origin
from nimbus.services.s3.objects import Content, Objects, S3Object
from nimbus.services.s3.replication import Replicator
from nimbus.storage import BlobStore, MetadataStore

if TYPE_CHECKING:
    from nimbus.server import Nimbus

log = logging.getLogger(__name__)
SWEEP_PAGE = 5000


class S3Engine:
    def __init__(
        self, metadata: MetadataStore, blobs: BlobStore, *, clock: Clock | None = None, deliver: Deliver | None = None,
        lifecycle_interval_s: float = DEFAULT_SWEEP_INTERVAL_S, lifecycle_day_s: float = DAY_S,
    ) -> None:
        self.clock = clock or SystemClock()
        self.metadata = metadata
        self.blobs = blobs
        self.booted_at = time.time()
        self.notifier = Notifier(deliver, time_fn=self.clock.time)
        self.buckets = Buckets(metadata, self.clock)
        self.objects = Objects(metadata, blobs, self.buckets, self.clock, self.notifier)
        self.multipart = Multipart(self.objects, self.buckets, self.clock)
        self.lifecycle = Sweeper(self, interval_s=lifecycle_interval_s, day_s=lifecycle_day_s)
        self.replicator = Replicator(metadata, self.objects.replicate)  # replication.py
        self.objects.replication_kick = self.replicator.kick
        self._sweeper: asyncio.Task[None] | None = None
        self._started = False
        # set by s3_engine(): does a Lambda function ARN resolve? (None: not checked)
        self.function_exists: Callable[[str], Awaitable[bool]] | None = None
        self.restore_delay_s = 1.0  # how long a RestoreObject of an archived object takes (archive.py)

    async def start(self) -> None:
        """Sweep blobs no metadata names (bodies of puts a crash interrupted). Blobs written after
        this engine was built are never swept, so it is safe while requests are served."""
        if self._started:
            return
        self._started = True
        keys = await asyncio.to_thread(self._keys_in_use)
        removed = await self.blobs.sweep(keys, min_age_s=max(time.time() - self.booted_at, 0.0) + 1.0)
        if removed:
            log.info("s3 swept orphan blobs count=%d", removed)
        pruned = await asyncio.to_thread(self.multipart.prune_completed)
        if pruned:
            log.info("s3 pruned completed-upload records count=%d", pruned)
        self._sweeper = asyncio.get_running_loop().create_task(self.lifecycle.run(), name="s3-lifecycle")
        self.replicator.start()  # and resumes what a previous run left pending

    def _keys_in_use(self) -> set[str]:
        keys: set[str] = set()
        extractors = (
            (KIND_OBJECT, lambda d: [b for b, _ in d["seg"]]),
            (KIND_PART, lambda d: [d["b"]]),
            (KIND_VERSIONS, lambda d: [b for e in d["vs"] for b, _ in e["seg"]]),  # noncurrent versions
        )
        for kind, extract in extractors:
            after = None
            while True:
                rows = self.metadata.list(kind, after=after, limit=SWEEP_PAGE)
                for k, doc in rows:
                    keys.update(extract(doc))
                if len(rows) < SWEEP_PAGE:
                    break
                after = rows[-1][0]
        return keys

    async def aclose(self) -> None:
        await self.replicator.aclose()
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        await self.notifier.aclose()
        await self.objects.aclose()

    async def get_object_bytes(self, account: str, bucket: str, key: str) -> bytes:
        """A whole object in memory (small objects: Lambda code packages). Raises NoSuchBucket/NoSuchKey."""
        read = self.objects.open(account, bucket, key)
        return b"".join([chunk async for chunk in read.body])

    async def put_object(
        self,
        account: str,
        region: str,
        bucket: str,
        key: str,
        data: bytes | AsyncIterable[bytes],
        *,
        content_type: str | None = None,
        content_encoding: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> S3Object:
        """Store an object durably (acknowledged = on disk) and fire the bucket's notifications."""
        return await self.objects.put(
            account, bucket, key, data,
            content=Content(content_type=content_type or "binary/octet-stream", content_encoding=content_encoding),
            metadata=metadata, origin=Origin(region=region, principal=account),
        )


class LambdaTarget:
    """Adapter from S3 notifications to the Lambda engine (core component "lambda.engine"): its one
    invoke path, asynchronous (``Event``) for deliveries, ``DryRun`` to validate a configuration."""

    def __init__(self, core: Nimbus) -> None:
        self.core = core

    def _engine(self) -> Any:
        from nimbus.services.lambda_.engine import lambda_engine

        return lambda_engine(self.core)

    async def deliver(self, function_arn: str, payload: bytes) -> None:
        await self._engine().invoke_event(function_arn, payload, source="s3")

    async def exists(self, function_arn: str) -> bool:
        from nimbus.errors import ServiceError

        try:
            await self._engine().invoke(function_arn, b"{}", invocation_type="DryRun")
        except ServiceError as e:
            if e.code == "ResourceNotFoundException":
                return False
            raise
        return True


def _seconds(extra: Any, name: str, default: float) -> float:
    """A positive number of seconds from a NIMBUS_* variable (lifecycle.py: sweep interval, day length)."""
    text = extra.get(name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        log.warning("ignored %s=%r: not a positive number of seconds", name, text)
        return default
    return value


def s3_engine(core: Nimbus) -> S3Engine:
    """The server's one S3Engine (core component "s3.engine")."""

    def build() -> S3Engine:
        from nimbus.storage.files import FileBlobStore

        blobs: BlobStore
        if type(core.storage.blobs).__name__ == "FileBlobStore":
            blobs = FileBlobStore(core.settings.data_dir / "s3")
        else:  # in-memory storage (tests): the shared store
            blobs = core.storage.blobs
        target = LambdaTarget(core)
        extra = core.settings.extra or {}
        engine = S3Engine(
            core.storage.metadata, blobs, clock=core.clock, deliver=target.deliver,
            lifecycle_interval_s=_seconds(extra, "NIMBUS_S3_LIFECYCLE_SWEEP_SECONDS", DEFAULT_SWEEP_INTERVAL_S),
            lifecycle_day_s=_seconds(extra, "NIMBUS_S3_LIFECYCLE_DAY_SECONDS", DAY_S),
        )
        engine.function_exists = target.exists
        engine.restore_delay_s = _seconds(extra, "NIMBUS_S3_RESTORE_SECONDS", 1.0)
        return engine

    return core.component("s3.engine", build)
