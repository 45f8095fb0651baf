"""Export tasks (CreateExportTask, DescribeExportTasks, CancelExportTask): a log group's events, in a time
range, written to an S3 bucket of Nimbus's own S3, as CloudWatch Logs does it.

Objects: ``<destinationPrefix>/<taskId>/<logStreamName>/000000.gz`` (``000001.gz``... past
MAX_OBJECT_BYTES of text), gzip, one line per event: ``<ISO 8601 UTC timestamp with ms> <message>``; and the
``<destinationPrefix>/aws-logs-write-test`` object CloudWatch Logs writes to check it may write there. The
default prefix is ``exportedlogs``. One active (PENDING or RUNNING) task per account, as AWS allows.

Tasks are kept in the metadata store (the answer to CreateExportTask means the task is durable); a task
that was pending or running at a crash runs again after the restart (its objects are overwritten whole).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import zlib
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from nimbus.errors import ServiceError
from nimbus.services.logs.groups import InvalidParameterException, LimitExceededException, ResourceNotFoundException

if TYPE_CHECKING:
    from nimbus.server import Nimbus
    from nimbus.services.logs.groups import LogGroups

log = logging.getLogger("nimbus.logs.exports")

KIND = "logs.export"
DEFAULT_PREFIX = "exportedlogs"
WRITE_TEST_KEY = "aws-logs-write-test"
WRITE_TEST_BODY = b"Permission Check Successful"
MAX_OBJECT_BYTES = 64 * 1024 * 1024  # of text per object, before gzip
ACTIVE = ("PENDING", "RUNNING", "PENDING_CANCEL")
DEFAULT_LIMIT = 50


class InvalidOperationException(ServiceError):
    def __init__(self, message: str) -> None:
        super().__init__(message, code="InvalidOperationException", status=400)


def _line(timestamp_ms: int, message: str) -> bytes:
    ts = datetime.fromtimestamp(timestamp_ms / 1000, tz=timezone.utc)
    return f"{ts.strftime('%Y-%m-%dT%H:%M:%S')}.{timestamp_ms % 1000:03d}Z {message}\n".encode()


class ExportTasks:
    def __init__(self, core: Nimbus, engine: LogGroups) -> None:
        self.core = core
        self.engine = engine
        self.db = core.storage.metadata
        self._cancel: set[str] = set()
        self._running: set[str] = set()

    def _now_ms(self) -> int:
        return int(self.core.clock.time() * 1000)

    def _key(self, account: str, task_id: str) -> str:
        return f"{account}/{task_id}"

    # --- API --------------------------------------------------------------------------------------

    def create(self, account: str, region: str, params: dict[str, Any]) -> str:
        group = params["logGroupName"]
        if not self.engine.group_exists(account, region, group):
            raise ResourceNotFoundException("The specified log group does not exist.")
        start, end = int(params["from"]), int(params["to"])
        if start > end:
            raise InvalidParameterException("The parameter 'from' must be less than or equal to 'to'.")
        bucket_name = params["destination"]
        from nimbus.services.s3.engine import s3_engine

        bucket = s3_engine(self.core).buckets.lookup(account, bucket_name)
        if bucket is None:
            raise InvalidParameterException("The given bucket does not exist. Please make sure the bucket is valid.")
        if bucket.region != region:
            raise InvalidParameterException("The specified bucket and log group must be in the same region.")
        if any(doc["status"]["code"] in ACTIVE for _, doc in self.db.list(KIND, f"{account}/")):
            raise LimitExceededException("Resource limit exceeded.")
        task_id = str(uuid.uuid4())
        prefix = params.get("destinationPrefix")
        doc: dict[str, Any] = {
            "taskId": task_id, "logGroupName": group, "from": start, "to": end, "destination": bucket_name,
            "destinationPrefix": DEFAULT_PREFIX if prefix is None else prefix,
            "status": {"code": "PENDING", "message": "Pending"},
            "executionInfo": {"creationTime": self._now_ms()},
            "region": region, "logStreamNamePrefix": params.get("logStreamNamePrefix"),
        }
        if params.get("taskName"):
            doc["taskName"] = params["taskName"]
        self.db.put(KIND, self._key(account, task_id), doc)
        self._launch(account, task_id)
        return task_id

    def describe(self, account: str, *, task_id: str | None, status: str | None, token: str | None, limit: int | None) -> dict[str, Any]:
        rows = [doc for _, doc in self.db.list(KIND, f"{account}/")]
        if task_id:
            rows = [d for d in rows if d["taskId"] == task_id]
        if status:
            rows = [d for d in rows if d["status"]["code"] == status]
        rows.sort(key=lambda d: (-d["executionInfo"]["creationTime"], d["taskId"]))
        offset = int(token) if token and token.isdigit() else 0
        n = limit or DEFAULT_LIMIT
        page = rows[offset : offset + n]
        out: dict[str, Any] = {"exportTasks": [self._out(d) for d in page]}
        if offset + n < len(rows):
            out["nextToken"] = str(offset + n)
        return out

    @staticmethod
    def _out(doc: dict[str, Any]) -> dict[str, Any]:
        keys = ("taskId", "taskName", "logGroupName", "from", "to", "destination", "destinationPrefix", "status", "executionInfo")
        return {k: doc[k] for k in keys if k in doc}

    def cancel(self, account: str, task_id: str) -> None:
        key = self._key(account, task_id)
        doc = self.db.get(KIND, key)
        if doc is None:
            raise ResourceNotFoundException("The specified export task does not exist.")
        if doc["status"]["code"] not in ("PENDING", "RUNNING"):
            raise InvalidOperationException(f"The specified export task has already finished. Status: {doc['status']['code']}")
        if task_id in self._running:
            self._cancel.add(task_id)
            self._set_status(account, task_id, "PENDING_CANCEL", "Pending cancellation")
        else:
            self._set_status(account, task_id, "CANCELLED", "Cancelled by user", done=True)

    # --- running ----------------------------------------------------------------------------------

    def resume(self) -> None:
        """At boot: tasks a crash or a stop interrupted run again (PENDING_CANCEL ones end cancelled)."""
        for key, doc in self.db.list(KIND):
            account = key.split("/", 1)[0]
            if doc["status"]["code"] == "PENDING_CANCEL":
                self._set_status(account, doc["taskId"], "CANCELLED", "Cancelled by user", done=True)
            elif doc["status"]["code"] in ("PENDING", "RUNNING"):
                self._launch(account, doc["taskId"])

    def _launch(self, account: str, task_id: str) -> None:
        self._running.add(task_id)
        self.core.spawn(self._run(account, task_id), f"logs-export-{task_id}")

    def _set_status(self, account: str, task_id: str, code: str, message: str, *, done: bool = False) -> None:
        key = self._key(account, task_id)
        doc = self.db.get(KIND, key)
        if doc is None:
            return
        doc["status"] = {"code": code, "message": message}
        if done:
            doc["executionInfo"]["completionTime"] = self._now_ms()
        self.db.put(KIND, key, doc)

    async def _run(self, account: str, task_id: str) -> None:
        try:
            doc = self.db.get(KIND, self._key(account, task_id))
            if doc is None:
                return
            self._set_status(account, task_id, "RUNNING", "Started successfully")
            from nimbus.services.s3.engine import s3_engine

            s3 = s3_engine(self.core)
            region, group, bucket = doc["region"], doc["logGroupName"], doc["destination"]
            prefix = doc["destinationPrefix"].strip("/")
            base = f"{prefix}/" if prefix else ""
            await s3.put_object(account, region, bucket, base + WRITE_TEST_KEY, WRITE_TEST_BODY, content_type="text/plain")
            stream_prefix = doc.get("logStreamNamePrefix") or ""
            streams = [s for s in self.engine.stream_names(account, region, group) if s.startswith(stream_prefix)]
            for stream in streams:
                if task_id in self._cancel:
                    break
                part = 0
                async for body in self._objects(account, region, group, stream, doc["from"], doc["to"], task_id):
                    await s3.put_object(account, region, bucket, f"{base}{task_id}/{stream}/{part:06d}.gz", body,
                                        content_type="application/octet-stream", content_encoding="gzip")
                    part += 1
            if task_id in self._cancel:
                self._set_status(account, task_id, "CANCELLED", "Cancelled by user", done=True)
            else:
                self._set_status(account, task_id, "COMPLETED", "Completed successfully", done=True)
        except asyncio.CancelledError:
            raise  # the server is stopping: the task stays RUNNING and runs again at the next start
        except Exception as e:  # noqa: BLE001 - a failed export is reported in its status, never fatal
            log.exception("export task failed task=%s", task_id)
            message = getattr(e, "message", None) or str(e)
            self._set_status(account, task_id, "FAILED", f"Export failed: {message}", done=True)
        finally:
            self._running.discard(task_id)
            self._cancel.discard(task_id)

    async def _objects(self, account: str, region: str, group: str, stream: str, start: int, end: int, task_id: str) -> AsyncIterator[bytes]:
        """The gzip bodies of one stream's objects (each at most MAX_OBJECT_BYTES of text)."""
        text = 0
        z = zlib.compressobj(6, zlib.DEFLATED, 31)
        out: list[bytes] = []
        for _, events in self.engine.scan(account, region, group, start_time=start, end_time=end, streams=[stream]):
            for ev in sorted(events, key=lambda e: (e.timestamp, e.seq)):
                line = _line(ev.timestamp, ev.message)
                if text and text + len(line) > MAX_OBJECT_BYTES:
                    out.append(z.flush())
                    yield b"".join(out)
                    out, text, z = [], 0, zlib.compressobj(6, zlib.DEFLATED, 31)
                out.append(z.compress(line))
                text += len(line)
            await asyncio.sleep(0)  # a large group is read in chunks without holding the event loop
            if task_id in self._cancel:
                return
        if text:  # a stream with no event in the range gets no object
            out.append(z.flush())
            yield b"".join(out)
