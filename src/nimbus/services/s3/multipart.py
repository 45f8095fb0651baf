"""Multipart uploads: initiate, parts (streamed into their own blobs), complete, abort, list.

Documents: ``s3.upload/<account>/<bucket>/<upload id>`` (key, content headers, metadata, checksum algorithm)
and ``s3.part/<account>/<bucket>/<upload id>/<part number, 5 digits>`` (blob, size, ETag, checksum).
Completion is one metadata transaction that writes the object naming the chosen parts' blobs as its
segments and drops the upload and part documents; no byte is copied. ETag: ``"<md5 of the concatenated
binary part MD5s>-<part count>"`` (aws-contracts.md E.4).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import AsyncIterable
from dataclasses import dataclass, field, replace
from typing import Any

from nimbus.clock import Clock
from nimbus.services.s3 import archive, checksums, ssec
from nimbus.services.s3.buckets import (
    KIND_COMPLETED,
    KIND_PART,
    KIND_UPLOAD,
    MAX_TAGS_OBJECT,
    Buckets,
    check_tags,
    object_prefix,
)
from nimbus.services.s3.errors import (
    BadDigest,
    EntityTooSmall,
    InvalidArgument,
    InvalidPart,
    InvalidPartOrder,
    InvalidRequest,
    MalformedXML,
    NoSuchBucket,
    NoSuchUpload,
)
from nimbus.services.s3.notifications import Origin
from nimbus.services.s3.objectlock import Lock
from nimbus.services.s3.objects import (
    MAX_PART_NUMBER,
    Conditions,
    Content,
    Integrity,
    Objects,
    S3Object,
    check_key,
    ingest,
    open_segments,
    quote_etag,
)

_COPY_RANGE = re.compile(r"^bytes=(\d+)-(\d+)$")
MIN_PART_BYTES = 5 * 1024 * 1024  # every part but the last (aws-contracts.md E.4)
MAX_LIST_PARTS = 1000
MAX_LIST_UPLOADS = 1000
# S3 answers a CompleteMultipartUpload sent again with the same parts (a retry after a lost response) with
# the same result, for some hours; Nimbus keeps what it needs for an hour (docs/services/s3.md).
COMPLETED_REPLAY_S = 3600
COMPLETED_PRUNE_BATCH = 8  # expired records looked at (and deleted) by each completion


@dataclass(slots=True, frozen=True)
class Upload:
    bucket: str
    key: str
    upload_id: str
    initiated: float
    content: Content = Content()
    metadata: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    checksum_algorithm: str | None = None
    checksum_type: str | None = None
    storage_class: str = "STANDARD"
    lock: Lock | None = None  # CreateMultipartUpload's x-amz-object-lock-* headers (objectlock.py)
    sse_c: str | None = None  # its customer key's MD5 (ssec.py): every part must carry the same key

    def to_doc(self) -> dict[str, Any]:
        doc = {
            "k": self.key, "id": self.upload_id, "i": self.initiated, "c": self.content.to_doc(), "meta": self.metadata,
            "tags": self.tags, "ca": self.checksum_algorithm, "ctp": self.checksum_type, "sc": self.storage_class,
        }
        if self.lock is not None:
            doc["lock"] = [self.lock.mode, self.lock.until, self.lock.hold]
        if self.sse_c is not None:
            doc["kc"] = self.sse_c
        return doc

    @classmethod
    def from_doc(cls, bucket: str, doc: dict[str, Any]) -> Upload:
        lock = doc.get("lock")
        return cls(bucket, doc["k"], doc["id"], doc["i"], Content.from_doc(doc.get("c") or {}), doc.get("meta") or {},
                   doc.get("tags") or {}, doc.get("ca"), doc.get("ctp"), doc.get("sc", "STANDARD"),
                   Lock(*lock) if lock else None, doc.get("kc"))


@dataclass(slots=True, frozen=True)
class Part:
    number: int
    blob_key: str
    size: int
    etag: str  # quoted
    last_modified: float
    checksum: str | None = None

    def to_doc(self) -> dict[str, Any]:
        return {"n": self.number, "b": self.blob_key, "s": self.size, "e": self.etag, "m": self.last_modified, "cv": self.checksum}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Part:
        return cls(doc["n"], doc["b"], doc["s"], doc["e"], doc["m"], doc.get("cv"))


@dataclass(slots=True)
class PartListing:
    upload: Upload
    parts: list[Part]
    truncated: bool
    next_marker: int | None


@dataclass(slots=True)
class UploadListing:
    uploads: list[Upload]
    prefixes: list[str]
    truncated: bool
    next_key_marker: str | None
    next_upload_id_marker: str | None


class Multipart:
    def __init__(self, objects: Objects, buckets: Buckets, clock: Clock) -> None:
        self.objects = objects
        self.buckets = buckets
        self.metadata = objects.metadata
        self.blobs = objects.blobs
        self.clock = clock

    @staticmethod
    def _ukey(account: str, bucket: str, upload_id: str) -> str:
        return f"{object_prefix(account, bucket)}{upload_id}"

    @staticmethod
    def _pkey(account: str, bucket: str, upload_id: str, number: int) -> str:
        return f"{object_prefix(account, bucket)}{upload_id}/{number:05d}"

    def get_upload(self, account: str, bucket: str, key: str, upload_id: str) -> Upload:
        doc = self.metadata.get(KIND_UPLOAD, self._ukey(account, bucket, upload_id)) if "/" not in upload_id else None
        if doc is None or doc["k"] != key:
            if not self.buckets.exists(account, bucket):
                raise NoSuchBucket(bucket)
            raise NoSuchUpload(upload_id)
        return Upload.from_doc(bucket, doc)

    def create(
        self,
        account: str,
        bucket: str,
        key: str,
        *,
        content: Content = Content(),
        metadata: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
        checksum_algorithm: str | None = None,
        checksum_type: str | None = None,
        storage_class: str | None = None,
        lock: Lock | None = None,
        sse_c: str | None = None,
    ) -> Upload:
        check_key(key)
        if tags:
            check_tags(tags, MAX_TAGS_OBJECT)
        if not self.buckets.exists(account, bucket):
            raise NoSuchBucket(bucket)
        if checksum_algorithm is not None and checksum_algorithm not in checksums.ALGORITHMS:
            raise InvalidRequest(f"Checksum algorithm {checksum_algorithm} is not supported by Nimbus.")
        if checksum_type is not None and checksum_algorithm is None:
            raise InvalidRequest("The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.")
        if (checksum_type == "FULL_OBJECT" and checksum_algorithm not in checksums.FULL_OBJECT_CAPABLE
                or checksum_type == "COMPOSITE" and checksum_algorithm == "CRC64NVME"):  # CRC64NVME: full object only
            raise InvalidRequest(f"The {checksum_type} checksum type cannot be used with the "
                                 f"{(checksum_algorithm or '').lower()} checksum algorithm.")
        if checksum_algorithm and checksum_type is None:
            checksum_type = "FULL_OBJECT" if checksum_algorithm == "CRC64NVME" else "COMPOSITE"
        upload = Upload(bucket, key, secrets.token_urlsafe(48), self.clock.time(), content, metadata or {}, tags or {},
                        checksum_algorithm, checksum_type, storage_class or "STANDARD", lock, sse_c)
        self.metadata.put(KIND_UPLOAD, self._ukey(account, bucket, upload.upload_id), upload.to_doc())
        return upload

    @staticmethod
    def _check_number(number: int) -> None:
        if not 1 <= number <= MAX_PART_NUMBER:
            raise InvalidArgument("Part number must be an integer between 1 and 10000, inclusive",
                                  ArgumentName="partNumber", ArgumentValue=number)

    async def _commit_part(self, account: str, upload: Upload, part: Part) -> None:
        md = self.metadata
        pkey = self._pkey(account, upload.bucket, upload.upload_id, part.number)
        try:
            with md.transaction():
                if md.get(KIND_UPLOAD, self._ukey(account, upload.bucket, upload.upload_id)) is None:
                    raise NoSuchUpload(upload.upload_id)  # aborted or completed while the part streamed
                old = md.get(KIND_PART, pkey)
                md.put(KIND_PART, pkey, part.to_doc())
        except BaseException:
            await self.objects.delete_blobs([part.blob_key])
            raise
        if old is not None and old["b"] != part.blob_key:
            await self.objects.delete_blobs([old["b"]])

    async def upload_part(
        self, account: str, bucket: str, key: str, upload_id: str, number: int,
        data: bytes | AsyncIterable[bytes], *, integrity: Integrity | None = None, sse_c: str | None = None,
    ) -> Part:
        self._check_number(number)
        upload = self.get_upload(account, bucket, key, upload_id)
        ssec.check_part(upload.sse_c, sse_c)
        integrity = integrity or Integrity()
        if integrity.algorithm is None and upload.checksum_algorithm is not None:
            integrity.algorithm = upload.checksum_algorithm  # compute it anyway: completion needs it
        elif upload.checksum_algorithm is not None and integrity.algorithm != upload.checksum_algorithm:
            raise InvalidRequest(
                f"Checksum Type mismatch occurred, expected checksum Type: {upload.checksum_algorithm.lower()}, "
                f"actual checksum Type: {integrity.algorithm.lower() if integrity.algorithm else 'null'}"
            )
        got = await ingest(self.blobs, data, integrity)
        part = Part(number, got.blob_key, got.size, quote_etag(got.md5_hex), self.objects.now(), got.checksum)
        await self._commit_part(account, upload, part)
        return part

    async def upload_part_copy(
        self, account: str, bucket: str, key: str, upload_id: str, number: int, *,
        source_bucket: str, source_key: str, source_range: str | None = None,
        source_conditions: Conditions = Conditions(), source_version_id: str | None = None,
        sse_c: str | None = None, source_sse_c: str | None = None,
    ) -> Part:
        self._check_number(number)
        upload = self.get_upload(account, bucket, key, upload_id)
        ssec.check_part(upload.sse_c, sse_c)
        src = self.objects.get_version(account, source_bucket, source_key, source_version_id)
        ssec.check_read(src.sse_c, source_sse_c)
        if src.storage_class in archive.ARCHIVED:
            archive.check_readable(src.storage_class, src.restore, self.clock.time())
        source_conditions.check_copy_source(src)
        start, end = 0, src.size
        if source_range is not None:
            found = _COPY_RANGE.match(source_range.strip())
            if found is None or int(found.group(1)) > int(found.group(2)):
                raise InvalidArgument(
                    "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are "
                    "the zero-based offsets of the first and last bytes to copy",
                    ArgumentName="x-amz-copy-source-range", ArgumentValue=source_range,
                )
            start, end = int(found.group(1)), int(found.group(2)) + 1
            if end > src.size:  # S3: 400 InvalidArgument here, not GetObject's 416 InvalidRange
                raise InvalidArgument(f"Range specified is not valid for source object of size: {src.size}",
                                      ArgumentName="x-amz-copy-source-range", ArgumentValue=source_range)
        got = await ingest(self.blobs, open_segments(self.blobs, src, start, end, self.objects.leases), Integrity(algorithm=upload.checksum_algorithm))
        part = Part(number, got.blob_key, got.size, quote_etag(got.md5_hex), self.objects.now(), got.checksum)
        await self._commit_part(account, upload, part)
        return part

    def _parts(self, account: str, upload: Upload) -> list[Part]:
        prefix = self._ukey(account, upload.bucket, upload.upload_id) + "/"
        return [Part.from_doc(doc) for _, doc in self.metadata.list(KIND_PART, prefix)]

    async def complete(
        self, account: str, bucket: str, key: str, upload_id: str, requested: list[dict[str, Any]], *,
        if_match: str | None = None, if_none_match: str | None = None, origin: Origin | None = None,
        location_base: str = "", checksum_type: str | None = None, object_size: int | None = None,
        object_checksums: dict[str, str] | None = None,
    ) -> S3Object:
        """``checksum_type``, ``object_size`` and ``object_checksums`` (algorithm -> base64 value of the whole object)
        are what the client states about the result (x-amz-checksum-type, x-amz-mp-object-size,
        x-amz-checksum-*): checked before anything is committed, so a refused completion keeps the upload."""
        try:
            upload = self.get_upload(account, bucket, key, upload_id)
        except NoSuchUpload:
            replayed = self._completed(account, bucket, key, upload_id, requested)
            if replayed is None:
                raise
            return replayed  # a retry of a completion that succeeded: the same answer, no second event
        if not requested:
            raise MalformedXML()
        if checksum_type is not None and checksum_type != upload.checksum_type:
            raise BadDigest(f"The upload was created using the {upload.checksum_type or 'null'} checksum mode. "
                            "The complete request must use the same checksum mode.")
        for algo in object_checksums or {}:
            if algo != upload.checksum_algorithm:
                raise InvalidRequest(
                    f"The upload was created using {'the ' + upload.checksum_algorithm.lower() if upload.checksum_algorithm else 'no'} "
                    f"checksum algorithm. The complete request must use the same checksum algorithm ({algo.lower()} given).")
        stored = {p.number: p for p in self._parts(account, upload)}
        chosen: list[Part] = []
        previous = 0
        algorithm = upload.checksum_algorithm
        for item in requested:
            number = item.get("PartNumber")
            if not isinstance(number, int) or item.get("ETag") is None:
                raise MalformedXML()
            if number < 1:
                raise InvalidArgument("PartNumber must be >= 1", ArgumentName="PartNumber", ArgumentValue=number)
            if number <= previous:
                raise InvalidPartOrder(upload_id)
            previous = number
            part = stored.get(number)
            etag = item.get("ETag")
            if part is None or etag is None or etag.strip().strip('"') != part.etag.strip('"'):
                raise InvalidPart(number, upload_id, etag)
            if algorithm is not None:
                declared = item.get(checksums.MEMBERS[algorithm])
                if declared is not None and declared != part.checksum:
                    raise InvalidPart(number, upload_id, etag)
            chosen.append(part)
        for part in chosen[:-1]:
            if part.size < MIN_PART_BYTES:
                raise EntityTooSmall(part.size, MIN_PART_BYTES, part.number)
        size = sum(p.size for p in chosen)
        if object_size is not None and object_size != size:
            raise InvalidRequest(f"The provided 'x-amz-mp-object-size' header value {object_size} does not match what "
                                 f"was computed: {size}")
        md5s = b"".join(bytes.fromhex(p.etag.strip('"')) for p in chosen)
        etag = f'"{hashlib.md5(md5s).hexdigest()}-{len(chosen)}"'
        checksum = None
        part_checksums: tuple[str, ...] = ()
        if algorithm is not None and all(p.checksum for p in chosen):
            part_checksums = tuple(p.checksum or "" for p in chosen)
            if upload.checksum_type == "FULL_OBJECT":
                checksum = await self._full_object_checksum(algorithm, chosen)
            else:
                checksum = checksums.composite(algorithm, [checksums.decode(algorithm, c) or b"" for c in part_checksums])
        want = (object_checksums or {}).get(algorithm or "")
        if want is not None and checksum is not None and want.split("-")[0] != checksum.split("-")[0]:
            raise BadDigest(f"The {algorithm} you specified did not match the calculated checksum.")
        obj = S3Object(
            bucket=bucket, key=key, size=size, etag=etag, last_modified=self.objects.now(),
            segments=tuple((p.blob_key, p.size) for p in chosen), content=upload.content, metadata=upload.metadata,
            tags=upload.tags, checksum_algorithm=algorithm if checksum else None, checksum=checksum,
            checksum_type=upload.checksum_type if checksum else None, part_checksums=part_checksums,
            parts_count=len(chosen), storage_class=upload.storage_class, sse_c=upload.sse_c,
        )
        lock = upload.lock or self.objects.default_lock(account, bucket)  # its headers, else the bucket's default
        if lock is not None:
            obj = replace(obj, lock_mode=lock.mode, lock_until=lock.until, legal_hold=lock.hold)
        ukey = self._ukey(account, bucket, upload_id)
        used = {p.blob_key for p in chosen}

        completed: dict[str, Any] = {"k": key, "e": etag, "parts": _part_list(requested), "at": obj.last_modified}

        def drop_upload() -> list[str]:
            md = self.metadata
            if md.get(KIND_UPLOAD, ukey) is None:
                raise NoSuchUpload(upload_id)
            unused = []
            for pkey, doc in md.list(KIND_PART, ukey + "/"):
                md.delete(KIND_PART, pkey)
                if doc["b"] not in used:
                    unused.append(doc["b"])
            md.delete(KIND_UPLOAD, ukey)
            # Keep the answer for a repeated completion, and drop a few expired ones (ids are random, so
            # the records after this one are a sample of the bucket's).
            for old_key, old in md.list(KIND_COMPLETED, object_prefix(account, bucket), after=ukey, limit=COMPLETED_PRUNE_BATCH):
                if obj.last_modified - old["at"] > COMPLETED_REPLAY_S:
                    md.delete(KIND_COMPLETED, old_key)
            md.put(KIND_COMPLETED, ukey, completed)
            return unused

        obj, notification = await self.objects.commit(account, obj, if_match=if_match, if_none_match=if_none_match, extra=drop_upload)
        await self.objects.notifier.object_event(account, self.buckets, bucket, "ObjectCreated:CompleteMultipartUpload", obj, origin,
                                                 config=notification)
        return obj

    def _completed(self, account: str, bucket: str, key: str, upload_id: str, requested: list[dict[str, Any]]) -> S3Object | None:
        """The object a completed upload made, when ``requested`` repeats that completion (same key, same
        parts) within COMPLETED_REPLAY_S and the key still holds that object; else None."""
        if "/" in upload_id:
            return None
        doc = self.metadata.get(KIND_COMPLETED, self._ukey(account, bucket, upload_id))
        if doc is None or doc["k"] != key or self.objects.now() - doc["at"] > COMPLETED_REPLAY_S:
            return None
        if _part_list(requested) != doc["parts"]:
            return None
        obj = self.objects.find(account, bucket, key)
        return obj if obj is not None and obj.etag == doc["e"] else None

    def prune_completed(self, *, page: int = 5000) -> int:
        """Delete every expired completed-upload record (at start-up; completions prune a few as they go)."""
        now = self.objects.now()
        removed = 0
        after = None
        while True:
            rows = self.metadata.list(KIND_COMPLETED, after=after, limit=page)
            for key, doc in rows:
                if now - doc["at"] > COMPLETED_REPLAY_S:
                    self.metadata.delete(KIND_COMPLETED, key)
                    removed += 1
            if len(rows) < page:
                return removed
            after = rows[-1][0]

    async def _full_object_checksum(self, algorithm: str, parts: list[Part]) -> str:
        hasher = checksums.new_hasher(algorithm)
        for part in parts:
            with self.blobs.open(part.blob_key) as reader:
                async for chunk in reader.chunks():
                    hasher.update(chunk)
        return checksums.encode(hasher.digest())

    async def abort(self, account: str, bucket: str, key: str, upload_id: str) -> None:
        upload = self.get_upload(account, bucket, key, upload_id)
        md = self.metadata
        ukey = self._ukey(account, bucket, upload.upload_id)
        garbage = []
        with md.transaction():
            for pkey, doc in md.list(KIND_PART, ukey + "/"):
                md.delete(KIND_PART, pkey)
                garbage.append(doc["b"])
            md.delete(KIND_UPLOAD, ukey)
        await self.objects.delete_blobs(garbage)

    def list_parts(self, account: str, bucket: str, key: str, upload_id: str, *, marker: int = 0, max_parts: int = MAX_LIST_PARTS) -> PartListing:
        upload = self.get_upload(account, bucket, key, upload_id)
        max_parts = max(0, min(max_parts, MAX_LIST_PARTS))
        ukey = self._ukey(account, bucket, upload_id)
        rows = self.metadata.list(KIND_PART, ukey + "/", after=f"{ukey}/{marker:05d}" if marker else None, limit=max_parts + 1)
        parts = [Part.from_doc(doc) for _, doc in rows]
        truncated = len(parts) > max_parts
        parts = parts[:max_parts]
        return PartListing(upload, parts, truncated, parts[-1].number if parts else None)

    def list_uploads(
        self, account: str, bucket: str, *, prefix: str = "", delimiter: str | None = None,
        key_marker: str | None = None, upload_id_marker: str | None = None, max_uploads: int = MAX_LIST_UPLOADS,
    ) -> UploadListing:
        if not self.buckets.exists(account, bucket):
            raise NoSuchBucket(bucket)
        max_uploads = max(0, min(max_uploads, MAX_LIST_UPLOADS))
        # Uploads are keyed by id; a bucket rarely has many in flight, so sort them here by (key, initiated).
        uploads = sorted(
            (Upload.from_doc(bucket, doc) for _, doc in self.metadata.list(KIND_UPLOAD, object_prefix(account, bucket))),
            key=lambda u: (u.key, u.initiated, u.upload_id),
        )
        out: list[Upload] = []
        prefixes: list[str] = []
        truncated = False
        next_key = next_id = None
        passed_marker = upload_id_marker is None
        for upload in uploads:
            if not upload.key.startswith(prefix):
                continue
            if key_marker is not None:
                if upload.key < key_marker:
                    continue
                if upload.key == key_marker:
                    if upload_id_marker is None:
                        continue
                    if not passed_marker:
                        passed_marker = upload.upload_id == upload_id_marker
                        continue
            if delimiter:
                i = upload.key.find(delimiter, len(prefix))
                if i >= 0:
                    cp = upload.key[: i + len(delimiter)]
                    if (prefixes and prefixes[-1] == cp) or (key_marker is not None and cp <= key_marker):
                        continue
                    if len(out) + len(prefixes) >= max_uploads:
                        truncated = True
                        break
                    prefixes.append(cp)
                    next_key, next_id = cp, None
                    continue
            if len(out) + len(prefixes) >= max_uploads:
                truncated = True
                break
            out.append(upload)
            next_key, next_id = upload.key, upload.upload_id
        return UploadListing(out, prefixes, truncated, next_key if truncated else None, next_id if truncated else None)


def _part_list(requested: list[dict[str, Any]]) -> list[list[Any]]:
    """A completion's parts as compared between a completion and its repetition: number and unquoted ETag."""
    return [[item.get("PartNumber"), str(item.get("ETag") or "").strip().strip('"')] for item in requested]
