"""Archive storage classes (GLACIER, DEEP_ARCHIVE) and RestoreObject (docs/services/s3.md, "Archived objects").

An object written with an archive storage class keeps its body on disk like any other, but reads of it
(GetObject, CopyObject and UploadPartCopy sources) answer 403 ``InvalidObjectState`` until a restore has
completed and while its copy has not expired, as on S3. A restore's state is three instants kept in the
version's own description (``S3Object.restore``: requested, ready, expires), so it needs no background
work and survives restarts: it is in progress until ``ready`` and readable until ``expires``.

How long a restore takes is ``NIMBUS_S3_RESTORE_SECONDS`` (default 1 s, every tier) instead of S3's minutes
to hours; ``Days`` counts real days, and the expiry is rounded up to the next midnight UTC as S3 does.
"""

from __future__ import annotations

import email.utils
import math
from typing import Any

from nimbus.services.s3.errors import InvalidArgument, MalformedXML, S3Error

ARCHIVED = frozenset(("GLACIER", "DEEP_ARCHIVE"))
TIERS = ("Standard", "Bulk", "Expedited")
DAY_S = 86400.0
MAX_DAYS = 2147483647  # S3 takes any positive integer


class InvalidObjectState(S3Error):
    code = "InvalidObjectState"
    status = 403


class RestoreAlreadyInProgress(S3Error):
    code = "RestoreAlreadyInProgress"
    status = 409

    def __init__(self) -> None:
        super().__init__("Object restore is already in progress")


def readable(storage_class: str, restore: tuple[float, float, float] | None, now: float) -> bool:
    if storage_class not in ARCHIVED:
        return True
    return restore is not None and restore[1] <= now < restore[2]


def check_readable(storage_class: str, restore: tuple[float, float, float] | None, now: float) -> None:
    if not readable(storage_class, restore, now):
        raise InvalidObjectState("The operation is not valid for the object's storage class", StorageClass=storage_class)


def header(restore: tuple[float, float, float] | None, now: float) -> str | None:
    """x-amz-restore: ``ongoing-request="true"``, or ``ongoing-request="false", expiry-date="..."`` (None
    once the restored copy has expired, or without a restore)."""
    if restore is None or now >= restore[2]:
        return None
    if now < restore[1]:
        return 'ongoing-request="true"'
    return f'ongoing-request="false", expiry-date="{email.utils.formatdate(restore[2], usegmt=True)}"'


def status(restore: tuple[float, float, float] | None, now: float) -> dict[str, Any] | None:
    """ListObjectsV2's RestoreStatus (OptionalObjectAttributes=RestoreStatus)."""
    if restore is None or now >= restore[2]:
        return None
    if now < restore[1]:
        return {"IsRestoreInProgress": True}
    return {"IsRestoreInProgress": False, "RestoreExpiryDate": restore[2]}


def _midnight_after(t: float) -> float:
    return math.ceil(t / DAY_S) * DAY_S


def request(storage_class: str, current: tuple[float, float, float] | None, spec: dict[str, Any] | None,
            now: float, delay_s: float) -> tuple[tuple[float, float, float], bool]:
    """The restore state a RestoreObject leaves, and whether it started one (202) rather than extending a
    completed one (200). In progress: RestoreAlreadyInProgress."""
    if storage_class not in ARCHIVED:
        raise InvalidObjectState("Restore is not allowed for the object's current storage class")
    spec = spec or {}
    if spec.get("Type") is not None or spec.get("SelectParameters") is not None or spec.get("OutputLocation") is not None:
        raise InvalidArgument("Select restores are not supported by Nimbus.", ArgumentName="Type")
    days = spec.get("Days")
    if days is None:
        raise MalformedXML()
    if not isinstance(days, int) or days < 1 or days > MAX_DAYS:
        raise InvalidArgument("Days must be a positive integer.", ArgumentName="Days", ArgumentValue=str(days))
    tier = (spec.get("GlacierJobParameters") or {}).get("Tier") or spec.get("Tier") or "Standard"
    if tier not in TIERS:
        raise MalformedXML()
    if tier == "Expedited" and storage_class == "DEEP_ARCHIVE":
        raise InvalidArgument("Expedited retrieval is not supported for the DEEP_ARCHIVE storage class.", ArgumentName="Tier")
    if current is not None and now < current[2]:
        if now < current[1]:
            raise RestoreAlreadyInProgress()
        # a completed restore: the copy's life is set anew from now
        return (current[0], current[1], _midnight_after(now + days * DAY_S)), False
    ready = now + delay_s
    return (now, ready, _midnight_after(ready + days * DAY_S)), True
