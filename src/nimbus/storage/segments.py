"""SegmentLogStore: durable logs on append-only segment files, group-committed by one writer thread.

Layout under the store's root (``data_dir/logs``)::

    <quoted-name-prefix>-<sha256(name)[:16]>/    one directory per log; the name never becomes a path
        log.json                                 {"name": ..., "first_seq": ...}, replaced atomically
        00000000000000000000.seg                 segment files named by their first sequence number
        00000000000000131072.seg                 (a new one once the active segment passes segment_bytes)

A record is one frame: ``[u32 payload length][u32 crc32][u64 seq][u64 timestamp_ms][payload]``, little
endian, the CRC covering seq, timestamp and payload. ``Log.append`` assigns sequence numbers on the event
loop and queues the records; the writer thread takes everything queued (across all logs of the store),
writes each log's frames with one ``write``, ``fdatasync``s each touched file once (several files in
parallel on a small pool, since fdatasync releases the GIL), then publishes the
records to readers and resolves the callers' futures. While it syncs, the next batch accumulates: that
is the group commit. Queued bytes are bounded (``max_pending_bytes``): past it, appenders wait.

The writer keeps zeros written and fsync'd ahead of the active segment's last frame
(``preallocate_bytes``, topped up after the callers of a commit are answered): frames overwrite blocks
already allocated, so a commit's ``fdatasync`` flushes data without a journal commit. A rolled segment
is truncated to its frames, and so is the active one at close; recovery takes an all-zero tail (a kill
before close) as the clean end of the log.

Reads are synchronous ``pread``s located through a sparse in-memory index (one entry per ~4 KiB of log
per segment: seq, offset, timestamp) rebuilt at open, so a read costs O(records read). Opening a log
scans its segments, checks every CRC and cuts a torn tail (a crash mid-write) off the last segment;
damage anywhere else raises ``LogCorrupt``. ``trim`` moves ``first_seq`` (persisted in ``log.json``)
and deletes the segments wholly below it; the active segment is kept, so sequence numbers are never reused.

A trimmed segment of at least half ``segment_bytes`` is kept as a *spare* instead (renamed
``<uuid>.spare``; at most ``SPARES_PER_LOG`` per log and ``spare_bytes`` across the store), and the log's
next segment is that file renamed, written over from its start. Its blocks are allocated and written, so
the commits into it flush data without a journal commit and need no zeros written ahead (appending
500 KB + fdatasync here: ~600 us; the same over written blocks: ~300 us). Whatever follows the frames in
a reused file are the old frames, so each write into one ends with ``END_MARK`` (a frame header of
zeros, overwritten by the next write): recovery finds it right after the last whole frame, takes it as
the clean end (as it takes zeros) and cuts the old frames off. Without it there, what follows is a torn
tail. Spares are adopted again when the log is reopened.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import struct
import threading
import time
import uuid
import zlib
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote
from hashlib import sha256

import orjson

from nimbus.storage.base import JoinedRecords, LogClosed, LogCorrupt, LogRecord, StorageError, join_records

try:
    from nimbus._speedups import crc32 as _crc32
    from nimbus._speedups import frames as _frames
    from nimbus._speedups import join_frames as _join_frames
    from nimbus._speedups import read_frames as _read_frames
except ImportError:  # not compiled: the Python loops and zlib do the same
    _frames = None  # type: ignore[assignment]
    _read_frames = None  # type: ignore[assignment]
    _join_frames = None  # type: ignore[assignment]
    _crc32 = zlib.crc32
_FRAMES_DONE, _FRAMES_BAD_CRC, _FRAMES_PAST_BUFFER = 1, 2, 3  # read_frames's statuses (0: buffer used up)

log = logging.getLogger(__name__)


FRAME_HEADER = struct.Struct("<IIQQ")  # payload length, crc32, seq, timestamp_ms
_SEQ_TS = struct.Struct("<QQ")
HEADER_BYTES = FRAME_HEADER.size  # 24
END_MARK = bytes(HEADER_BYTES)  # written after the frames of a reused segment (see the module docstring)

DEFAULT_SEGMENT_BYTES = 64 << 20
DEFAULT_MAX_PENDING_BYTES = 64 << 20
DEFAULT_PREALLOCATE_BYTES = 8 << 20  # zeros kept written ahead of the active segment's end (0: none)
# Only while commits are small: at ~60 KB a commit (500 x 100 B) the zeros save ~100 us of fdatasync per
# commit for ~20 us of CPU; at ~500 KB (500 x 1 KB) they save ~200 us but cost ~160 us of CPU and stall
# the appends waiting behind each fill, which measured no better overall.
PREALLOC_MAX_COMMIT_BYTES = 128 << 10
MAX_RECORD_BYTES = 64 << 20  # far above any AWS record limit (Kinesis 1 MiB, Firehose 1,000 KiB)
# One index entry (sequence, offset, timestamp: 24 bytes in memory) per this many bytes of frames: a read
# from a sequence scans at most this far, which the first read of 64 KB covers anyway, and a 10 GB backlog
# costs 3.75 MB of index (at 4 KB it was 60 MB, growing with the backlog).
INDEX_INTERVAL_BYTES = 64 << 10
SYNC_THREADS = 8  # fdatasyncs in flight at once when a batch touches several logs
_READ_CHUNK_MIN = 64 << 10
_READ_CHUNK_MAX = 4 << 20
_JOINED_CHUNK_MAX = 32 << 20  # read_joined: a batch's bytes in one read (what it returns is as large)
_SEGMENT_SUFFIX = ".seg"
_DELETE_STEP_BYTES = 4 << 20
_DROPPED_SUFFIX = ".dropped"  # a trimmed segment renamed, waiting for the reaper (or the next recovery)
_SPARE_SUFFIX = ".spare"  # a trimmed segment kept to become the log's next segment (see the module docstring)
SPARES_PER_LOG = 2  # a Firehose delivery of a 128 MB buffer trims two 64 MB segments at once
DEFAULT_SPARE_BYTES = 512 << 20  # spares across the store; past it, trimmed segments are deleted
_META = "log.json"


def _py_frames(buf: bytes, out: list[LogRecord], seq: int, last: int, budget: int) -> tuple[int, int, int, int, int]:
    """The reads' loop over one buffer of frames (from its start): each frame whose seq is at least
    ``seq`` is CRC-checked and appended to ``out``. Returns (status, pos, seq, budget, length): 0, no
    further header in the buffer; _FRAMES_PAST_BUFFER, the frame at ``pos`` (payload ``length``) runs past
    its end; _FRAMES_DONE, ``last`` appended or the next record over the budget (with ``out`` not empty);
    _FRAMES_BAD_CRC at ``pos``. (nimbus._speedups.read_frames does the same in C.)"""
    view = memoryview(buf)
    size = len(buf)
    pos = 0
    unpack = FRAME_HEADER.unpack_from
    crc32 = _crc32
    new_tuple = tuple.__new__  # LogRecord(...) without the namedtuple's Python-level __new__
    append = out.append
    while pos + HEADER_BYTES <= size:
        length, crc, rseq, ts = unpack(buf, pos)
        frame_end = pos + HEADER_BYTES + length
        if frame_end > size:
            return _FRAMES_PAST_BUFFER, pos, seq, budget, length
        if rseq >= seq:
            # seq, timestamp and payload are contiguous: one CRC over them equals the chained
            # crc32(payload, crc32(seq + timestamp)) the writer computed
            if crc32(view[pos + 8 : frame_end]) != crc:
                return _FRAMES_BAD_CRC, pos, seq, budget, length
            if length > budget and out:
                return _FRAMES_DONE, pos, seq, budget, length
            budget -= length
            append(new_tuple(LogRecord, (rseq, ts, buf[pos + HEADER_BYTES : frame_end])))
            if rseq >= last:
                return _FRAMES_DONE, pos, seq, budget, length
            seq = rseq + 1
        pos = frame_end
    return 0, pos, seq, budget, 0


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def log_dir_name(name: str) -> str:
    """A directory name for a log name: readable prefix + hash; no '/', never a leading '.', ≤ 115 bytes."""
    if not name:
        raise ValueError("log name must not be empty")
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"log name is not valid UTF-8: {name!r}") from exc
    readable = quote(encoded, safe="")[:96]
    if readable.startswith("."):  # names starting with '.' are the store's own (temporary, trash)
        readable = "%2E" + readable[1:]
    return f"{readable}-{sha256(encoded).hexdigest()[:16]}"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json_atomic(path: Path, value: object) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        _write_all(fd, orjson.dumps(value))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _pwrite_all(fd: int, data: bytes | memoryview, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


_ZEROS = bytes(1 << 20)


def _all_zero(path: Path, start: int, end: int) -> bool:
    """Whether bytes [start, end) of the file are all zero (a preallocated tail, never written)."""
    with open(path, "rb", buffering=0) as f:
        f.seek(start)
        left = end - start
        while left > 0:
            chunk = f.read(min(left, 1 << 20))
            if not chunk or chunk.count(0) != len(chunk):
                return False
            left -= len(chunk)
    return True


def _delete_gradually(path: Path) -> None:
    """Delete a (trimmed) file a few MB at a time: freeing a whole 64 MB segment at once stalls the
    commits of every log for its duration (the blocks and cached pages are released in one go)."""
    try:
        size = path.stat().st_size
        with open(path, "r+b") as f:
            while size > _DELETE_STEP_BYTES:
                size -= _DELETE_STEP_BYTES
                f.truncate(size)
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("trimmed segment not deleted path=%s error=%r", path, exc)


def _segment_path(directory: Path, base_seq: int) -> Path:
    return directory / f"{base_seq:020d}{_SEGMENT_SUFFIX}"


class _Segment:
    """One segment file: durable extent (published to readers) plus the writer's own extent."""

    __slots__ = (
        "path", "base_seq", "size", "end_seq", "last_ts",
        "w_size", "w_end", "w_last_ts", "w_index_off", "alloc_end",
        "idx_seq", "idx_off", "idx_ts", "rfd", "reused",
    )

    def __init__(self, path: Path, base_seq: int) -> None:
        self.path = path
        self.base_seq = base_seq
        self.size = 0  # durable bytes, visible to readers
        self.end_seq = base_seq  # one past the last durable record
        self.last_ts = -1
        self.w_size = 0  # bytes written by the writer (durable after its next fsync)
        self.alloc_end = 0  # the file's size as the writer left it (past w_size: zeros, preallocated)
        self.w_end = base_seq
        self.w_last_ts = -1
        self.w_index_off = -INDEX_INTERVAL_BYTES  # offset of the last sparse index entry
        self.idx_seq = array("q")
        self.idx_off = array("q")
        self.idx_ts = array("q")
        self.rfd = -1
        self.reused = False  # a spare's file: its old frames follow the new ones (END_MARK)

    def close_reader(self) -> None:
        if self.rfd >= 0:
            os.close(self.rfd)
            self.rfd = -1


