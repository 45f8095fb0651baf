"""`nimbus firehose describe`'s view of a stream that delivers to an HTTP endpoint, and of an S3 one."""

from __future__ import annotations

from nimbus.cli.firehose import lines


def _desc(destination: dict) -> dict:
    return {"DeliveryStreamName": "d", "DeliveryStreamStatus": "ACTIVE", "DeliveryStreamType": "DirectPut", "VersionId": "1",
            "DeliveryStreamARN": "arn:aws:firehose:us-east-1:000000000000:deliverystream/d", "CreateTimestamp": 0,
            "Destinations": [destination]}


def test_http_endpoint_destination() -> None:
    view = dict(lines(_desc({"DestinationId": "destinationId-000000000001", "HttpEndpointDestinationDescription": {
        "EndpointConfiguration": {"Url": "http://127.0.0.1:8080/in", "Name": "collector"},
        "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60}, "RequestConfiguration": {"ContentEncoding": "GZIP"},
        "RetryOptions": {"DurationInSeconds": 30}, "S3BackupMode": "AllData",
        "S3DestinationDescription": {"BucketARN": "arn:aws:s3:::backup", "Prefix": "fh/"}}}), None, now=0))
    assert view["Destination"] == "http://127.0.0.1:8080/in (collector, GZIP; retries for 30 s)"
    assert view["Backup"] == "s3://backup/fh/ (AllData)"
    assert view["Buffering hints"] == "1 MB / 60 s"


def test_s3_destination() -> None:
    view = dict(lines(_desc({"ExtendedS3DestinationDescription": {"BucketARN": "arn:aws:s3:::b", "Prefix": "p/",
                                                                   "BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 300}}}), None, now=0))
    assert view["Destination"] == "s3://b/p/ (UNCOMPRESSED)"
