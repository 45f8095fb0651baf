"""Bucket lifecycle: checking a ``LifecycleConfiguration`` as S3 does, and applying the two actions a
developer sees: ``Expiration`` of current objects (Days / Date) and ``AbortIncompleteMultipartUpload``, and
in versioned buckets ``NoncurrentVersionExpiration`` and ``ExpiredObjectDeleteMarker``.

S3 applies rules asynchronously: an object becomes eligible at the first midnight UTC at least ``Days``
days after its creation (S3 user guide, "Lifecycle rules: based on an object's age"), and is removed some
time after that. Nimbus's ``Sweeper`` looks every ``sweep_interval_s`` (``NIMBUS_S3_LIFECYCLE_SWEEP_SECONDS``,
default one hour) and removes what is eligible through the DeleteObject path, sending
``LifecycleExpiration:Delete`` notifications. ``NIMBUS_S3_LIFECYCLE_DAY_SECONDS`` (default 86400) is the
length of a lifecycle "day", for tests only. In a versioned bucket ``Expiration`` adds a delete marker
(``LifecycleExpiration:DeleteMarkerCreated``), as on S3; a noncurrent version is eligible ``NoncurrentDays``
after it became noncurrent (beyond the ``NewerNoncurrentVersions`` newest ones), and a delete marker with
no version under it is removed under ``ExpiredObjectDeleteMarker``. Transitions are recorded, not applied
(Nimbus has one storage class).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import email.utils
import logging
import math
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nimbus.services.s3.buckets import KIND_BUCKET, KIND_OBJECT, KIND_UPLOAD, KIND_VERSIONS, Bucket, object_prefix
from nimbus.services.s3.errors import InvalidArgument, InvalidRequest, MalformedXML
from nimbus.services.s3.multipart import Upload
from nimbus.services.s3.notifications import Origin
from nimbus.services.s3.objects import NULL, S3Object
from nimbus.services.s3.settings import LIFECYCLE

if TYPE_CHECKING:
    from nimbus.services.s3.engine import S3Engine

log = logging.getLogger(__name__)
UTC = dt.timezone.utc

MAX_RULES = 1000  # S3 user guide, "Setting lifecycle configuration": up to 1,000 rules
MAX_ID = 255
DAY_S = 86400
DEFAULT_SWEEP_INTERVAL_S = 3600.0
SWEEP_PAGE = 500
# S3's minimum age for a transition to these classes (InvalidArgument below it)
_MIN_TRANSITION_DAYS = {"STANDARD_IA": 30, "ONEZONE_IA": 30}
_ACTIONS = ("Expiration", "Transitions", "NoncurrentVersionTransitions", "NoncurrentVersionExpiration",
            "AbortIncompleteMultipartUpload")
_FILTER_MEMBERS = ("Prefix", "Tag", "And", "ObjectSizeGreaterThan", "ObjectSizeLessThan")


# ------------------------------------------------------------------------------------------ checking


def _is_midnight(value: dt.datetime) -> bool:
    value = value.astimezone(UTC) if value.tzinfo else value
    return (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0)


def _stamp_doc(value: Any) -> Any:
    """Dates are stored as ISO-8601 text (the metadata store holds JSON)."""
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    if isinstance(value, dict):
        return {k: _stamp_doc(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_stamp_doc(v) for v in value]
    return value


def to_wire(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored rules back as the output shape (dates as datetimes)."""
    def back(value: Any, key: str = "") -> Any:
        if key == "Date" and isinstance(value, str):
            return dt.datetime.fromisoformat(value)
        if isinstance(value, dict):
            return {k: back(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [back(v) for v in value]
        return value
    return [back(r) for r in rules]


def _positive(value: Any, message: str) -> None:
    if value is not None and value <= 0:
        raise InvalidArgument(message)


def validate(config: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The rules of a PutBucketLifecycleConfiguration body, checked; returned as stored (JSON-safe)."""
    rules = (config or {}).get("Rules") or []
    if not rules or len(rules) > MAX_RULES:
        raise MalformedXML()
    seen: set[str] = set()
    out = []
    for rule in rules:
        rule_id = rule.get("ID")
        if rule_id is not None:
            if len(rule_id) > MAX_ID:
                raise InvalidArgument("ID length should not exceed allowed limit of 255")
            if rule_id in seen:
                raise InvalidArgument("Rule ID must be unique. Found same ID for more than one rule")
            seen.add(rule_id)
        if rule.get("Status") not in ("Enabled", "Disabled"):
            raise MalformedXML()
        has_filter = "Filter" in rule and rule["Filter"] is not None
        if has_filter == ("Prefix" in rule and rule["Prefix"] is not None):
            raise MalformedXML()  # exactly one of Filter and (the older) Prefix
        flt = rule.get("Filter") or {}
        if sum(1 for m in _FILTER_MEMBERS if flt.get(m) is not None) > 1:
            raise MalformedXML()
        if not any(rule.get(a) for a in _ACTIONS):
            raise InvalidRequest("At least one action needs to be specified in a rule")
        expiration = rule.get("Expiration")
        if expiration:
            given = [m for m in ("Days", "Date", "ExpiredObjectDeleteMarker") if expiration.get(m) is not None]
            if len(given) != 1:
                raise MalformedXML()
            _positive(expiration.get("Days"), "'Days' for Expiration action must be a positive integer")
            if expiration.get("Date") is not None and not _is_midnight(expiration["Date"]):
                raise InvalidArgument("'Date' must be at midnight GMT")
        noncurrent = rule.get("NoncurrentVersionExpiration")
        if noncurrent:
            if noncurrent.get("NoncurrentDays") is None:
                raise MalformedXML()
            _positive(noncurrent["NoncurrentDays"], "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer")
        abort = rule.get("AbortIncompleteMultipartUpload")
        if abort:
            if flt.get("Tag") or (flt.get("And") or {}).get("Tags"):
                raise InvalidRequest("AbortIncompleteMultipartUpload cannot be specified with Tags.")
            if abort.get("DaysAfterInitiation") is None:
                raise MalformedXML()
            _positive(abort["DaysAfterInitiation"],
                      "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer")
        for t in rule.get("Transitions") or []:
            if (t.get("Days") is None) == (t.get("Date") is None):
                raise MalformedXML()
            if t.get("Days") is not None and t["Days"] < 0:
                raise InvalidArgument("'Days' in Transition action must be nonnegative")
            minimum = _MIN_TRANSITION_DAYS.get(t.get("StorageClass", ""))
            if minimum and t.get("Days") is not None and t["Days"] < minimum:
                raise InvalidArgument(f"'Days' in Transition action must be greater than or equal to {minimum} for "
                                      f"storageClass '{t['StorageClass']}'")
        stored = _stamp_doc(rule)
        if not stored.get("ID"):
            # S3 names a rule given without ID (a random 48-character id, shown by Get and x-amz-expiration)
            stored["ID"] = base64.b64encode(os.urandom(36)).decode("ascii")
        out.append(stored)
    return out


# ------------------------------------------------------------------------------------------ applying


def _filter_of(rule: dict[str, Any]) -> dict[str, Any]:
    if rule.get("Filter") is not None:
        return dict(rule["Filter"])
    return {"Prefix": rule.get("Prefix") or ""}


def prefix_of(rule: dict[str, Any]) -> str:
    flt = _filter_of(rule)
    return str(flt.get("Prefix") or (flt.get("And") or {}).get("Prefix") or "")


def applies(rule: dict[str, Any], key: str, size: int, tags: Mapping[str, str]) -> bool:
    if rule.get("Status") != "Enabled":
        return False
    flt = _filter_of(rule)
    conds = dict(flt.get("And") or {})
    for m in ("Prefix", "ObjectSizeGreaterThan", "ObjectSizeLessThan"):
        if flt.get(m) is not None:
            conds[m] = flt[m]
    wanted = list(conds.get("Tags") or [])
    if flt.get("Tag"):
        wanted.append(flt["Tag"])
    if not key.startswith(conds.get("Prefix") or ""):
        return False
    if conds.get("ObjectSizeGreaterThan") is not None and not size > conds["ObjectSizeGreaterThan"]:
        return False
    if conds.get("ObjectSizeLessThan") is not None and not size < conds["ObjectSizeLessThan"]:
        return False
    return all(tags.get(t.get("Key")) == t.get("Value") for t in wanted)


def _eligible_at(start: float, days: int, day_s: float) -> float:
    """The first midnight (UTC; a multiple of ``day_s``) at least ``days`` after ``start``."""
    return math.ceil((start + days * day_s) / day_s) * day_s


@dataclass(slots=True, frozen=True)
class Expiry:
    at: float  # epoch seconds
    rule_id: str


def expiry(rules: list[dict[str, Any]] | None, obj: S3Object, *, day_s: float = DAY_S) -> Expiry | None:
    """When the current object ``obj`` expires under these rules (the earliest applying rule), or None."""
    best: Expiry | None = None
    for rule in rules or ():
        exp = rule.get("Expiration") or {}
        if exp.get("Days") is None and exp.get("Date") is None:
            continue
        if not applies(rule, obj.key, obj.size, obj.tags):
            continue
        if exp.get("Days") is not None:
            at = _eligible_at(obj.last_modified, exp["Days"], day_s)
        else:
            at = dt.datetime.fromisoformat(exp["Date"]).timestamp()
        if best is None or at < best.at:
            best = Expiry(at, rule.get("ID") or "")
    return best


def expiration_header(found: Expiry | None) -> str | None:
    """``x-amz-expiration: expiry-date="Fri, 23 Dec 2012 00:00:00 GMT", rule-id="..."``."""
    if found is None:
        return None
    return f'expiry-date="{email.utils.formatdate(found.at, usegmt=True)}", rule-id="{found.rule_id}"'


def abort_after(rules: list[dict[str, Any]] | None, key: str, initiated: float, *, day_s: float = DAY_S) -> float | None:
    best = None
    for rule in rules or ():
        abort = rule.get("AbortIncompleteMultipartUpload")
        if not abort or rule.get("Status") != "Enabled" or not key.startswith(prefix_of(rule)):
            continue
        at = _eligible_at(initiated, abort["DaysAfterInitiation"], day_s)
        best = at if best is None else min(best, at)
    return best


def noncurrent_expired(rules: list[dict[str, Any]], key: str, chain: list[dict[str, Any]], now: float, *, day_s: float = DAY_S) -> list[str]:
    """Version ids of a key's history (``s3.versions`` entries, newest first) that NoncurrentVersionExpiration
    removes now: eligible ``NoncurrentDays`` after becoming noncurrent, keeping the ``NewerNoncurrentVersions``
    newest noncurrent versions of the rule."""
    out: list[str] = []
    for rule in rules:
        action = rule.get("NoncurrentVersionExpiration")
        if not action or action.get("NoncurrentDays") is None:
            continue
        keep = int(action.get("NewerNoncurrentVersions") or 0)
        newer = 0
        for entry in chain:
            if entry.get("dm") or entry.get("nc") is None:
                continue
            obj = S3Object.from_doc("", entry)
            if not applies(rule, key, obj.size, obj.tags):
                continue
            newer += 1
            if newer <= keep:
                continue
            if _eligible_at(entry["nc"], action["NoncurrentDays"], day_s) <= now and obj.version not in out:
                out.append(obj.version)
    return out


class Sweeper:
    """The background task applying every bucket's lifecycle rules (owned by the S3 engine)."""

    def __init__(self, engine: S3Engine, *, interval_s: float = DEFAULT_SWEEP_INTERVAL_S, day_s: float = DAY_S) -> None:
        self.engine = engine
        self.interval_s = interval_s
        self.day_s = day_s
        self.expired = 0  # counters, for logs and tests
        self.aborted = 0

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - one bad pass must not stop the next ones
                log.exception("s3 lifecycle sweep failed")

    async def sweep(self) -> None:
        md = self.engine.metadata
        after = None
        while True:
            rows = md.list(KIND_BUCKET, "", after=after, limit=SWEEP_PAGE)
            for key, doc in rows:
                rules = (doc.get("settings") or {}).get(LIFECYCLE)
                if rules and any(r.get("Status") == "Enabled" for r in rules):
                    bucket = Bucket.from_doc(key.split("/", 1)[0], doc)
                    await self._bucket(bucket, rules)
            if len(rows) < SWEEP_PAGE:
                return
            after = rows[-1][0]

    async def _history(self, bucket: Bucket, key: str, chain: list[dict[str, Any]], rules: list[dict[str, Any]], now: float,
                       origin: Origin) -> None:
        """NoncurrentVersionExpiration and ExpiredObjectDeleteMarker on one key's history."""
        objects = self.engine.objects

        def still_noncurrent(current: dict[str, Any] | None, history: list[dict[str, Any]], at: int | None) -> bool:
            return at is not None and (current is not None or at > 0)

        for version in noncurrent_expired(rules, key, chain, now, day_s=self.day_s):
            if await objects.remove(bucket.account, bucket.name, key, version_id=version, origin=origin,
                                    event="LifecycleExpiration:Delete", only_if=still_noncurrent):
                self.expired += 1
        if len(chain) == 1 and chain[0].get("dm") and any(
            (r.get("Expiration") or {}).get("ExpiredObjectDeleteMarker") and key.startswith(prefix_of(r)) for r in rules
        ):
            def lone_marker(current: dict[str, Any] | None, history: list[dict[str, Any]], at: int | None) -> bool:
                return current is None and len(history) == 1 and at == 0 and bool(history[0].get("dm"))

            if await objects.remove(bucket.account, bucket.name, key, version_id=chain[0].get("v") or NULL, origin=origin,
                                    event="LifecycleExpiration:Delete", only_if=lone_marker):
                self.expired += 1

    async def _bucket(self, bucket: Bucket, rules: list[dict[str, Any]]) -> None:
        engine, md = self.engine, self.engine.metadata
        now = engine.clock.time()
        base = object_prefix(bucket.account, bucket.name)
        origin = Origin(region=bucket.region, principal="AmazonS3", request_id=uuid.uuid4().hex.upper()[:16], host_id=None)
        if any((r.get("Expiration") or {}).get("Days") is not None or (r.get("Expiration") or {}).get("Date") is not None
               for r in rules):
            prefixes = sorted({prefix_of(r) for r in rules if r.get("Status") == "Enabled" and r.get("Expiration")})
            # one walk per distinct prefix, skipping prefixes another one covers
            walks = [p for p in prefixes if not any(p != q and p.startswith(q) for q in prefixes)]
            for prefix in walks:
                after = None
                while True:
                    rows = md.list(KIND_OBJECT, base + prefix, after=after, limit=SWEEP_PAGE)
                    for _, doc in rows:
                        obj = S3Object.from_doc(bucket.name, doc)
                        found = expiry(rules, obj, day_s=self.day_s)
                        if found is not None and found.at <= now:
                            if await engine.objects.delete(bucket.account, bucket.name, obj.key, origin=origin,
                                                           event="LifecycleExpiration:Delete", only_if_etag=obj.etag,
                                                           only_if_modified=obj.last_modified):
                                self.expired += 1
                    if len(rows) < SWEEP_PAGE:
                        break
                    after = rows[-1][0]
                    await asyncio.sleep(0)
        enabled = [r for r in rules if r.get("Status") == "Enabled"]
        if any(r.get("NoncurrentVersionExpiration") or (r.get("Expiration") or {}).get("ExpiredObjectDeleteMarker") for r in enabled):
            after = None
            while True:
                rows = md.list(KIND_VERSIONS, base, after=after, limit=SWEEP_PAGE)
                for okey, doc in rows:
                    await self._history(bucket, okey[len(base):], doc["vs"], enabled, now, origin)
                if len(rows) < SWEEP_PAGE:
                    break
                after = rows[-1][0]
                await asyncio.sleep(0)
        if any(r.get("AbortIncompleteMultipartUpload") for r in rules):
            for _, doc in md.list(KIND_UPLOAD, base):
                upload = Upload.from_doc(bucket.name, doc)
                at = abort_after(rules, upload.key, upload.initiated, day_s=self.day_s)
                if at is not None and at <= now:
                    try:
                        await engine.multipart.abort(bucket.account, bucket.name, upload.key, upload.upload_id)
                        self.aborted += 1
                    except Exception:  # noqa: BLE001 - completed or aborted meanwhile
                        continue