@dataclass(slots=True)
class _Append:
    log: SegmentLog
    first_seq: int
    timestamp_ms: int
    payloads: list[bytes]
    nbytes: int
    future: asyncio.Future[None]


@dataclass(slots=True)
class _Trim:
    log: SegmentLog
    future: asyncio.Future[None]
    nbytes: int = 0


@dataclass(slots=True)
class _Drop:
    log: SegmentLog | None
    trash: Path
    future: asyncio.Future[None]
    nbytes: int = 0


_Op = _Append | _Trim | _Drop


@dataclass(slots=True)
class _Outcome:
    future: asyncio.Future[None]
    error: BaseException | None = None


def _settle(outcomes: list[_Outcome]) -> None:
    for outcome in outcomes:
        if outcome.future.done():  # the caller was cancelled; the records are durable all the same
            continue
        if outcome.error is None:
            outcome.future.set_result(None)
        else:
            outcome.future.set_exception(outcome.error)


def _wake(waiters: list[asyncio.Future[None]]) -> None:
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(None)


def _post(futures_by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]]) -> None:
    for loop, outcomes in futures_by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, outcomes)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass


def _sync_or_error(target: SegmentLog) -> BaseException | None:
    try:
        target._sync()
    except BaseException as exc:
        return exc
    return None


