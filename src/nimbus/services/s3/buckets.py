"""Buckets: names, regions, tags and notification configurations, as metadata documents.

Bucket names are unique per account (AWS makes them global across accounts; Nimbus has one account
per server in practice). ``ListBuckets`` lists every bucket of the account whatever the region asked,
as AWS does; each bucket remembers the region it was created in (``GetBucketLocation``).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace
from typing import Any

from nimbus.clock import Clock
from nimbus.services.s3.errors import (
    BadRequest,
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    IllegalLocationConstraintException,
    InvalidBucketName,
    InvalidTag,
    NoSuchBucket,
    NoSuchTagSet,
)
from nimbus.storage import MetadataStore

KIND_BUCKET = "s3.bucket"
KIND_OBJECT = "s3.object"
KIND_UPLOAD = "s3.upload"
KIND_PART = "s3.part"
KIND_COMPLETED = "s3.completed"  # a completed upload's answer, for a repeated CompleteMultipartUpload (multipart.py)
KIND_VERSIONS = "s3.versions"  # a key's noncurrent versions and delete markers, newest first (objects.py)

# Bucket naming rules (S3 user guide "General purpose bucket naming rules").
_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
MAX_TAGS_BUCKET = 50
MAX_TAGS_OBJECT = 10
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256


def valid_bucket_name(name: str) -> bool:
    if not _NAME.match(name) or ".." in name or ".-" in name or "-." in name:
        return False
    if name.startswith(_RESERVED_PREFIXES) or name.endswith(_RESERVED_SUFFIXES):
        return False
    try:
        ipaddress.IPv4Address(name)
        return False
    except ValueError:
        return True


def check_tags(tags: dict[str, str], limit: int) -> None:
    if len(tags) > limit:
        if limit == MAX_TAGS_OBJECT:  # S3's code for this one is BadRequest
            raise BadRequest(f"Object tags cannot be greater than {limit}")
        raise InvalidTag(f"Bucket tags cannot be greater than {limit}")
    for k, v in tags.items():
        if not k or len(k) > MAX_TAG_KEY:
            raise InvalidTag("The TagKey you have provided is invalid", TagKey=k)
        if len(v) > MAX_TAG_VALUE:
            raise InvalidTag("The TagValue you have provided is too long, max 256", TagKey=k)
        if k.lower().startswith("aws:"):
            raise InvalidTag("Your TagKey cannot be prefixed with aws:", TagKey=k)


@dataclass(slots=True, frozen=True)
class Bucket:
    account: str
    name: str
    region: str
    created: float
    tags: dict[str, str] = field(default_factory=dict)
    notification: dict[str, Any] = field(default_factory=dict)
    # recorded configurations by name ("cors", "policy", "lifecycle"...; settings.py), JSON-safe documents
    settings: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_doc(cls, account: str, doc: dict[str, Any]) -> Bucket:
        return cls(account, doc["name"], doc["region"], doc["created"], doc.get("tags") or {}, doc.get("notification") or {},
                   doc.get("settings") or {})

    def to_doc(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "region": self.region,
            "created": self.created,
            "tags": self.tags,
            "notification": self.notification,
            "settings": self.settings,
        }

    @property
    def arn(self) -> str:
        return f"arn:aws:s3:::{self.name}"


def bucket_key(account: str, name: str) -> str:
    return f"{account}/{name}"


def object_prefix(account: str, bucket: str) -> str:
    """Metadata key prefix of a bucket's objects, uploads and parts (bucket names hold no '/')."""
    return f"{account}/{bucket}/"


MAX_CACHED_BUCKETS = 4096


