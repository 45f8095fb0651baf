"""S3 Object Lock: WORM retention and legal holds on object versions (docs/services/s3.md, "Object Lock").

A bucket has Object Lock when it was created with ``x-amz-bucket-object-lock-enabled`` (versioning is then
Enabled with it) or when PutObjectLockConfiguration enabled it on a versioned bucket; it can never be
switched off, nor can versioning be suspended. Its ``objectLock`` setting keeps the configuration as the
wire shows it (``{"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {...}}}``).

A version's lock lives in its own description (``S3Object.lock_mode`` / ``lock_until`` / ``legal_hold``):
written with the version (explicit x-amz-object-lock-* headers, else the bucket's default retention), then
changed by PutObjectRetention and PutObjectLegalHold. A version under retention (``lock_until`` in the
future) or with a legal hold ON cannot be deleted for good (DeleteObject with a version id, DeleteObjects,
lifecycle): AccessDenied, except GOVERNANCE retention with ``x-amz-bypass-governance-retention: true``.
New versions and delete markers can always be added on top, as on S3.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nimbus.services.s3.errors import InvalidArgument, InvalidRequest, MalformedXML, S3Error

OBJECT_LOCK = "objectLock"  # the bucket setting
GOVERNANCE = "GOVERNANCE"
COMPLIANCE = "COMPLIANCE"
MODES = (GOVERNANCE, COMPLIANCE)
HOLD_STATES = ("ON", "OFF")
MAX_DAYS = 36500  # S3: a default retention of at most 100 years
MAX_YEARS = 100
DAY_S = 86400.0


class InvalidBucketState(S3Error):
    code = "InvalidBucketState"
    status = 409


class NoSuchObjectLockConfiguration(S3Error):
    code = "NoSuchObjectLockConfiguration"
    status = 404

    def __init__(self) -> None:
        super().__init__("The specified object does not have a ObjectLock configuration")


class ObjectLocked(S3Error):
    code = "AccessDenied"
    status = 403

    def __init__(self) -> None:
        super().__init__("Access Denied because object protected by object lock.")


def missing_configuration() -> InvalidRequest:
    return InvalidRequest("Bucket is missing Object Lock Configuration")


@dataclass(slots=True, frozen=True)
class Lock:
    """What a new version is written with: retention (mode and until, epoch seconds) and/or a legal hold."""

    mode: str | None = None
    until: float | None = None
    hold: str | None = None


def enabled(settings: dict[str, Any] | None) -> bool:
    return bool(settings) and settings.get(OBJECT_LOCK) is not None  # type: ignore[union-attr]


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)


# ------------------------------------------------------------------------------------ configuration


def check_configuration(config: dict[str, Any] | None, *, versioning: str | None, already: bool) -> dict[str, Any]:
    """PutObjectLockConfiguration's document, as stored and answered. A bucket without Object Lock must be
    versioned (Enabled) to get it; ``Rule`` (optional) holds one DefaultRetention with a mode and either
    Days or Years."""
    if not already and versioning != "Enabled":
        raise InvalidBucketState("Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration")
    config = config or {}
    if config.get("ObjectLockEnabled") != "Enabled":
        raise MalformedXML()
    out: dict[str, Any] = {"ObjectLockEnabled": "Enabled"}
    rule = config.get("Rule")
    if rule is not None:
        default = rule.get("DefaultRetention")
        if not isinstance(default, dict) or default.get("Mode") not in MODES:
            raise MalformedXML()
        days, years = default.get("Days"), default.get("Years")
        if (days is None) == (years is None):
            raise MalformedXML()
        count = days if days is not None else years
        if not isinstance(count, int) or count <= 0:
            raise InvalidArgument("Default retention period must be a positive integer value.",
                                  ArgumentName="DefaultRetention", ArgumentValue=str(count))
        if count > (MAX_DAYS if days is not None else MAX_YEARS):
            raise InvalidArgument("Default retention period is too large.", ArgumentName="DefaultRetention",
                                  ArgumentValue=str(count))
        kept: dict[str, Any] = {"Mode": default["Mode"]}
        kept["Days" if days is not None else "Years"] = count
        out["Rule"] = {"DefaultRetention": kept}
    return out


def default_lock(settings: dict[str, Any] | None, now: float) -> Lock | None:
    """The bucket's default retention for a version created at ``now`` (None: none)."""
    config = settings.get(OBJECT_LOCK) if settings else None
    default = ((config or {}).get("Rule") or {}).get("DefaultRetention")
    if not default:
        return None
    days = default.get("Days")
    if days is None:
        days = default["Years"] * 365
    return Lock(default["Mode"], now + days * DAY_S, None)


