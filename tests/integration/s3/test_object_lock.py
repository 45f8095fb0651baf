"""S3 Object Lock against a real server (boto3 and the AWS CLI): buckets created with it or given it, retention
and legal holds written with a version or later, deletes refused while a version is protected (GOVERNANCE
bypass), default retention on every write path, lifecycle leaving locked versions, S3's errors, and a restart."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusProcess]:
    base: Path = tmp_path_factory.mktemp("objectlock")
    env = {"NIMBUS_S3_LIFECYCLE_SWEEP_SECONDS": "0.3", "NIMBUS_S3_LIFECYCLE_DAY_SECONDS": "1"}
    proc = NimbusProcess(base / "data", env=env).start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def s3(server: NimbusProcess) -> Any:
    return server.client("s3")


def code_of(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def later(seconds: float) -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


def locked_bucket(s3: Any, name: str) -> str:
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


def md5(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode()


def test_a_bucket_created_with_object_lock_is_versioned_and_says_so(s3: Any) -> None:
    b = locked_bucket(s3, "lock-created")
    assert s3.get_bucket_versioning(Bucket=b)["Status"] == "Enabled"
    assert s3.get_object_lock_configuration(Bucket=b)["ObjectLockConfiguration"] == {"ObjectLockEnabled": "Enabled"}
    with pytest.raises(ClientError) as e:
        s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})
    assert code_of(e) == "InvalidBucketState" and e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert s3.get_bucket_versioning(Bucket=b)["Status"] == "Enabled"
    s3.create_bucket(Bucket="lock-plain")
    with pytest.raises(ClientError) as e:
        s3.get_object_lock_configuration(Bucket="lock-plain")
    assert code_of(e) == "ObjectLockConfigurationNotFoundError"


def test_compliance_retention_refuses_deleting_the_version_but_not_a_delete_marker(s3: Any) -> None:
    b = locked_bucket(s3, "lock-compliance")
    until = later(3600).replace(microsecond=0)
    v = s3.put_object(Bucket=b, Key="k", Body=b"kept", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until)["VersionId"]
    head = s3.head_object(Bucket=b, Key="k")
    assert head["ObjectLockMode"] == "COMPLIANCE" and head["ObjectLockRetainUntilDate"] == until
    assert "ObjectLockLegalHoldStatus" not in head
    assert s3.get_object_retention(Bucket=b, Key="k")["Retention"] == {"Mode": "COMPLIANCE", "RetainUntilDate": until}
    for bypass in (False, True):
        with pytest.raises(ClientError) as e:
            s3.delete_object(Bucket=b, Key="k", VersionId=v, BypassGovernanceRetention=bypass)
        assert code_of(e) == "AccessDenied" and "object lock" in e.value.response["Error"]["Message"]
    marker = s3.delete_object(Bucket=b, Key="k")  # a delete marker on top is always allowed
    assert marker["DeleteMarker"] is True
    assert s3.get_object(Bucket=b, Key="k", VersionId=v)["Body"].read() == b"kept"
    s3.delete_object(Bucket=b, Key="k", VersionId=marker["VersionId"])  # markers have no lock
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"kept"
    # retention can be extended, never shortened, nor turned into GOVERNANCE
    s3.put_object_retention(Bucket=b, Key="k", Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until + timedelta(days=1)})
    for retention in ({"Mode": "COMPLIANCE", "RetainUntilDate": until},
                      {"Mode": "GOVERNANCE", "RetainUntilDate": until + timedelta(days=2)}, {}):
        with pytest.raises(ClientError) as e:
            s3.put_object_retention(Bucket=b, Key="k", Retention=retention, BypassGovernanceRetention=True)
        assert code_of(e) == "AccessDenied"
    assert s3.get_object_retention(Bucket=b, Key="k", VersionId=v)["Retention"]["RetainUntilDate"] == until + timedelta(days=1)


def test_governance_retention_gives_way_to_the_bypass_header(s3: Any) -> None:
    b = locked_bucket(s3, "lock-governance")
    until = later(3600).replace(microsecond=0)
    v1 = s3.put_object(Bucket=b, Key="g", Body=b"1", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until)["VersionId"]
    v2 = s3.put_object(Bucket=b, Key="g", Body=b"2", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until)["VersionId"]
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=b, Key="g", VersionId=v1)
    assert code_of(e) == "AccessDenied"
    # shortening needs the bypass; raising to COMPLIANCE does not
    with pytest.raises(ClientError) as e:
        s3.put_object_retention(Bucket=b, Key="g", VersionId=v1, Retention={"Mode": "GOVERNANCE", "RetainUntilDate": later(60)})
    assert code_of(e) == "AccessDenied"
    s3.put_object_retention(Bucket=b, Key="g", VersionId=v1, Retention={"Mode": "GOVERNANCE", "RetainUntilDate": later(60)},
                            BypassGovernanceRetention=True)
    s3.put_object_retention(Bucket=b, Key="g", VersionId=v2, Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until})
    s3.put_object_retention(Bucket=b, Key="g", VersionId=v1, Retention={}, BypassGovernanceRetention=True)  # removed
    with pytest.raises(ClientError) as e:
        s3.get_object_retention(Bucket=b, Key="g", VersionId=v1)
    assert code_of(e) == "NoSuchObjectLockConfiguration"
    s3.delete_object(Bucket=b, Key="g", VersionId=v1)  # nothing protects it now
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=b, Key="g", VersionId=v2, BypassGovernanceRetention=True)
    assert code_of(e) == "AccessDenied"  # COMPLIANCE now
    versions = s3.list_object_versions(Bucket=b, Prefix="g")["Versions"]
    assert [x["VersionId"] for x in versions] == [v2]


def test_legal_hold_protects_until_released(s3: Any) -> None:
    b = locked_bucket(s3, "lock-hold")
    v = s3.put_object(Bucket=b, Key="h", Body=b"held", ObjectLockLegalHoldStatus="ON", ContentMD5=md5(b"held"))["VersionId"]
    assert s3.head_object(Bucket=b, Key="h")["ObjectLockLegalHoldStatus"] == "ON"
    assert s3.get_object_legal_hold(Bucket=b, Key="h")["LegalHold"] == {"Status": "ON"}
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=b, Key="h", VersionId=v, BypassGovernanceRetention=True)
    assert code_of(e) == "AccessDenied"
    s3.put_object_legal_hold(Bucket=b, Key="h", VersionId=v, LegalHold={"Status": "OFF"})
    assert s3.get_object_legal_hold(Bucket=b, Key="h", VersionId=v)["LegalHold"] == {"Status": "OFF"}
    s3.delete_object(Bucket=b, Key="h", VersionId=v)
    other = s3.put_object(Bucket=b, Key="never-held", Body=b"x")["VersionId"]
    with pytest.raises(ClientError) as e:
        s3.get_object_legal_hold(Bucket=b, Key="never-held", VersionId=other)
    assert code_of(e) == "NoSuchObjectLockConfiguration"


def test_retention_ends_at_its_date(s3: Any) -> None:
    b = locked_bucket(s3, "lock-expiry")
    until = later(2.5)
    v = s3.put_object(Bucket=b, Key="e", Body=b"e", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until)["VersionId"]
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=b, Key="e", VersionId=v)
    assert code_of(e) == "AccessDenied"
    time.sleep(max(0.0, (until - datetime.now(timezone.utc)).total_seconds()) + 0.5)
    s3.delete_object(Bucket=b, Key="e", VersionId=v)
    assert "Versions" not in s3.list_object_versions(Bucket=b, Prefix="e")


def test_delete_objects_reports_locked_versions_per_key(s3: Any) -> None:
    b = locked_bucket(s3, "lock-batch")
    locked = s3.put_object(Bucket=b, Key="a", Body=b"a", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=later(3600))["VersionId"]
    free = s3.put_object(Bucket=b, Key="b", Body=b"b")["VersionId"]
    out = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "a", "VersionId": locked}, {"Key": "b", "VersionId": free}]})
    assert [(d["Key"], d["VersionId"]) for d in out["Deleted"]] == [("b", free)]
    assert [(x["Key"], x["Code"]) for x in out["Errors"]] == [("a", "AccessDenied")]
    out = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "a", "VersionId": locked}]}, BypassGovernanceRetention=True)
    assert [d["Key"] for d in out["Deleted"]] == ["a"] and "Errors" not in out


def test_default_retention_applies_to_every_write_path(s3: Any) -> None:
    b = locked_bucket(s3, "lock-default")
    s3.put_object_lock_configuration(Bucket=b, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 2}}})
    assert s3.get_object_lock_configuration(Bucket=b)["ObjectLockConfiguration"]["Rule"] == {
        "DefaultRetention": {"Mode": "GOVERNANCE", "Days": 2}}
    expected = datetime.now(timezone.utc) + timedelta(days=2)

    def retention(key: str) -> dict[str, Any]:
        head = s3.head_object(Bucket=b, Key=key)
        return {"mode": head.get("ObjectLockMode"), "until": head.get("ObjectLockRetainUntilDate"), "hold": head.get("ObjectLockLegalHoldStatus")}

    s3.put_object(Bucket=b, Key="put", Body=b"p")
    s3.copy_object(Bucket=b, Key="copy", CopySource={"Bucket": b, "Key": "put"})
    up = s3.create_multipart_upload(Bucket=b, Key="mpu")["UploadId"]
    etag = s3.upload_part(Bucket=b, Key="mpu", UploadId=up, PartNumber=1, Body=b"m")["ETag"]
    s3.complete_multipart_upload(Bucket=b, Key="mpu", UploadId=up, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    for key in ("put", "copy", "mpu"):
        got = retention(key)
        assert got["mode"] == "GOVERNANCE" and abs((got["until"] - expected).total_seconds()) < 120, (key, got)
        assert got["hold"] is None
    # explicit headers win; a legal hold alone keeps the default retention
    s3.put_object(Bucket=b, Key="explicit", Body=b"x", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=later(7200))
    assert retention("explicit")["mode"] == "COMPLIANCE"
    s3.put_object(Bucket=b, Key="held", Body=b"x", ObjectLockLegalHoldStatus="ON")
    assert retention("held")["mode"] == "GOVERNANCE" and retention("held")["hold"] == "ON"
    # a Rule-less configuration removes the default
    s3.put_object_lock_configuration(Bucket=b, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    s3.put_object(Bucket=b, Key="after", Body=b"x")
    assert retention("after") == {"mode": None, "until": None, "hold": None}


def test_object_lock_on_an_existing_versioned_bucket(s3: Any) -> None:
    s3.create_bucket(Bucket="lock-later")
    with pytest.raises(ClientError) as e:
        s3.put_object_lock_configuration(Bucket="lock-later", ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    assert code_of(e) == "InvalidBucketState"
    s3.put_bucket_versioning(Bucket="lock-later", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object_lock_configuration(Bucket="lock-later", ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    s3.put_object(Bucket="lock-later", Key="k", Body=b"k", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=later(600))
    assert s3.head_object(Bucket="lock-later", Key="k")["ObjectLockMode"] == "GOVERNANCE"


def test_errors_store_nothing(s3: Any, server: NimbusProcess) -> None:
    s3.create_bucket(Bucket="lock-none")
    until = later(600)
    cases = [
        (lambda: s3.put_object(Bucket="lock-none", Key="k", Body=b"k", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until), "InvalidRequest"),
        (lambda: s3.put_object_retention(Bucket="lock-none", Key="k", Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until}), "InvalidRequest"),
        (lambda: s3.get_object_legal_hold(Bucket="lock-none", Key="k"), "InvalidRequest"),
        (lambda: s3.delete_object(Bucket="lock-none", Key="k", BypassGovernanceRetention=True), "InvalidArgument"),
    ]
    b = locked_bucket(s3, "lock-errors")
    bad_rules = [{"Mode": "GOVERNANCE", "Days": 1, "Years": 1}, {"Mode": "GOVERNANCE"}, {"Days": 1}]
    cases += [(lambda r=r: s3.put_object_lock_configuration(Bucket=b, ObjectLockConfiguration={  # type: ignore[misc]
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": r}}), "MalformedXML") for r in bad_rules]
    cases += [
        (lambda: s3.put_object_lock_configuration(Bucket=b, ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 0}}}), "InvalidArgument"),
        (lambda: s3.put_object_lock_configuration(Bucket=b, ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Years": 101}}}), "InvalidArgument"),
        (lambda: s3.put_object(Bucket=b, Key="k", Body=b"k", ObjectLockMode="GOVERNANCE"), "InvalidArgument"),
        (lambda: s3.put_object(Bucket=b, Key="k", Body=b"k", ObjectLockRetainUntilDate=until), "InvalidArgument"),
        (lambda: s3.put_object(Bucket=b, Key="k", Body=b"k", ObjectLockMode="GOVERNANCE",
                               ObjectLockRetainUntilDate=later(-60)), "InvalidArgument"),
    ]
    for call, code in cases:
        with pytest.raises(ClientError) as e:
            call()
        assert code_of(e) == code, (code, e.value.response["Error"])
    # a PUT with Object Lock headers must carry Content-MD5 or a checksum
    bare = server.client("s3", config=Config(request_checksum_calculation="when_required", retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as e:
        bare.put_object(Bucket=b, Key="k", Body=b"k", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until)
    assert code_of(e) == "InvalidRequest" and "Content-MD5" in e.value.response["Error"]["Message"]
    bare.put_object(Bucket=b, Key="k", Body=b"k", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until, ContentMD5=md5(b"k"))
    assert [x["Key"] for x in s3.list_object_versions(Bucket=b).get("Versions", [])] == ["k"]
    assert "Contents" not in s3.list_objects_v2(Bucket="lock-none")
    assert s3.get_object_lock_configuration(Bucket=b)["ObjectLockConfiguration"] == {"ObjectLockEnabled": "Enabled"}


def test_lifecycle_leaves_locked_noncurrent_versions(s3: Any) -> None:
    b = locked_bucket(s3, "lock-lifecycle")
    s3.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        {"ID": "nc", "Status": "Enabled", "Filter": {"Prefix": ""}, "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}]})
    locked = s3.put_object(Bucket=b, Key="locked", Body=b"1", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=later(3600))["VersionId"]
    s3.put_object(Bucket=b, Key="locked", Body=b"2")
    s3.put_object(Bucket=b, Key="free", Body=b"1")
    s3.put_object(Bucket=b, Key="free", Body=b"2")
    deadline = time.monotonic() + 20
    while len(s3.list_object_versions(Bucket=b, Prefix="free")["Versions"]) > 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(s3.list_object_versions(Bucket=b, Prefix="free")["Versions"]) == 1  # the unlocked one expired
    time.sleep(1.5)  # several more sweeps
    ids = [x["VersionId"] for x in s3.list_object_versions(Bucket=b, Prefix="locked")["Versions"]]
    assert locked in ids and len(ids) == 2


def test_cli_round_trip_and_restart(server: NimbusProcess) -> None:
    server.aws("s3api", "create-bucket", "--bucket", "lock-cli", "--object-lock-enabled-for-bucket")
    server.aws("s3api", "put-object-lock-configuration", "--bucket", "lock-cli", "--object-lock-configuration",
               json.dumps({"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}}}))
    put = json.loads(server.aws("s3api", "put-object", "--bucket", "lock-cli", "--key", "k").stdout)
    until = (datetime.now(timezone.utc) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    server.aws("s3api", "put-object-retention", "--bucket", "lock-cli", "--key", "k", "--retention",
               json.dumps({"Mode": "COMPLIANCE", "RetainUntilDate": until}))
    server.aws("s3api", "put-object-legal-hold", "--bucket", "lock-cli", "--key", "k", "--legal-hold", "Status=ON")
    server.kill9()  # acknowledged retention, legal hold and configuration survive a hard kill
    server.start()
    got = json.loads(server.aws("s3api", "get-object-retention", "--bucket", "lock-cli", "--key", "k").stdout)
    assert got["Retention"]["Mode"] == "COMPLIANCE" and got["Retention"]["RetainUntilDate"].startswith(until[:19])
    hold = json.loads(server.aws("s3api", "get-object-legal-hold", "--bucket", "lock-cli", "--key", "k").stdout)
    assert hold["LegalHold"]["Status"] == "ON"
    cp = server.aws("s3api", "delete-object", "--bucket", "lock-cli", "--key", "k", "--version-id", put["VersionId"], check=False)
    assert cp.returncode != 0 and "AccessDenied" in cp.stderr
    config = json.loads(server.aws("s3api", "get-object-lock-configuration", "--bucket", "lock-cli").stdout)
    assert config["ObjectLockConfiguration"]["Rule"]["DefaultRetention"] == {"Mode": "COMPLIANCE", "Days": 1}