class Buckets:
    """Buckets of every account. Bucket documents are written only here (one instance per metadata
    store: the server's one S3Engine), never inside a caller's transaction; every write forgets the
    bucket's cached copy while it holds the store's transaction lock, so the cache (two reads saved per
    PutObject) only ever holds committed state."""

    def __init__(self, metadata: MetadataStore, clock: Clock) -> None:
        self.metadata = metadata
        self.clock = clock
        self._cache: dict[tuple[str, str], Bucket] = {}

    def lookup(self, account: str, name: str) -> Bucket | None:
        """The bucket, or None when it does not exist (safe inside a transaction, and from any thread)."""
        found = self._cache.get((account, name))
        if found is None:
            doc = self.metadata.get(KIND_BUCKET, bucket_key(account, name))
            if doc is None:
                return None
            found = Bucket.from_doc(account, doc)
            if len(self._cache) >= MAX_CACHED_BUCKETS:
                self._cache.clear()
            self._cache[(account, name)] = found
        return found

    def _forget(self, account: str, name: str) -> None:
        self._cache.pop((account, name), None)

    def get(self, account: str, name: str) -> Bucket:
        found = self.lookup(account, name)
        if found is None:
            raise NoSuchBucket(name)
        return found

    def exists(self, account: str, name: str) -> bool:
        return self.lookup(account, name) is not None

    def create(self, account: str, name: str, *, region: str, location_constraint: str | None,
               settings: dict[str, Any] | None = None) -> Bucket:
        """``settings``: configurations the bucket is created with (Object Lock and the versioning it needs),
        in the same write."""
        if not valid_bucket_name(name):
            raise InvalidBucketName(name)
        # aws-contracts.md E.4: the CLI sends a LocationConstraint unless the region is us-east-1.
        if not location_constraint:
            if region != "us-east-1":
                raise IllegalLocationConstraintException(
                    "The unspecified location constraint is incompatible for the region specific endpoint this "
                    "request was sent to."
                )
            bucket_region = "us-east-1"
        else:
            bucket_region = "eu-west-1" if location_constraint == "EU" else location_constraint
            if bucket_region != region:
                raise IllegalLocationConstraintException(
                    f"The {location_constraint} location constraint is incompatible for the region specific "
                    "endpoint this request was sent to."
                )
        bucket = Bucket(account, name, bucket_region, self.clock.time())
        if settings:
            bucket = replace(bucket, settings=dict(settings))
        self._forget(account, name)
        if not self.metadata.insert(KIND_BUCKET, bucket_key(account, name), bucket.to_doc()):
            raise BucketAlreadyOwnedByYou(name)
        return bucket

    def delete(self, account: str, name: str) -> None:
        md = self.metadata
        prefix = object_prefix(account, name)
        with md.transaction():
            if md.get(KIND_BUCKET, bucket_key(account, name)) is None:
                raise NoSuchBucket(name)
            # AWS refuses while objects or in-progress multipart uploads remain.
            # (and while any version or delete marker remains, in a bucket ever versioned)
            if md.list(KIND_OBJECT, prefix, limit=1) or md.list(KIND_UPLOAD, prefix, limit=1) or md.list(KIND_VERSIONS, prefix, limit=1):
                raise BucketNotEmpty(name)
            for done, _ in md.list(KIND_COMPLETED, prefix):
                md.delete(KIND_COMPLETED, done)
            self._forget(account, name)  # under the lock: no transaction after this commit finds it cached
            md.delete(KIND_BUCKET, bucket_key(account, name))
        self._forget(account, name)

    def list(self, account: str, *, prefix: str = "", after: str | None = None, limit: int | None = None) -> list[Bucket]:
        rows = self.metadata.list(
            KIND_BUCKET, f"{account}/{prefix}", after=f"{account}/{after}" if after else None, limit=limit
        )
        return [Bucket.from_doc(account, doc) for _, doc in rows]

    def _update(self, account: str, name: str, **changes: Any) -> Bucket:
        md = self.metadata
        with md.transaction():
            doc = md.get(KIND_BUCKET, bucket_key(account, name))
            if doc is None:
                raise NoSuchBucket(name)
            doc.update(changes)
            self._forget(account, name)
            md.put(KIND_BUCKET, bucket_key(account, name), doc)
        self._forget(account, name)
        return Bucket.from_doc(account, doc)

    def put_tags(self, account: str, name: str, tags: dict[str, str]) -> None:
        check_tags(tags, MAX_TAGS_BUCKET)
        self._update(account, name, tags=tags)

    def get_tags(self, account: str, name: str) -> dict[str, str]:
        bucket = self.get(account, name)
        if not bucket.tags:
            raise NoSuchTagSet(name)
        return bucket.tags

    def delete_tags(self, account: str, name: str) -> None:
        self._update(account, name, tags={})

    def put_notification(self, account: str, name: str, config: dict[str, Any]) -> None:
        self._update(account, name, notification=config)

    def put_setting(self, account: str, name: str, setting: str, value: Any) -> None:
        """Record one configuration of the bucket (``None`` removes it), in the bucket's own document: it
        survives restarts, goes with the bucket, and is read from the bucket cache."""
        md = self.metadata
        with md.transaction():
            doc = md.get(KIND_BUCKET, bucket_key(account, name))
            if doc is None:
                raise NoSuchBucket(name)
            settings = dict(doc.get("settings") or {})
            if value is None:
                settings.pop(setting, None)
            else:
                settings[setting] = value
            doc["settings"] = settings
            self._forget(account, name)
            md.put(KIND_BUCKET, bucket_key(account, name), doc)
        self._forget(account, name)