def lock_for_write(settings: dict[str, Any] | None, params: dict[str, Any], now: float, *,
                   checksummed: bool | None = None) -> Lock | None:
    """The lock a write (PutObject, CopyObject, CreateMultipartUpload) gives its new version: its
    x-amz-object-lock-* headers, else the bucket's default retention (a legal hold header alone keeps the
    default retention). ``checksummed`` (PutObject): whether the request carried Content-MD5 or a checksum,
    which S3 requires of a PUT with Object Lock headers."""
    mode, until, hold = params.get("ObjectLockMode"), params.get("ObjectLockRetainUntilDate"), params.get("ObjectLockLegalHoldStatus")
    if mode is None and until is None and hold is None:
        return default_lock(settings, now) if settings and OBJECT_LOCK in settings else None
    if not enabled(settings):
        raise missing_configuration()
    if (mode is None) != (until is None):
        raise InvalidArgument("x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied",
                              ArgumentName="x-amz-object-lock-retain-until-date")
    if checksummed is False:
        raise InvalidRequest("Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with "
                             "Object Lock parameters")
    if mode is None:
        base = default_lock(settings, now)
        return Lock(base.mode if base else None, base.until if base else None, hold)
    until_s = _epoch(until)
    if until_s <= now:
        raise InvalidArgument("The retain until date must be in the future!", ArgumentName="x-amz-object-lock-retain-until-date")
    return Lock(mode, until_s, hold)


def check_bypass(settings: dict[str, Any] | None, bypass: bool) -> None:
    if bypass and not enabled(settings):
        raise InvalidArgument("x-amz-bypass-governance-retention is only applicable to Object Lock enabled buckets.",
                              ArgumentName="x-amz-bypass-governance-retention")


# ------------------------------------------------------------------------------------ versions


def protected(doc: dict[str, Any], now: float, *, bypass: bool = False) -> bool:
    """Whether the version ``doc`` (a stored description) may not be deleted for good now."""
    if doc.get("lh") == "ON":
        return True
    until = doc.get("lu")
    if until is None or until <= now:
        return False
    return doc.get("lm") == COMPLIANCE or not bypass


def check_delete(doc: dict[str, Any], now: float, *, bypass: bool) -> None:
    if protected(doc, now, bypass=bypass):
        raise ObjectLocked()


def change_retention(doc: dict[str, Any], retention: dict[str, Any] | None, now: float, *, bypass: bool) -> None:
    """PutObjectRetention on one version's description (in place). Retention in effect may be extended
    (or GOVERNANCE raised to COMPLIANCE); shortening or removing GOVERNANCE needs the bypass header;
    COMPLIANCE can only be extended."""
    retention = retention or {}
    mode, until = retention.get("Mode"), retention.get("RetainUntilDate")
    if (mode is None) != (until is None):
        raise MalformedXML()
    new_until = _epoch(until) if until is not None else None
    if new_until is not None and new_until <= now:
        raise InvalidArgument("The retain until date must be in the future!", ArgumentName="RetainUntilDate")
    old_mode, old_until = doc.get("lm"), doc.get("lu")
    if old_until is not None and old_until > now:
        weaker = new_until is None or new_until < old_until
        if old_mode == COMPLIANCE and (weaker or mode != COMPLIANCE):
            raise ObjectLocked()
        if old_mode == GOVERNANCE and weaker and not bypass:
            raise ObjectLocked()
    if mode is None:
        doc.pop("lm", None)
        doc.pop("lu", None)
    else:
        doc["lm"], doc["lu"] = mode, new_until


def retention_of(doc_mode: str | None, doc_until: float | None) -> dict[str, Any]:
    if doc_mode is None or doc_until is None:
        raise NoSuchObjectLockConfiguration()
    return {"Mode": doc_mode, "RetainUntilDate": doc_until}


def check_hold(hold: dict[str, Any] | None) -> str:
    status = (hold or {}).get("Status")
    if status not in HOLD_STATES:
        raise MalformedXML()
    return str(status)
