"""Bucket configurations S3 keeps by id (inventory, metrics, analytics, Intelligent-Tiering) and replication,
against a real server with boto3 and the AWS CLI: round trips, paging, S3's errors, and a restart."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusProcess]:
    base: Path = tmp_path_factory.mktemp("bucketconfigs")
    proc = NimbusProcess(base / "data").start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def s3(server: NimbusProcess) -> Any:
    client = server.client("s3")
    client.create_bucket(Bucket="cfg")
    return client


def code_of(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


INVENTORY = {"Destination": {"S3BucketDestination": {"Bucket": "arn:aws:s3:::cfg", "Format": "CSV", "Prefix": "inv"}},
             "IsEnabled": True, "IncludedObjectVersions": "Current", "Schedule": {"Frequency": "Daily"},
             "OptionalFields": ["Size", "ETag"]}


def test_configurations_kept_by_id(s3: Any) -> None:
    s3.put_bucket_inventory_configuration(Bucket="cfg", Id="daily", InventoryConfiguration={"Id": "daily", **INVENTORY})
    got = s3.get_bucket_inventory_configuration(Bucket="cfg", Id="daily")["InventoryConfiguration"]
    assert got == {"Id": "daily", **INVENTORY}
    s3.put_bucket_metrics_configuration(Bucket="cfg", Id="all", MetricsConfiguration={"Id": "all"})
    s3.put_bucket_metrics_configuration(Bucket="cfg", Id="logs", MetricsConfiguration={"Id": "logs", "Filter": {"Prefix": "logs/"}})
    assert s3.get_bucket_metrics_configuration(Bucket="cfg", Id="logs")["MetricsConfiguration"]["Filter"] == {"Prefix": "logs/"}
    s3.put_bucket_analytics_configuration(Bucket="cfg", Id="sca", AnalyticsConfiguration={"Id": "sca", "StorageClassAnalysis": {}})
    tiering = {"Id": "arch", "Status": "Enabled", "Tierings": [{"Days": 90, "AccessTier": "ARCHIVE_ACCESS"}]}
    s3.put_bucket_intelligent_tiering_configuration(Bucket="cfg", Id="arch", IntelligentTieringConfiguration=tiering)
    assert s3.get_bucket_intelligent_tiering_configuration(Bucket="cfg", Id="arch")["IntelligentTieringConfiguration"] == tiering
    listed = s3.list_bucket_metrics_configurations(Bucket="cfg")
    assert [c["Id"] for c in listed["MetricsConfigurationList"]] == ["all", "logs"] and listed["IsTruncated"] is False
    s3.delete_bucket_metrics_configuration(Bucket="cfg", Id="all")
    assert [c["Id"] for c in s3.list_bucket_metrics_configurations(Bucket="cfg")["MetricsConfigurationList"]] == ["logs"]
    for call in (lambda: s3.get_bucket_metrics_configuration(Bucket="cfg", Id="all"),
                 lambda: s3.delete_bucket_analytics_configuration(Bucket="cfg", Id="nope")):
        with pytest.raises(ClientError) as e:
            call()
        assert code_of(e) == "NoSuchConfiguration"


def test_listing_pages_by_100(s3: Any) -> None:
    s3.create_bucket(Bucket="cfg-many")
    for i in range(130):
        s3.put_bucket_metrics_configuration(Bucket="cfg-many", Id=f"m{i:03d}", MetricsConfiguration={"Id": f"m{i:03d}"})
    first = s3.list_bucket_metrics_configurations(Bucket="cfg-many")
    assert len(first["MetricsConfigurationList"]) == 100 and first["IsTruncated"] is True
    second = s3.list_bucket_metrics_configurations(Bucket="cfg-many", ContinuationToken=first["NextContinuationToken"])
    assert [c["Id"] for c in second["MetricsConfigurationList"]] == [f"m{i:03d}" for i in range(100, 130)]
    assert second["IsTruncated"] is False and "NextContinuationToken" not in second


def test_bad_configurations_store_nothing(s3: Any) -> None:
    cases = [
        (lambda: s3.put_bucket_metrics_configuration(Bucket="cfg", Id="a", MetricsConfiguration={"Id": "b"}), "InvalidArgument"),
        (lambda: s3.put_bucket_metrics_configuration(Bucket="cfg", Id="bad id!", MetricsConfiguration={"Id": "bad id!"}), "InvalidArgument"),
        (lambda: s3.put_bucket_inventory_configuration(Bucket="cfg", Id="x", InventoryConfiguration={
            "Id": "x", "IsEnabled": True, "IncludedObjectVersions": "All", "Schedule": {"Frequency": "Weekly"},
            "Destination": {"S3BucketDestination": {"Bucket": "arn:aws:s3:::cfg", "Format": "XML"}}}), "MalformedXML"),
        (lambda: s3.get_bucket_inventory_configuration(Bucket="no-such-bucket-here", Id="daily"), "NoSuchBucket"),
    ]
    for call, code in cases:
        with pytest.raises(ClientError) as e:
            call()
        assert code_of(e) == code
    assert "a" not in [c["Id"] for c in s3.list_bucket_metrics_configurations(Bucket="cfg").get("MetricsConfigurationList", [])]
    assert [c["Id"] for c in s3.list_bucket_inventory_configurations(Bucket="cfg").get("InventoryConfigurationList", [])] == ["daily"]


def test_replication_configuration(s3: Any) -> None:
    rule = {"ID": "r1", "Priority": 1, "Status": "Enabled", "Filter": {"Prefix": "docs/"},
            "DeleteMarkerReplication": {"Status": "Disabled"}, "Destination": {"Bucket": "arn:aws:s3:::repl-dst"}}
    config = {"Role": "arn:aws:iam::000000000000:role/replication", "Rules": [rule]}
    s3.create_bucket(Bucket="repl-src")
    with pytest.raises(ClientError) as e:
        s3.put_bucket_replication(Bucket="repl-src", ReplicationConfiguration=config)
    assert code_of(e) == "InvalidRequest"  # the source is not versioned
    s3.put_bucket_versioning(Bucket="repl-src", VersioningConfiguration={"Status": "Enabled"})
    with pytest.raises(ClientError) as e:
        s3.put_bucket_replication(Bucket="repl-src", ReplicationConfiguration=config)
    assert code_of(e) == "InvalidRequest" and "exist" in e.value.response["Error"]["Message"]
    s3.create_bucket(Bucket="repl-dst")
    with pytest.raises(ClientError) as e:
        s3.put_bucket_replication(Bucket="repl-src", ReplicationConfiguration=config)
    assert code_of(e) == "InvalidRequest" and "versioning" in e.value.response["Error"]["Message"]
    s3.put_bucket_versioning(Bucket="repl-dst", VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_replication(Bucket="repl-src", ReplicationConfiguration=config)
    assert s3.get_bucket_replication(Bucket="repl-src")["ReplicationConfiguration"] == config
    with pytest.raises(ClientError) as e:
        s3.put_bucket_versioning(Bucket="repl-src", VersioningConfiguration={"Status": "Suspended"})
    assert code_of(e) == "InvalidBucketState"
    s3.delete_bucket_replication(Bucket="repl-src")
    with pytest.raises(ClientError) as e:
        s3.get_bucket_replication(Bucket="repl-src")
    assert code_of(e) == "ReplicationConfigurationNotFoundError"


def test_cli_and_restart(server: NimbusProcess) -> None:
    server.aws("s3api", "put-bucket-metrics-configuration", "--bucket", "cfg", "--id", "cli",
               "--metrics-configuration", json.dumps({"Id": "cli", "Filter": {"Prefix": "p/"}}))
    server.kill9()
    server.start()
    got = json.loads(server.aws("s3api", "get-bucket-metrics-configuration", "--bucket", "cfg", "--id", "cli").stdout)
    assert got["MetricsConfiguration"] == {"Id": "cli", "Filter": {"Prefix": "p/"}}
    inv = json.loads(server.aws("s3api", "list-bucket-inventory-configurations", "--bucket", "cfg").stdout)
    assert [c["Id"] for c in inv["InventoryConfigurationList"]] == ["daily"]
