"""The pure rules behind Object Lock (retention changes, protection, defaults), replication (which rules match
which versions and markers), archived-object reads and SSE-C key checks."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timezone

import pytest

from nimbus.services.s3 import archive, objectlock, replication, ssec
from nimbus.services.s3.errors import InvalidArgument, InvalidRequest, MalformedXML

NOW = 1_800_000_000.0


def when(offset_s: float) -> datetime:
    return datetime.fromtimestamp(NOW + offset_s, tz=timezone.utc)


# --- Object Lock ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("doc,bypass,expected", [
    ({}, False, False),
    ({"lm": "GOVERNANCE", "lu": NOW + 10}, False, True),
    ({"lm": "GOVERNANCE", "lu": NOW + 10}, True, False),
    ({"lm": "COMPLIANCE", "lu": NOW + 10}, True, True),
    ({"lm": "COMPLIANCE", "lu": NOW - 1}, False, False),  # expired
    ({"lh": "ON"}, True, True),
    ({"lh": "OFF", "lm": "GOVERNANCE", "lu": NOW - 1}, False, False),
])
def test_protected(doc: dict, bypass: bool, expected: bool) -> None:
    assert objectlock.protected(doc, NOW, bypass=bypass) is expected


def test_retention_changes() -> None:
    doc = {"lm": "GOVERNANCE", "lu": NOW + 100}
    objectlock.change_retention(doc, {"Mode": "GOVERNANCE", "RetainUntilDate": when(200)}, NOW, bypass=False)  # extend
    assert doc["lu"] == NOW + 200
    with pytest.raises(objectlock.ObjectLocked):  # shorten without the bypass
        objectlock.change_retention(doc, {"Mode": "GOVERNANCE", "RetainUntilDate": when(50)}, NOW, bypass=False)
    objectlock.change_retention(doc, {"Mode": "COMPLIANCE", "RetainUntilDate": when(200)}, NOW, bypass=False)  # raise
    assert doc["lm"] == "COMPLIANCE"
    for retention in ({}, {"Mode": "GOVERNANCE", "RetainUntilDate": when(300)}, {"Mode": "COMPLIANCE", "RetainUntilDate": when(100)}):
        with pytest.raises(objectlock.ObjectLocked):
            objectlock.change_retention(doc, retention, NOW, bypass=True)
    with pytest.raises(InvalidArgument):
        objectlock.change_retention({}, {"Mode": "GOVERNANCE", "RetainUntilDate": when(-1)}, NOW, bypass=False)
    with pytest.raises(MalformedXML):
        objectlock.change_retention({}, {"Mode": "GOVERNANCE"}, NOW, bypass=False)
    expired = {"lm": "COMPLIANCE", "lu": NOW - 5}
    objectlock.change_retention(expired, {}, NOW, bypass=False)  # an expired retention can be removed
    assert "lm" not in expired and "lu" not in expired


def test_default_and_written_locks() -> None:
    settings = {objectlock.OBJECT_LOCK: {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Years": 1}}}}
    lock = objectlock.default_lock(settings, NOW)
    assert lock == objectlock.Lock("COMPLIANCE", NOW + 365 * 86400, None)
    assert objectlock.lock_for_write(settings, {}, NOW) == lock
    held = objectlock.lock_for_write(settings, {"ObjectLockLegalHoldStatus": "ON"}, NOW, checksummed=True)
    assert held == objectlock.Lock("COMPLIANCE", NOW + 365 * 86400, "ON")  # a hold alone keeps the default
    with pytest.raises(InvalidRequest):  # Object Lock headers need Content-MD5 or a checksum on a PUT
        objectlock.lock_for_write(settings, {"ObjectLockLegalHoldStatus": "ON"}, NOW, checksummed=False)
    with pytest.raises(InvalidRequest):
        objectlock.lock_for_write({}, {"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": when(5)}, NOW)
    assert objectlock.lock_for_write({}, {}, NOW) is None


def test_configuration_checks() -> None:
    with pytest.raises(objectlock.InvalidBucketState):
        objectlock.check_configuration({"ObjectLockEnabled": "Enabled"}, versioning="Suspended", already=False)
    ok = objectlock.check_configuration({"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 3}}},
                                        versioning="Enabled", already=False)
    assert ok == {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 3}}}
    with pytest.raises(InvalidArgument):
        objectlock.check_configuration({"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 36501}}},
                                       versioning="Enabled", already=True)


# --- replication ----------------------------------------------------------------------------------------


def rule(rid: str, dest: str, priority: int, **extra: object) -> dict:
    return {"ID": rid, "Priority": priority, "Status": "Enabled", "Destination": {"Bucket": f"arn:aws:s3:::{dest}"}, **extra}


def test_destinations_by_filter_priority_and_markers() -> None:
    config = {"Rules": [
        rule("logs", "a", 1, Filter={"Prefix": "logs/"}, DeleteMarkerReplication={"Status": "Enabled"}),
        rule("tagged", "b", 5, Filter={"Tag": {"Key": "copy", "Value": "yes"}}, DeleteMarkerReplication={"Status": "Disabled"}),
        rule("both", "a", 9, Filter={"And": {"Prefix": "logs/", "Tags": [{"Key": "tier", "Value": "gold"}]}},
             DeleteMarkerReplication={"Status": "Disabled"}, **{"Destination": {"Bucket": "arn:aws:s3:::a", "StorageClass": "GLACIER"}}),
        {**rule("off", "c", 10, Filter={}), "Status": "Disabled"},
        rule("v1", "d", 0, Prefix="old/"),
    ]}
    assert replication.destinations(config, "logs/x", {}) == [["a", None]]
    # the higher priority rule for the same destination decides its storage class
    assert replication.destinations(config, "logs/x", {"tier": "gold"}) == [["a", "GLACIER"]]
    assert replication.destinations(config, "logs/x", {"copy": "yes"}) == [["b", None], ["a", None]]
    assert replication.destinations(config, "other", {}) == []
    # delete markers: only rules that say so (tag rules never), and the first schema's always
    assert replication.destinations(config, "logs/x", {}, marker=True) == [["a", None]]
    assert replication.destinations(config, "old/y", {}, marker=True) == [["d", None]]
    assert replication.destinations(None, "logs/x", {}) == []


# --- archived objects and SSE-C ---------------------------------------------------------------------


def test_restores() -> None:
    assert archive.readable("STANDARD", None, NOW)
    assert not archive.readable("GLACIER", None, NOW)
    state, started = archive.request("GLACIER", None, {"Days": 1}, NOW, 2.0)
    assert started and state[1] == NOW + 2.0 and state[2] % 86400 == 0 and state[2] >= NOW + 2 + 86400
    assert archive.header(state, NOW + 1) == 'ongoing-request="true"'
    assert archive.readable("GLACIER", state, NOW + 3) and not archive.readable("GLACIER", state, state[2])
    with pytest.raises(archive.RestoreAlreadyInProgress):
        archive.request("GLACIER", state, {"Days": 1}, NOW + 1, 2.0)
    again, started = archive.request("GLACIER", state, {"Days": 3}, NOW + 10, 2.0)
    assert not started and again[2] > state[2]
    with pytest.raises(archive.InvalidObjectState):
        archive.request("STANDARD_IA", None, {"Days": 1}, NOW, 2.0)


def test_customer_keys() -> None:
    key = bytes(range(32))
    b64, md5 = base64.b64encode(key).decode(), base64.b64encode(hashlib.md5(key).digest()).decode()
    params = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": b64, "SSECustomerKeyMD5": md5}
    assert ssec.key_md5(params) == md5 and ssec.key_md5({}) is None
    assert ssec.key_md5({f"CopySource{k}": v for k, v in params.items()}, "CopySource") == md5
    with pytest.raises(ssec.InvalidEncryptionAlgorithmError):
        ssec.key_md5({**params, "SSECustomerAlgorithm": "AES128"})
    with pytest.raises(InvalidArgument):
        ssec.key_md5({**params, "SSECustomerKeyMD5": base64.b64encode(b"x" * 16).decode()})
    ssec.check_read(md5, md5)
    with pytest.raises(ssec.KeyDoesNotMatch):
        ssec.check_read(md5, "other")
    with pytest.raises(InvalidRequest):
        ssec.check_read(None, md5)
