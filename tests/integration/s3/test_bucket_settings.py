"""Bucket settings tools write (Terraform, CDK, SAM): policy, default encryption (and its object headers),
public access block, ownership controls, website, ACLs, logging, acceleration, request payment, and
GetObjectAttributes; S3's errors for bad input (nothing stored); every setting kept across a restart and
gone with its bucket."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess

PUBLIC_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "Read", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                   "Resource": "arn:aws:s3:::settings-bucket/*"}],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusProcess]:
    base: Path = tmp_path_factory.mktemp("settings")
    proc = NimbusProcess(base / "data").start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def s3(server: NimbusProcess) -> Any:
    return server.client("s3")


def code_of(call: Any, **kw: Any) -> str:
    with pytest.raises(ClientError) as e:
        call(**kw)
    return str(e.value.response["Error"]["Code"])


def message_of(call: Any, **kw: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as e:
        call(**kw)
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def test_policy(s3: Any) -> None:
    s3.create_bucket(Bucket="pol-bucket")
    assert code_of(s3.get_bucket_policy, Bucket="pol-bucket") == "NoSuchBucketPolicy"
    assert code_of(s3.get_bucket_policy_status, Bucket="pol-bucket") == "NoSuchBucketPolicy"
    s3.put_bucket_policy(Bucket="pol-bucket", Policy=json.dumps(PUBLIC_POLICY))
    assert json.loads(s3.get_bucket_policy(Bucket="pol-bucket")["Policy"]) == PUBLIC_POLICY
    assert s3.get_bucket_policy_status(Bucket="pol-bucket")["PolicyStatus"]["IsPublic"] is True
    conditioned = json.loads(json.dumps(PUBLIC_POLICY))
    conditioned["Statement"][0]["Condition"] = {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
    s3.put_bucket_policy(Bucket="pol-bucket", Policy=json.dumps(conditioned))
    assert s3.get_bucket_policy_status(Bucket="pol-bucket")["PolicyStatus"]["IsPublic"] is False
    for bad, message in (
        ("not json", "Policies must be valid JSON and the first byte must be '{'"),
        ('{"Version": "2012-10-17"}', "Missing required field Statement"),
        ('{"Version": "2012-10-17", "Statement": [{"Effect": "Maybe", "Principal": "*", "Action": "s3:*", "Resource": "*"}]}',
         "Invalid effect: Maybe"),
        (json.dumps({**PUBLIC_POLICY, "Padding": "x" * 21000}), "Policy exceeds the maximum allowed document size."),
    ):
        assert message_of(s3.put_bucket_policy, Bucket="pol-bucket", Policy=bad) == ("MalformedPolicy", message)
    assert json.loads(s3.get_bucket_policy(Bucket="pol-bucket")["Policy"]) == conditioned  # unchanged
    s3.delete_bucket_policy(Bucket="pol-bucket")
    assert code_of(s3.get_bucket_policy, Bucket="pol-bucket") == "NoSuchBucketPolicy"
    assert code_of(s3.put_bucket_policy, Bucket="no-such-bucket-x", Policy=json.dumps(PUBLIC_POLICY)) == "NoSuchBucket"


def test_encryption_and_object_headers(s3: Any) -> None:
    s3.create_bucket(Bucket="enc-bucket")
    assert code_of(s3.get_bucket_encryption, Bucket="enc-bucket") == "ServerSideEncryptionConfigurationNotFoundError"
    put = s3.put_object(Bucket="enc-bucket", Key="plain", Body=b"x")
    assert "ServerSideEncryption" not in put
    assert s3.put_object(Bucket="enc-bucket", Key="asked", Body=b"x", ServerSideEncryption="AES256")["ServerSideEncryption"] == "AES256"
    s3.put_bucket_encryption(Bucket="enc-bucket", ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/app"},
                   "BucketKeyEnabled": True}]})
    rule = s3.get_bucket_encryption(Bucket="enc-bucket")["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/app"}
    assert rule["BucketKeyEnabled"] is True
    put = s3.put_object(Bucket="enc-bucket", Key="k", Body=b"x")
    assert (put["ServerSideEncryption"], put["SSEKMSKeyId"], put["BucketKeyEnabled"]) == ("aws:kms", "alias/app", True)
    assert s3.head_object(Bucket="enc-bucket", Key="k")["ServerSideEncryption"] == "aws:kms"
    assert s3.get_object(Bucket="enc-bucket", Key="k")["SSEKMSKeyId"] == "alias/app"
    assert s3.copy_object(Bucket="enc-bucket", Key="k2", CopySource={"Bucket": "enc-bucket", "Key": "k"})["ServerSideEncryption"] == "aws:kms"
    up = s3.create_multipart_upload(Bucket="enc-bucket", Key="mp")
    assert up["ServerSideEncryption"] == "aws:kms"
    etag = s3.upload_part(Bucket="enc-bucket", Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"p")["ETag"]
    done = s3.complete_multipart_upload(Bucket="enc-bucket", Key="mp", UploadId=up["UploadId"],
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert done["ServerSideEncryption"] == "aws:kms" and done["SSEKMSKeyId"] == "alias/app"
    s3.put_bucket_encryption(Bucket="enc-bucket", ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    assert s3.get_object(Bucket="enc-bucket", Key="plain")["ServerSideEncryption"] == "AES256"
    assert code_of(s3.put_bucket_encryption, Bucket="enc-bucket", ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256", "KMSMasterKeyID": "k"}}]}) == "InvalidArgument"
    s3.delete_bucket_encryption(Bucket="enc-bucket")
    assert code_of(s3.get_bucket_encryption, Bucket="enc-bucket") == "ServerSideEncryptionConfigurationNotFoundError"
    assert "ServerSideEncryption" not in s3.head_object(Bucket="enc-bucket", Key="k")


def test_public_access_block_and_ownership(s3: Any) -> None:
    s3.create_bucket(Bucket="pab-bucket")
    assert all(s3.get_public_access_block(Bucket="pab-bucket")["PublicAccessBlockConfiguration"].values())
    s3.put_public_access_block(Bucket="pab-bucket", PublicAccessBlockConfiguration={"BlockPublicAcls": True, "IgnorePublicAcls": False})
    assert s3.get_public_access_block(Bucket="pab-bucket")["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": False, "BlockPublicPolicy": False, "RestrictPublicBuckets": False}
    s3.delete_public_access_block(Bucket="pab-bucket")
    assert code_of(s3.get_public_access_block, Bucket="pab-bucket") == "NoSuchPublicAccessBlockConfiguration"

    rules = s3.get_bucket_ownership_controls(Bucket="pab-bucket")["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    # ACLs disabled (S3's default): a public ACL is refused, private accepted
    assert code_of(s3.put_bucket_acl, Bucket="pab-bucket", ACL="public-read") == "AccessControlListNotSupported"
    s3.put_bucket_acl(Bucket="pab-bucket", ACL="private")
    s3.put_bucket_ownership_controls(Bucket="pab-bucket", OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    assert s3.get_bucket_ownership_controls(Bucket="pab-bucket")["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "ObjectWriter"}]
    s3.put_bucket_acl(Bucket="pab-bucket", ACL="public-read")
    grants = s3.get_bucket_acl(Bucket="pab-bucket")["Grants"]
    assert {"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"}, "Permission": "READ"} in grants
    s3.put_object(Bucket="pab-bucket", Key="obj", Body=b"x")
    assert [g["Permission"] for g in s3.get_object_acl(Bucket="pab-bucket", Key="obj")["Grants"]] == ["FULL_CONTROL"]
    s3.put_object_acl(Bucket="pab-bucket", Key="obj", GrantRead='uri="http://acs.amazonaws.com/groups/global/AuthenticatedUsers"')
    grants = s3.get_object_acl(Bucket="pab-bucket", Key="obj")["Grants"]
    assert grants[0]["Grantee"]["URI"].endswith("AuthenticatedUsers") and grants[0]["Permission"] == "READ"
    assert code_of(s3.put_object_acl, Bucket="pab-bucket", Key="missing", ACL="private") == "NoSuchKey"
    s3.delete_bucket_ownership_controls(Bucket="pab-bucket")
    assert code_of(s3.get_bucket_ownership_controls, Bucket="pab-bucket") == "OwnershipControlsNotFoundError"


def test_website_logging_accelerate_request_payment(s3: Any) -> None:
    s3.create_bucket(Bucket="site-bucket")
    assert code_of(s3.get_bucket_website, Bucket="site-bucket") == "NoSuchWebsiteConfiguration"
    s3.put_bucket_website(Bucket="site-bucket", WebsiteConfiguration={
        "IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "error.html"}})
    site = s3.get_bucket_website(Bucket="site-bucket")
    assert site["IndexDocument"] == {"Suffix": "index.html"} and site["ErrorDocument"] == {"Key": "error.html"}
    assert code_of(s3.put_bucket_website, Bucket="site-bucket", WebsiteConfiguration={"ErrorDocument": {"Key": "e"}}) == "InvalidArgument"
    s3.delete_bucket_website(Bucket="site-bucket")
    assert code_of(s3.get_bucket_website, Bucket="site-bucket") == "NoSuchWebsiteConfiguration"

    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket="site-bucket")
    assert code_of(s3.put_bucket_logging, Bucket="site-bucket", BucketLoggingStatus={
        "LoggingEnabled": {"TargetBucket": "no-such-log-bucket", "TargetPrefix": "logs/"}}) == "InvalidTargetBucketForLogging"
    s3.put_bucket_logging(Bucket="site-bucket", BucketLoggingStatus={
        "LoggingEnabled": {"TargetBucket": "site-bucket", "TargetPrefix": "logs/"}})
    assert s3.get_bucket_logging(Bucket="site-bucket")["LoggingEnabled"]["TargetPrefix"] == "logs/"
    s3.put_bucket_logging(Bucket="site-bucket", BucketLoggingStatus={})
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket="site-bucket")

    s3.put_bucket_accelerate_configuration(Bucket="site-bucket", AccelerateConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_accelerate_configuration(Bucket="site-bucket")["Status"] == "Enabled"
    s3.put_bucket_request_payment(Bucket="site-bucket", RequestPaymentConfiguration={"Payer": "Requester"})
    assert s3.get_bucket_request_payment(Bucket="site-bucket")["Payer"] == "Requester"


def test_get_object_attributes(s3: Any) -> None:
    s3.create_bucket(Bucket="attr-bucket")
    s3.put_object(Bucket="attr-bucket", Key="small", Body=b"hello", ChecksumAlgorithm="SHA256")
    got = s3.get_object_attributes(Bucket="attr-bucket", Key="small",
                                   ObjectAttributes=["ETag", "Checksum", "ObjectSize", "StorageClass", "ObjectParts"])
    assert got["ETag"] == "5d41402abc4b2a76b9719d911017c592"  # unquoted, as S3 answers here
    assert got["ObjectSize"] == 5 and got["StorageClass"] == "STANDARD"
    assert got["Checksum"]["ChecksumSHA256"] and "ObjectParts" not in got
    part = b"a" * (5 * 1024 * 1024)
    up = s3.create_multipart_upload(Bucket="attr-bucket", Key="big", ChecksumAlgorithm="CRC32")
    parts = []
    for n, body in ((1, part), (2, b"tail")):
        r = s3.upload_part(Bucket="attr-bucket", Key="big", UploadId=up["UploadId"], PartNumber=n, Body=body, ChecksumAlgorithm="CRC32")
        parts.append({"PartNumber": n, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]})
    s3.complete_multipart_upload(Bucket="attr-bucket", Key="big", UploadId=up["UploadId"], MultipartUpload={"Parts": parts})
    got = s3.get_object_attributes(Bucket="attr-bucket", Key="big", ObjectAttributes=["ObjectParts", "ObjectSize"], MaxParts=1)
    assert got["ObjectSize"] == len(part) + 4
    op = got["ObjectParts"]
    assert op["TotalPartsCount"] == 2 and op["IsTruncated"] is True and op["NextPartNumberMarker"] == 1
    assert op["Parts"] == [{"PartNumber": 1, "Size": len(part), "ChecksumCRC32": parts[0]["ChecksumCRC32"]}]
    assert code_of(s3.get_object_attributes, Bucket="attr-bucket", Key="nope", ObjectAttributes=["ETag"]) == "NoSuchKey"


def test_cli_policy_and_encryption(server: NimbusProcess, s3: Any) -> None:
    s3.create_bucket(Bucket="cli-settings")
    server.aws("s3api", "put-bucket-policy", "--bucket", "cli-settings", "--policy", json.dumps(PUBLIC_POLICY))
    assert "s3:GetObject" in server.aws("s3api", "get-bucket-policy", "--bucket", "cli-settings").stdout
    server.aws("s3api", "put-bucket-encryption", "--bucket", "cli-settings", "--server-side-encryption-configuration",
               '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}')
    assert "AES256" in server.aws("s3api", "get-bucket-encryption", "--bucket", "cli-settings").stdout


def test_settings_survive_a_restart_and_go_with_the_bucket(server: NimbusProcess) -> None:
    s3 = server.client("s3")
    s3.create_bucket(Bucket="keep-bucket")
    s3.put_bucket_policy(Bucket="keep-bucket", Policy=json.dumps(PUBLIC_POLICY))
    s3.put_bucket_cors(Bucket="keep-bucket", CORSConfiguration={"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}]})
    s3.put_bucket_encryption(Bucket="keep-bucket", ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.delete_public_access_block(Bucket="keep-bucket")
    s3.put_bucket_lifecycle_configuration(Bucket="keep-bucket", LifecycleConfiguration={
        "Rules": [{"ID": "old", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 30}}]})
    server.restart()
    s3 = server.client("s3")
    assert json.loads(s3.get_bucket_policy(Bucket="keep-bucket")["Policy"]) == PUBLIC_POLICY
    assert s3.get_bucket_cors(Bucket="keep-bucket")["CORSRules"][0]["AllowedMethods"] == ["GET"]
    assert s3.get_bucket_encryption(Bucket="keep-bucket")["ServerSideEncryptionConfiguration"]["Rules"]
    assert code_of(s3.get_public_access_block, Bucket="keep-bucket") == "NoSuchPublicAccessBlockConfiguration"
    assert s3.get_bucket_lifecycle_configuration(Bucket="keep-bucket")["Rules"][0]["ID"] == "old"
    s3.delete_bucket(Bucket="keep-bucket")
    s3.create_bucket(Bucket="keep-bucket")
    assert code_of(s3.get_bucket_policy, Bucket="keep-bucket") == "NoSuchBucketPolicy"
    assert code_of(s3.get_bucket_cors, Bucket="keep-bucket") == "NoSuchCORSConfiguration"
    assert code_of(s3.get_bucket_lifecycle_configuration, Bucket="keep-bucket") == "NoSuchLifecycleConfiguration"
    assert all(s3.get_public_access_block(Bucket="keep-bucket")["PublicAccessBlockConfiguration"].values())