class SegmentLog:
    """One durable log. Obtain it with ``SegmentLogStore.open(name)``; see the module docstring."""

    def __init__(
        self, store: SegmentLogStore, name: str, directory: Path, segments: list[_Segment], first_seq: int,
        spares: list[tuple[Path, int]] | None = None,
    ) -> None:
        self._store = store
        self._spares = spares if spares is not None else []  # (path, size): reused by _roll; writer thread
        self._name = name
        self._dir = directory
        self._lock = threading.Lock()  # segments list and published extents; held by reads
        self._segments = segments
        self._bases = [s.base_seq for s in segments]
        last = segments[-1]
        self._next_seq = last.end_seq
        self._first_seq = min(max(first_seq, segments[0].base_seq), self._next_seq)
        self._durable_first_seq = self._first_seq  # what log.json on disk says (trims persist in the writer)
        self._assigned = self._next_seq
        self._last_ts = max((s.last_ts for s in segments), default=-1)
        self._wfd = os.open(last.path, os.O_WRONLY)  # frames are written at w_size (pwrite), before any zeros
        self._prealloc_failed = False
        self._written = 0  # frame bytes written since opened (only busy logs get zeros ahead)
        self._last_commit_bytes = 0
        self._failed: BaseException | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"SegmentLog({self._name!r}, first_seq={self._first_seq}, next_seq={self._next_seq})"

    @property
    def name(self) -> str:
        return self._name

    @property
    def first_seq(self) -> int:
        return self._first_seq

    @property
    def next_seq(self) -> int:
        return self._next_seq

    @property
    def size_bytes(self) -> int:
        with self._lock:
            return sum(s.size for s in self._segments)

    def _check_writable(self) -> None:
        if self._closed:
            raise LogClosed(f"log {self._name!r} is closed")
        if self._failed is not None:
            raise LogClosed(f"log {self._name!r} failed an earlier write: {self._failed!r}")

    # ------------------------------------------------------------------------------------------ append

    async def append(self, payloads: Sequence[bytes], *, timestamp_ms: int | None = None) -> list[int]:
        """Append records; return their sequence numbers once written and fsync'd."""
        if not payloads:
            return []
        records = list(payloads)
        lengths = list(map(len, records))
        if max(lengths) > MAX_RECORD_BYTES:
            big = next(n for n in lengths if n > MAX_RECORD_BYTES)
            raise ValueError(f"record of {big} bytes exceeds {MAX_RECORD_BYTES}")
        nbytes = HEADER_BYTES * len(records) + sum(lengths)
        self._check_writable()
        loop = asyncio.get_running_loop()
        await self._store._reserve(nbytes, loop)
        # No await from here to the enqueue: sequence order is queue order.
        try:
            self._check_writable()
        except LogClosed:
            self._store._release(nbytes)
            raise
        ts = _now_ms() if timestamp_ms is None else timestamp_ms
        ts = self._last_ts = max(ts, self._last_ts, 0)
        first = self._assigned
        self._assigned += len(records)
        future: asyncio.Future[None] = loop.create_future()
        self._store._submit(_Append(self, first, ts, records, nbytes, future))
        await future
        return list(range(first, first + len(records)))

    # writer thread only -----------------------------------------------------------------------------

    def _write_batch(self, requests: list[_Append]) -> None:
        """Write the frames of ``requests`` (rolling segments as needed); the caller fsyncs."""
        segment = self._segments[-1]
        limit = self._store.segment_bytes
        parts: list[bytes] = []
        size = segment.w_size
        write_at = size
        crc32 = _crc32
        pack_tail = _SEQ_TS.pack
        pack_frame = FRAME_HEADER.pack
        for request in requests:
            if size > 0 and size + request.nbytes > limit:
                _pwrite_all(self._wfd, b"".join(parts), write_at)
                parts = []
                segment.w_size = size
                segment.alloc_end = max(segment.alloc_end, size)
                segment = self._roll(request.first_seq)
                size = write_at = 0
            seq = request.first_seq
            ts = request.timestamp_ms
            framed = (
                _frames(request.payloads, seq, ts, size, segment.w_index_off, INDEX_INTERVAL_BYTES)
                if _frames is not None
                else None
            )
            if framed is not None:  # nimbus._speedups: the loop below in C
                chunk, size, segment.w_index_off, index = framed
                parts.append(chunk)
                for k in range(0, len(index), 2):
                    segment.idx_seq.append(index[k])
                    segment.idx_off.append(index[k + 1])
                    segment.idx_ts.append(ts)
                seq += len(request.payloads)
            else:
                append = parts.append
                for payload in request.payloads:
                    if size - segment.w_index_off >= INDEX_INTERVAL_BYTES:
                        segment.idx_seq.append(seq)
                        segment.idx_off.append(size)
                        segment.idx_ts.append(ts)
                        segment.w_index_off = size
                    n = len(payload)
                    append(pack_frame(n, crc32(payload, crc32(pack_tail(seq, ts))), seq, ts))
                    append(payload)
                    size += HEADER_BYTES + n
                    seq += 1
            segment.w_end = seq
            segment.w_last_ts = ts
        if parts:
            if segment.reused and size < segment.alloc_end:
                parts.append(END_MARK)  # old frames follow: mark where the new ones end
            _pwrite_all(self._wfd, b"".join(parts), write_at)
        segment.w_size = size
        segment.alloc_end = max(segment.alloc_end, size)
        self._last_commit_bytes = sum(request.nbytes for request in requests)
        self._written += self._last_commit_bytes

    def _roll(self, base_seq: int) -> _Segment:
        old = self._segments[-1]
        if old.alloc_end > old.w_size:  # a segment that is not the last one never keeps a zero tail
            os.ftruncate(self._wfd, old.w_size)
            old.alloc_end = old.w_size
        os.fdatasync(self._wfd)
        path = _segment_path(self._dir, base_seq)
        reused = 0
        while self._spares:
            spare, size = self._spares.pop()
            self._store._spare_released(size)
            try:
                os.rename(spare, path)
            except OSError as exc:
                log.warning("spare segment not reused log=%s path=%s error=%r", self._name, spare, exc)
                continue
            reused = size
            break
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | (0 if reused else os.O_EXCL), 0o644)
        if reused:
            _pwrite_all(fd, END_MARK, 0)  # no frames yet: a crash before the first write leaves a clean end
        _fsync_dir(self._dir)
        os.close(self._wfd)
        self._wfd = fd
        segment = _Segment(path, base_seq)
        segment.alloc_end = reused  # the old frames past w_size stand in for preallocated zeros
        segment.reused = reused > 0
        with self._lock:
            self._segments.append(segment)
            self._bases.append(base_seq)
        return segment

    def _sync(self) -> None:
        os.fdatasync(self._wfd)

    def _preallocate(self) -> None:
        """Keep zeros written and fsync'd ahead of the active segment's end (up to ``preallocate_bytes``,
        topped up when half is used, never past ``segment_bytes``; once the log has written an eighth of
        that since it was opened): overwriting blocks that are already
        allocated and initialised makes the next commits' fdatasync a data flush without a journal
        commit (~200 -> ~100 us for 60 KB here; ~500 us-1.5 ms -> ~200 us for 500 KB). Runs on the
        writer thread after the callers are settled. Recovery takes an all-zero tail as clean; a
        rolled segment is truncated to its frames first, and a closed log to its frames."""
        ahead = self._store.preallocate_bytes
        if ahead <= 0 or self._closed or self._failed is not None or self._prealloc_failed:
            return
        if self._written < ahead // 8:
            return  # a quiet log (a CloudWatch Logs stream, a queue) never pays for zeros it would not use
        if self._last_commit_bytes > PREALLOC_MAX_COMMIT_BYTES:
            return  # large commits: writing the zeros costs more than the journal commits they save
        segment = self._segments[-1]
        start = max(segment.alloc_end, segment.w_size)
        if start - segment.w_size >= ahead // 2:
            return
        end = min(segment.w_size + ahead, self._store.segment_bytes)
        if end <= start:
            return
        try:
            offset = start
            while offset < end:
                n = min(end - offset, len(_ZEROS))
                _pwrite_all(self._wfd, memoryview(_ZEROS)[:n], offset)
                offset += n
            os.fdatasync(self._wfd)
        except OSError as exc:  # e.g. a full disk: appends go on without preallocation
            log.warning("log preallocation failed log=%s error=%r", self._name, exc)
            self._prealloc_failed = True
            return
        segment.alloc_end = end

    def _drop_preallocation(self) -> None:
        """Cut the active segment's zero tail (at close: a closed log's files hold frames only)."""
        if self._failed is not None or self._wfd < 0:
            return
        segment = self._segments[-1]
        if segment.alloc_end > segment.w_size:
            try:
                os.ftruncate(self._wfd, segment.w_size)
                os.fdatasync(self._wfd)
                segment.alloc_end = segment.w_size
            except OSError as exc:  # the zeros stay; recovery takes them as a clean tail
                log.warning("log preallocation not truncated log=%s error=%r", self._name, exc)

    def _publish(self) -> None:
        with self._lock:
            for segment in reversed(self._segments):
                if segment.size == segment.w_size and segment.end_seq == segment.w_end:
                    break
                segment.size = segment.w_size
                segment.end_seq = segment.w_end
                segment.last_ts = segment.w_last_ts
            self._next_seq = self._segments[-1].end_seq

    def _persist_trim(self) -> None:
        first = self._first_seq
        _write_json_atomic(self._dir / _META, {"name": self._name, "first_seq": first})
        with self._lock:
            self._durable_first_seq = max(self._durable_first_seq, first)
            keep = 0
            while keep < len(self._segments) - 1 and self._segments[keep].end_seq <= first:
                keep += 1
            dropped = self._segments[:keep]
            del self._segments[:keep]
            del self._bases[:keep]
            for segment in dropped:
                segment.close_reader()
        for segment in dropped:
            size = segment.size
            if (
                size >= self._store.segment_bytes // 2
                and len(self._spares) < SPARES_PER_LOG
                and self._store._spare_reserved(size)
            ):
                spare = self._dir / f"{uuid.uuid4().hex}{_SPARE_SUFFIX}"
                try:
                    segment.path.rename(spare)
                except OSError:
                    self._store._spare_released(size)
                else:
                    self._spares.append((spare, size))
                    continue
            # Renamed here (a directory entry), deleted by the store's reaper thread: freeing a 64 MB
            # segment's blocks takes up to ~15 ms, which would hold up every commit queued behind it.
            # A name no segment will have again (a recreated log numbers from 0); recovery deletes leftovers.
            doomed = segment.path.with_name(f"{segment.path.name}.{uuid.uuid4().hex}{_DROPPED_SUFFIX}")
            try:
                segment.path.rename(doomed)
            except FileNotFoundError:
                continue
            self._store._reap(doomed)

    def _close_files(self) -> None:
        with self._lock:
            for segment in self._segments:
                segment.close_reader()
            if self._wfd >= 0:
                os.close(self._wfd)
                self._wfd = -1

    # -------------------------------------------------------------------------------------------- read

    def read(self, from_seq: int, limit: int = 1000, max_bytes: int | None = None) -> list[LogRecord]:
        """Durable records from ``from_seq`` (or the first retained one), at most ``limit`` of them.

        ``max_bytes`` bounds the payload bytes returned, except that the first record is always returned.
        """
        out: list[LogRecord] = []
        if limit <= 0:
            return out
        if _read_frames is not None:  # nimbus._speedups: _py_frames in C

            def step(buf: bytes, seq: int, last: int, budget: int) -> tuple[int, int, int, int, int]:
                return _read_frames(buf, out, seq, last, budget, LogRecord)  # type: ignore[no-any-return]

        else:

            def step(buf: bytes, seq: int, last: int, budget: int) -> tuple[int, int, int, int, int]:
                return _py_frames(buf, out, seq, last, budget)

        self._scan(from_seq, limit, max_bytes, step, _READ_CHUNK_MIN)
        return out

    def read_joined(self, from_seq: int, limit: int = 1000, max_bytes: int | None = None, separator: bytes = b"") -> JoinedRecords:
        """``read``'s records as one bytes object of their payloads, each followed by ``separator`` (at
        most 24 bytes), without a record object per payload (a Firehose object is exactly this)."""
        if _join_frames is None or limit <= 0:
            return join_records(self.read(from_seq, limit, max_bytes), separator)
        # per buffer that had records: joined, count, oldest timestamp, first timestamp, first seq, last seq
        taken: list[tuple[bytes, int, int, int, int, int]] = []
        count = 0

        def step(buf: bytes, seq: int, last: int, budget: int) -> tuple[int, int, int, int, int]:
            nonlocal count
            status, pos, seq, budget, length, *got = _join_frames(buf, seq, last, budget, count, separator)
            if got[1]:
                taken.append(tuple(got))  # type: ignore[arg-type]
                count += got[1]
            return status, pos, seq, budget, length

        # a batch is usually read in one pread (payloads and their frames' headers), so it joins once
        hint = max_bytes if max_bytes is not None else limit * 1024
        self._scan(from_seq, limit, max_bytes, step, max(_READ_CHUNK_MIN, min(hint + hint // 4, _JOINED_CHUNK_MAX)))
        if not taken:
            return JoinedRecords(b"", 0, 0, 0, 0, 0)
        data = taken[0][0] if len(taken) == 1 else b"".join(t[0] for t in taken)
        return JoinedRecords(data, count, taken[0][4], taken[-1][5] + 1, taken[0][3], min(t[2] for t in taken))

    def _scan(
        self, from_seq: int, limit: int, max_bytes: int | None,
        step: Callable[[bytes, int, int, int], tuple[int, int, int, int, int]], first_chunk: int,
    ) -> None:
        """The reads' walk over the segments: ``step`` takes each buffer read (see ``_py_frames``)."""
        budget = max_bytes if max_bytes is not None else 1 << 62
        with self._lock:
            if self._closed:
                raise LogClosed(f"log {self._name!r} is closed")
            start = max(from_seq, self._first_seq)
            end = self._next_seq
            if start >= end:
                return
            last = min(end, start + limit) - 1  # the last sequence number to return
            segments = self._segments
            i = max(bisect_right(self._bases, start) - 1, 0)
            seq = start
            while i < len(segments) and seq < end:
                segment = segments[i]
                i += 1
                if seq >= segment.end_seq:
                    continue
                j = bisect_right(segment.idx_seq, seq) - 1
                offset = segment.idx_off[j] if j >= 0 else 0
                stop = segment.size
                fd = self._reader_fd(segment)
                chunk = first_chunk
                while offset < stop:
                    buf = os.pread(fd, min(chunk, stop - offset), offset)
                    chunk = min(chunk * 2, max(_READ_CHUNK_MAX, first_chunk))
                    size = len(buf)
                    status, pos, seq, budget, length = step(buf, seq, last, budget)
                    if status == _FRAMES_DONE:
                        return
                    if status == _FRAMES_BAD_CRC:
                        raise LogCorrupt(f"log {self._name!r}: bad CRC at {segment.path.name}+{offset + pos}")
                    if status == _FRAMES_PAST_BUFFER:
                        if offset + pos + HEADER_BYTES + length > stop:
                            raise LogCorrupt(f"log {self._name!r}: bad frame at {segment.path.name}+{offset + pos}")
                        chunk = max(chunk, HEADER_BYTES + length)
                    if pos == 0 and size < HEADER_BYTES:
                        raise LogCorrupt(f"log {self._name!r}: short frame at {segment.path.name}+{offset}")
                    offset += pos

    def _reader_fd(self, segment: _Segment) -> int:
        if segment.rfd < 0:
            segment.rfd = os.open(segment.path, os.O_RDONLY)
        return segment.rfd

    def seq_at_or_after_time(self, timestamp_ms: int) -> int:
        """The first retained record stamped at or after ``timestamp_ms``, else ``next_seq``."""
        with self._lock:
            first = self._first_seq
            for segment in self._segments:
                if segment.end_seq <= first or segment.last_ts < timestamp_ms:
                    continue
                k = bisect_left(segment.idx_ts, timestamp_ms)
                start = segment.idx_seq[max(k - 1, 0)]
                break
            else:
                return self._next_seq
        seq = max(start, first)
        while True:
            batch = self.read(seq, limit=256)
            if not batch:
                return self._next_seq
            for record in batch:
                if record.timestamp_ms >= timestamp_ms:
                    return record.seq
            seq = batch[-1].seq + 1

    # -------------------------------------------------------------------------------------------- trim

    async def trim(self, before_seq: int) -> None:
        """Forget records below ``before_seq`` (at most ``next_seq``): ``first_seq`` moves up, durably."""
        with self._lock:
            target = min(before_seq, self._next_seq)
            if target <= self._durable_first_seq:
                return
            # A higher trim may already be in memory but not yet on disk: wait for a persist that covers
            # ``target`` instead of returning early (an acknowledged trim must survive kill -9).
            self._first_seq = max(self._first_seq, target)
        self._check_writable()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._store._submit(_Trim(self, future))
        await future


class SegmentLogStore:
    """The LogStore on segment files under ``root``; one writer thread serves all its logs."""

    def __init__(
        self,
        root: Path,
        *,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        max_pending_bytes: int = DEFAULT_MAX_PENDING_BYTES,
        preallocate_bytes: int = DEFAULT_PREALLOCATE_BYTES,
        spare_bytes: int = DEFAULT_SPARE_BYTES,
    ) -> None:
        if segment_bytes < 1024:
            raise ValueError("segment_bytes must be at least 1024")
        if max_pending_bytes < 1:
            raise ValueError("max_pending_bytes must be positive")
        self.root = root
        self.segment_bytes = segment_bytes
        self.preallocate_bytes = preallocate_bytes
        self.spare_bytes = spare_bytes
        self._spares_total = 0  # bytes of spare segments kept across the store
        self._spares_lock = threading.Lock()
        self.max_pending_bytes = max_pending_bytes
        root.mkdir(parents=True, exist_ok=True)
        for leftover in root.glob(".*"):  # interrupted creations and drops
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
        self._dirs: dict[str, Path] = {}
        for directory in root.iterdir():
            meta = directory / _META
            if directory.is_dir() and meta.is_file():
                self._dirs[orjson.loads(meta.read_bytes())["name"]] = directory
        self._logs: dict[str, SegmentLog] = {}
        self._names_lock = threading.Lock()
        self._cond = threading.Condition(threading.Lock())
        self._queue: list[_Op] = []
        self._pending_bytes = 0
        self._space_waiters: list[asyncio.Future[None]] = []
        self._closing = False
        self._pool: ThreadPoolExecutor | None = None  # parallel fdatasync of several logs' files
        self._reaper: ThreadPoolExecutor | None = None  # deletes trimmed segments off the writer thread
        self._writer = threading.Thread(target=self._run, name="nimbus-log-writer", daemon=True)
        self._writer.start()

    # ------------------------------------------------------------------------------------------- names

    def open(self, name: str) -> SegmentLog:
        """The log called ``name``, created if new. Recovery of an existing log happens here (sync I/O)."""
        with self._names_lock:
            if self._closing:
                raise LogClosed("log store is closed")
            existing = self._logs.get(name)
            if existing is not None:
                return existing
            directory = self._dirs.get(name)
            if directory is None:
                directory = self._create(name)
                self._dirs[name] = directory
            opened = _recover(self, name, directory)
            self._logs[name] = opened
            return opened

    def names(self, prefix: str = "") -> list[str]:
        with self._names_lock:
            return sorted(n for n in self._dirs if n.startswith(prefix))

    async def drop(self, name: str) -> bool:
        """Delete a log and its files. Appends still queued for it fail with ``LogClosed``."""
        with self._names_lock:
            directory = self._dirs.pop(name, None)
            if directory is None:
                return False
            opened = self._logs.pop(name, None)
            if opened is not None:
                opened._closed = True
            trash = self.root / f".trash-{uuid.uuid4().hex}"
            os.rename(directory, trash)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._submit(_Drop(opened, trash, future))
        await future
        return True

    def _create(self, name: str) -> Path:
        directory = self.root / log_dir_name(name)
        tmp = self.root / f".tmp-{uuid.uuid4().hex}"
        tmp.mkdir()
        _write_json_atomic(tmp / _META, {"name": name, "first_seq": 0})
        os.close(os.open(_segment_path(tmp, 0), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        _fsync_dir(tmp)
        os.rename(tmp, directory)
        _fsync_dir(self.root)
        return directory

    # ---------------------------------------------------------------------------------- writer thread

    async def _reserve(self, nbytes: int, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            with self._cond:
                if self._closing:
                    raise LogClosed("log store is closed")
                if self._pending_bytes == 0 or self._pending_bytes + nbytes <= self.max_pending_bytes:
                    self._pending_bytes += nbytes
                    return
                waiter: asyncio.Future[None] = loop.create_future()
                self._space_waiters.append(waiter)
            await waiter

    def _release(self, nbytes: int) -> None:
        with self._cond:
            self._pending_bytes -= nbytes
            waiters, self._space_waiters = self._space_waiters, []
        self._wake_later(waiters)

    @staticmethod
    def _wake_later(waiters: list[asyncio.Future[None]]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for waiter in waiters:
            by_loop.setdefault(waiter.get_loop(), []).append(waiter)
        for loop, group in by_loop.items():
            try:
                loop.call_soon_threadsafe(_wake, group)
            except RuntimeError:
                pass

    def _submit(self, op: _Op) -> None:
        with self._cond:
            if self._closing:
                if isinstance(op, _Append):
                    self._pending_bytes -= op.nbytes
                raise LogClosed("log store is closed")
            self._queue.append(op)
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return
                batch, self._queue = self._queue, []
            try:
                self._process(batch)
            except BaseException:  # never let the writer die silently; _process settles what it can
                log.exception("log writer failed a batch")
            self._release(sum(op.nbytes for op in batch))

    def _process(self, batch: list[_Op]) -> None:
        outcomes: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
        groups: dict[SegmentLog, list[_Append]] = {}
        touched: dict[SegmentLog, None] = {}

        def settle(future: asyncio.Future[None], error: BaseException | None = None) -> None:
            outcomes.setdefault(future.get_loop(), []).append(_Outcome(future, error))

        def commit() -> None:
            written: list[tuple[SegmentLog, list[_Append]]] = []
            for target, requests in groups.items():
                try:
                    if target._closed:
                        raise LogClosed(f"log {target._name!r} was dropped or closed")
                    if target._failed is not None:
                        raise LogClosed(f"log {target._name!r} failed an earlier write: {target._failed!r}")
                    target._write_batch(requests)
                    written.append((target, requests))
                except BaseException as exc:
                    self._fail(target, requests, exc, settle)
            # fdatasync releases the GIL: with several logs touched, sync their files in parallel.
            if len(written) > 1:
                errors = list(self._sync_pool().map(_sync_or_error, [t for t, _ in written]))
            else:
                errors = [_sync_or_error(t) for t, _ in written]
            for (target, requests), error in zip(written, errors):
                if error is not None:
                    self._fail(target, requests, error, settle)
                    continue
                target._publish()
                touched[target] = None
                for request in requests:
                    settle(request.future)
            groups.clear()

        for op in batch:
            if isinstance(op, _Append):
                groups.setdefault(op.log, []).append(op)
                continue
            commit()
            try:
                if isinstance(op, _Trim):
                    op.log._persist_trim()
                else:
                    if op.log is not None:
                        op.log._close_files()
                        for _, size in op.log._spares:
                            self._spare_released(size)
                        op.log._spares.clear()
                    _fsync_dir(self.root)
                    shutil.rmtree(op.trash, ignore_errors=True)
                settle(op.future)
            except BaseException as exc:
                settle(op.future, exc)
        commit()
        _post(outcomes)
        for target in touched:  # after the callers are answered: zeros ahead for the next commits
            if not target._closed and target._wfd >= 0:
                target._preallocate()

    def _spare_reserved(self, size: int) -> bool:
        with self._spares_lock:
            if self._spares_total + size > self.spare_bytes:
                return False
            self._spares_total += size
            return True

    def _spare_released(self, size: int) -> None:
        with self._spares_lock:
            self._spares_total = max(self._spares_total - size, 0)

    def _reap(self, path: Path) -> None:
        """Delete ``path`` (a renamed, trimmed segment) on the reaper thread."""
        if self._reaper is None:
            self._reaper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nimbus-log-reaper")
        self._reaper.submit(_delete_gradually, path)

    def _sync_pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=SYNC_THREADS, thread_name_prefix="nimbus-log-sync")
        return self._pool

    @staticmethod
    def _fail(
        target: SegmentLog,
        requests: list[_Append],
        exc: BaseException,
        settle: Callable[[asyncio.Future[None], BaseException | None], None],
    ) -> None:
        if not isinstance(exc, LogClosed):
            # Data may be half written and fsync errors cannot be retried safely: refuse further appends
            # until the store is reopened, which truncates whatever tail was not acknowledged.
            log.error("log write failed log=%s error=%r", target._name, exc)
            target._failed = exc
            exc = LogClosed(f"log {target._name!r} write failed: {exc!r}")
        for request in requests:
            settle(request.future, exc)

    # ------------------------------------------------------------------------------------------ close

    def close(self) -> None:
        """Finish queued writes, stop the writer thread and close every file. Blocks."""
        with self._cond:
            if self._closing and not self._writer.is_alive():
                return
            self._closing = True
            self._cond.notify_all()
        self._writer.join()
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        if self._reaper is not None:
            self._reaper.shutdown()  # the trimmed segments are deleted before close returns
            self._reaper = None
        with self._names_lock:
            for opened in self._logs.values():
                opened._closed = True
                opened._drop_preallocation()
                opened._close_files()
            self._logs.clear()

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)


# ------------------------------------------------------------------------------------------- recovery


@dataclass(slots=True)
class _Scan:
    valid_bytes: int
    file_bytes: int
    segment: _Segment = field(repr=False)


def _scan_segment(path: Path, base_seq: int) -> _Scan:
    """Walk a segment's frames checking lengths, CRCs and sequence continuity; build its sparse index."""
    segment = _Segment(path, base_seq)
    unpack = FRAME_HEADER.unpack_from
    crc32 = _crc32
    seq = base_seq
    offset = 0
    last_ts = -1
    with open(path, "rb", buffering=0) as f:
        file_bytes = os.fstat(f.fileno()).st_size
        buf = b""
        buf_start = 0  # file offset of buf[0]
        while True:
            pos = offset - buf_start
            if pos + HEADER_BYTES > len(buf):
                buf = buf[pos:] + _read_up_to(f, 1 << 20)
                buf_start = offset
                pos = 0
                if len(buf) < HEADER_BYTES:
                    break
            length, crc, rseq, ts = unpack(buf, pos)
            if length > MAX_RECORD_BYTES or offset + HEADER_BYTES + length > file_bytes:
                break
            if pos + HEADER_BYTES + length > len(buf):
                buf = buf[pos:] + _read_up_to(f, max(1 << 20, HEADER_BYTES + length - (len(buf) - pos)))
                buf_start = offset
                pos = 0
            view = memoryview(buf)
            if rseq != seq or crc32(view[pos + 8 : pos + HEADER_BYTES + length]) != crc:
                break
            if offset - segment.w_index_off >= INDEX_INTERVAL_BYTES:
                segment.idx_seq.append(seq)
                segment.idx_off.append(offset)
                segment.idx_ts.append(ts)
                segment.w_index_off = offset
            last_ts = max(last_ts, ts)
            offset += HEADER_BYTES + length
            seq += 1
    segment.size = segment.w_size = offset
    segment.end_seq = segment.w_end = seq
    segment.last_ts = segment.w_last_ts = last_ts
    return _Scan(offset, file_bytes, segment)


def _read_up_to(f: BinaryIO, n: int) -> bytes:
    parts: list[bytes] = []
    while n > 0:
        part = f.read(n)
        if not part:
            break
        parts.append(part)
        n -= len(part)
    return b"".join(parts)


def _recover(store: SegmentLogStore, name: str, directory: Path) -> SegmentLog:
    meta = orjson.loads((directory / _META).read_bytes())
    if meta.get("name") != name:
        raise StorageError(f"{directory}: holds log {meta.get('name')!r}, not {name!r}")
    first_seq = int(meta.get("first_seq", 0))
    bases = sorted(int(p.name[: -len(_SEGMENT_SUFFIX)]) for p in directory.glob(f"*{_SEGMENT_SUFFIX}"))
    if not bases:  # every segment vanished: restart numbering where trimming left it
        bases = [first_seq]
        os.close(os.open(_segment_path(directory, first_seq), os.O_WRONLY | os.O_CREAT, 0o644))
        _fsync_dir(directory)
    for doomed in directory.glob(f"*{_DROPPED_SUFFIX}"):  # trimmed before a crash, not yet deleted
        doomed.unlink(missing_ok=True)
    # Finish an interrupted trim: segments wholly below first_seq (the next one starts at or below it).
    while len(bases) > 1 and bases[1] <= first_seq:
        _segment_path(directory, bases.pop(0)).unlink(missing_ok=True)
    segments: list[_Segment] = []
    for i, base in enumerate(bases):
        path = _segment_path(directory, base)
        if segments and segments[-1].end_seq != base:
            raise LogCorrupt(f"log {name!r}: {path.name} follows a segment ending at {segments[-1].end_seq}")
        scan = _scan_segment(path, base)
        if scan.valid_bytes != scan.file_bytes and _all_zero(path, scan.valid_bytes, scan.file_bytes):
            # zeros preallocated past the last frame (a crash or kill before close): a clean end
            with open(path, "r+b") as f:
                f.truncate(scan.valid_bytes)
                os.fsync(f.fileno())
        elif scan.valid_bytes != scan.file_bytes:
            if i != len(bases) - 1:
                raise LogCorrupt(f"log {name!r}: {path.name} is damaged at byte {scan.valid_bytes}")
            if _all_zero(path, scan.valid_bytes, min(scan.valid_bytes + HEADER_BYTES, scan.file_bytes)):
                # END_MARK: a reused segment (a spare), its old frames past the new ones: a clean end
                log.debug("cutting a reused segment's old frames log=%s segment=%s at=%d", name, path.name, scan.valid_bytes)
            else:
                # A torn tail: records whose write never completed, so were never acknowledged.
                log.warning(
                    "truncating torn log tail log=%s segment=%s from=%d to=%d",
                    name, path.name, scan.file_bytes, scan.valid_bytes,
                )
            with open(path, "r+b") as f:
                f.truncate(scan.valid_bytes)
                os.fsync(f.fileno())
        scan.segment.alloc_end = scan.valid_bytes
        segments.append(scan.segment)
    if segments[-1].end_seq < first_seq:
        # A damaged tail cut the log below its trim point (only a damaged disk does that): nothing retained
        # is left. Number on from the trim point, in a segment of its own, so that new records never take
        # numbers at or below the trim point (they would read as trimmed after the next restart). The old
        # segments hold trimmed records only; the next open removes them as it finishes any trim.
        log.warning("log damaged below its trim point log=%s records_end=%d first_seq=%d", name, segments[-1].end_seq, first_seq)
        path = _segment_path(directory, first_seq)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644))
        _fsync_dir(directory)
        segments.append(_Segment(path, first_seq))
    spares: list[tuple[Path, int]] = []
    for spare in sorted(directory.glob(f"*{_SPARE_SUFFIX}")):  # kept by trims: adopted again, within limits
        size = spare.stat().st_size
        if len(spares) < SPARES_PER_LOG and size >= store.segment_bytes // 2 and store._spare_reserved(size):
            spares.append((spare, size))
        else:
            spare.unlink(missing_ok=True)
    return SegmentLog(store, name, directory, segments, first_seq, spares)

