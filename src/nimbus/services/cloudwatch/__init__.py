"""CloudWatch metrics and alarms: PutMetricData, ListMetrics, GetMetricStatistics, GetMetricData, metric alarms.

``store`` keeps datapoints aggregated per metric, unit and minute (second, for high resolution) in the
metadata store; ``statistics`` and ``expressions`` are pure; ``feed`` is the in-memory accumulator other
engines (Lambda, Kinesis) hand their AWS/* metrics to, flushed by ``builtin``. May import storage and other
services' engine modules (Firehose's counters), never another service's api.
"""
