"""Firehose's per-stream Prometheus series in ``nimbus.metrics.REGISTRY`` (served at ``GET /_nimbus/metrics``).

Labels: ``account``, ``region``, ``stream``. Names follow CloudWatch's Firehose metrics where one exists
(IncomingRecords/IncomingBytes, DeliveryToS3.Records/Bytes/Success, DataFreshness,
ExecuteProcessing.Success/Duration, failed records). The per-stream counters of
``GET /_nimbus/firehose/streams`` are kept beside them (they reset at restart, as these do).
"""

from __future__ import annotations

from nimbus.metrics import REGISTRY

LABELS = ("account", "region", "stream")

INCOMING_RECORDS = REGISTRY.counter("nimbus_firehose_incoming_records_total", "Records accepted by PutRecord/PutRecordBatch or read from the Kinesis source", LABELS)
INCOMING_BYTES = REGISTRY.counter("nimbus_firehose_incoming_bytes_total", "Bytes of records accepted (before base64)", LABELS)
DELIVERED_RECORDS = REGISTRY.counter("nimbus_firehose_delivered_records_total", "Records delivered to S3 in data objects", LABELS)
DELIVERED_BYTES = REGISTRY.counter("nimbus_firehose_delivered_bytes_total", "Bytes of data objects written to S3 (after compression)", LABELS)
OBJECTS = REGISTRY.counter("nimbus_firehose_delivered_objects_total", "Objects written to S3, by kind (data, error, backup)", LABELS + ("kind",))
DELIVERY_FAILURES = REGISTRY.counter("nimbus_firehose_delivery_failures_total", "Failed object writes (retried with backoff)", LABELS)
THROTTLED = REGISTRY.counter("nimbus_firehose_throttled_records_total", "Records refused with \"Slow down.\" by the stream's quota (NIMBUS_FIREHOSE_QUOTAS)", LABELS)
EXPIRED = REGISTRY.counter("nimbus_firehose_expired_records_total", "Records dropped after the retention period because the destination kept failing", LABELS)
TRANSFORM_INVOCATIONS = REGISTRY.counter("nimbus_firehose_transform_invocations_total", "Lambda transform invocations (each attempt)", LABELS)
TRANSFORM_RECORDS = REGISTRY.counter("nimbus_firehose_transform_records_total", "Records through the Lambda transform, by result (Ok, Dropped, ProcessingFailed)", LABELS + ("result",))
TRANSFORM_DURATION = REGISTRY.histogram(
    "nimbus_firehose_transform_duration_seconds", "Duration of one transform batch (all attempts)", LABELS,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)
DELIVERY_LATENCY = REGISTRY.histogram(
    "nimbus_firehose_delivery_latency_seconds", "Age of the oldest record of a batch when its objects are written (DataFreshness)", LABELS,
    buckets=(0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 3600.0),
)
# HttpEndpoint destinations (CloudWatch's DeliveryToHttpEndpoint.Records / .Bytes / .Success)
HTTP_RECORDS = REGISTRY.counter("nimbus_firehose_http_endpoint_delivered_records_total", "Records delivered to an HTTP endpoint (DeliveryToHttpEndpoint.Records)", LABELS)
HTTP_BYTES = REGISTRY.counter("nimbus_firehose_http_endpoint_delivered_bytes_total", "Bytes of records delivered to an HTTP endpoint, before base64 (DeliveryToHttpEndpoint.Bytes)", LABELS)
HTTP_REQUESTS = REGISTRY.counter("nimbus_firehose_http_endpoint_requests_total", "Requests to an HTTP endpoint by outcome, each attempt (DeliveryToHttpEndpoint.Success)", LABELS + ("outcome",))
