"""Answers a boto3 user compares with AWS's, through the real server: what DescribeDeliveryStream shows for
each way of creating a stream, the encryption status transitions, and tag character rules (the model's
patterns, written in Java's regex dialect, which the codec translates).

AWS answers a model-constraint failure with ValidationException ("1 validation error detected: ..."), as
terraform-provider-aws's acceptance run against AWS shows for CreateDeliveryStream (PR #9017: "ValidationException:
1 validation error detected: Value 'NotLambda' at 'extendedS3DestinationConfiguration.processingConfiguration.
processors.1.member.type' failed to satisfy constraint: Member must satisfy enum value set: [Lambda]")."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess
from tests.integration.firehose.conftest import module_server
from tests.integration.firehose.test_firehose import ROLE, code_of, wait_active

ENCRYPTION_DELAY_S = 1.0
ENV = {"NIMBUS_FIREHOSE_CREATE_DELAY_S": "0.2", "NIMBUS_FIREHOSE_ENCRYPTION_DELAY_S": str(ENCRYPTION_DELAY_S)}
TAG_KEY_PATTERN = r"^(?!aws:)[\p{L}\p{Z}\p{N}_.:\/=+\-@%]*$"
TAG_VALUE_PATTERN = r"^[\p{L}\p{Z}\p{N}_.:\/=+\-@%]*$"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusProcess]:
    yield from module_server(tmp_path_factory, "fh-fidelity", ENV)


@pytest.fixture(scope="module")
def bucket(server: NimbusProcess) -> str:
    name = f"fid-{uuid.uuid4().hex[:10]}"
    server.client("s3").create_bucket(Bucket=name)
    return name


def new_stream(fh: Any, bucket: str, **kw: Any) -> str:
    name = f"fid-{uuid.uuid4().hex[:8]}"
    if not any(k.endswith("DestinationConfiguration") for k in kw):
        kw["ExtendedS3DestinationConfiguration"] = {"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}"}
    fh.create_delivery_stream(DeliveryStreamName=name, **kw)
    wait_active(fh, name)
    return name


def describe(fh: Any, name: str) -> dict[str, Any]:
    return fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]  # type: ignore[no-any-return]


def encryption_status(fh: Any, name: str) -> str:
    return str(describe(fh, name)["DeliveryStreamEncryptionConfiguration"]["Status"])


def test_s3_destination_configuration_is_described_as_aws_does(fh: Any, bucket: str) -> None:
    # The CloudWatch Logs guide's sample (a stream created with --s3-destination-configuration): the extended
    # description carries S3BackupMode but no ProcessingConfiguration.
    name = new_stream(fh, bucket, S3DestinationConfiguration={"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}"})
    (dest,) = describe(fh, name)["Destinations"]
    ext = dest["ExtendedS3DestinationDescription"]
    assert ext == {
        "RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}",
        "BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 300}, "CompressionFormat": "UNCOMPRESSED",
        "EncryptionConfiguration": {"NoEncryptionConfig": "NoEncryption"}, "CloudWatchLoggingOptions": {"Enabled": False},
        "S3BackupMode": "Disabled",
    }
    assert set(dest["S3DestinationDescription"]) == set(ext) - {"S3BackupMode"}


def test_encryption_goes_through_enabling_and_disabling(fh: Any, bucket: str) -> None:
    name = new_stream(fh, bucket)
    assert describe(fh, name)["DeliveryStreamEncryptionConfiguration"] == {"Status": "DISABLED"}

    fh.start_delivery_stream_encryption(DeliveryStreamName=name, DeliveryStreamEncryptionConfigurationInput={"KeyType": "AWS_OWNED_CMK"})
    assert describe(fh, name)["DeliveryStreamEncryptionConfiguration"] == {"KeyType": "AWS_OWNED_CMK", "Status": "ENABLING"}
    # "You can continue to read and write data to your Firehose stream while the encryption status is
    # ENABLING, but the data is not encrypted."
    assert fh.put_record(DeliveryStreamName=name, Record={"Data": b"x"})["Encrypted"] is False
    time.sleep(ENCRYPTION_DELAY_S + 0.2)
    assert encryption_status(fh, name) == "ENABLED"
    assert fh.put_record(DeliveryStreamName=name, Record={"Data": b"x"})["Encrypted"] is True

    fh.stop_delivery_stream_encryption(DeliveryStreamName=name)
    assert encryption_status(fh, name) == "DISABLING"
    time.sleep(ENCRYPTION_DELAY_S + 0.2)
    assert encryption_status(fh, name) == "DISABLED"
    assert fh.put_record(DeliveryStreamName=name, Record={"Data": b"x"})["Encrypted"] is False


@pytest.mark.parametrize(
    "tags,path,pattern",
    [
        ([{"Key": "a*b", "Value": "v"}], "tags.1.member.key", TAG_KEY_PATTERN),
        ([{"Key": "ok", "Value": "v"}, {"Key": "aws:reserved", "Value": "v"}], "tags.2.member.key", TAG_KEY_PATTERN),
        ([{"Key": "ok", "Value": "x#y"}], "tags.1.member.value", TAG_VALUE_PATTERN),
    ],
)
def test_tag_characters_follow_the_model_patterns(fh: Any, bucket: str, tags: list[dict[str, str]], path: str, pattern: str) -> None:
    name = new_stream(fh, bucket)
    bad = tags[-1]["Key"] if path.endswith("key") else tags[-1]["Value"]
    expected = f"1 validation error detected: Value '{bad}' at '{path}' failed to satisfy constraint: Member must satisfy regular expression pattern: {pattern}"
    with pytest.raises(ClientError) as e:
        fh.tag_delivery_stream(DeliveryStreamName=name, Tags=tags)
    assert code_of(e) == "ValidationException" and e.value.response["Error"]["Message"] == expected
    with pytest.raises(ClientError) as e:
        fh.create_delivery_stream(
            DeliveryStreamName=f"t-{uuid.uuid4().hex[:8]}", Tags=tags,
            ExtendedS3DestinationConfiguration={"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}"},
        )
    assert code_of(e) == "ValidationException" and e.value.response["Error"]["Message"] == expected
    assert fh.list_tags_for_delivery_stream(DeliveryStreamName=name)["Tags"] == []


def test_valid_tag_characters_are_accepted(fh: Any, bucket: str) -> None:
    name = new_stream(fh, bucket, Tags=[{"Key": "team name:é_1/=+-@%.", "Value": "données 42"}])
    fh.tag_delivery_stream(DeliveryStreamName=name, Tags=[{"Key": "empty", "Value": ""}])
    assert fh.list_tags_for_delivery_stream(DeliveryStreamName=name)["Tags"] == [
        {"Key": "empty", "Value": ""}, {"Key": "team name:é_1/=+-@%.", "Value": "données 42"},
    ]
    with pytest.raises(ClientError) as e:
        fh.untag_delivery_stream(DeliveryStreamName=name, TagKeys=["empty", "bad*key"])
    assert code_of(e) == "ValidationException"
    assert "at 'tagKeys.2.member' failed to satisfy constraint" in e.value.response["Error"]["Message"]


def test_tag_patterns_apply_to_whatever_a_client_sends(server: NimbusProcess, bucket: str) -> None:
    # botocore left out (parameter_validation=False), so the empty key reaches the server: the codec reports it
    # with the value's pattern failure (a symbol, not a letter, digit or space), in model order
    raw = server.client("firehose", config=Config(parameter_validation=False, retries={"max_attempts": 1}))
    name = new_stream(raw, bucket)
    with pytest.raises(ClientError) as e:
        raw.tag_delivery_stream(DeliveryStreamName=name, Tags=[{"Key": "", "Value": "\u2603"}])
    assert code_of(e) == "ValidationException"
    assert e.value.response["Error"]["Message"] == (
        "2 validation errors detected: Value '' at 'tags.1.member.key' failed to satisfy constraint: Member must have "
        "length greater than or equal to 1; Value '\u2603' at 'tags.1.member.value' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {TAG_VALUE_PATTERN}"
    )
    # letters, digits and spaces of any script: Arabic-Indic and Roman numerals, a no-break space, CJK
    raw.tag_delivery_stream(DeliveryStreamName=name, Tags=[{"Key": "\u0663\u216b\u00a0\u6570", "Value": "\u3000"}])
    assert raw.list_tags_for_delivery_stream(DeliveryStreamName=name)["Tags"] == [
        {"Key": "\u0663\u216b\u00a0\u6570", "Value": "\u3000"},
    ]

def test_unknown_stream_messages(fh: Any) -> None:
    # The data plane words it "not found under account" (a Kinesis agent's log of a PutRecordBatch answer,
    # "Firehose PurchaseLogs not found under account 1234."); the control plane "under account ... not found."
    # (steampipe-plugin-aws #759, from DescribeDeliveryStream / ListTagsForDeliveryStream).
    name = f"missing-{uuid.uuid4().hex[:8]}"
    for call in (lambda: fh.put_record(DeliveryStreamName=name, Record={"Data": b"x"}),
                 lambda: fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"x"}])):
        with pytest.raises(ClientError) as e:
            call()
        assert code_of(e) == "ResourceNotFoundException"
        assert e.value.response["Error"]["Message"] == f"Firehose {name} not found under account 000000000000."
    for call in (lambda: fh.describe_delivery_stream(DeliveryStreamName=name),
                 lambda: fh.list_tags_for_delivery_stream(DeliveryStreamName=name)):
        with pytest.raises(ClientError) as e:
            call()
        assert e.value.response["Error"]["Message"] == f"Firehose {name} under account 000000000000 not found."


def test_batch_over_4_mib_message(fh: Any, bucket: str) -> None:
    # captured from AWS with boto3 (a 50-record, 5.3 MB PutRecordBatch): InvalidArgumentException
    # "Records size exceeds 4 MB limit", nothing written
    name = new_stream(fh, bucket)
    with pytest.raises(ClientError) as e:
        fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"x" * 1_000_000}] * 5)
    assert code_of(e) == "InvalidArgumentException"
    assert e.value.response["Error"]["Message"] == "Records size exceeds 4 MB limit"
