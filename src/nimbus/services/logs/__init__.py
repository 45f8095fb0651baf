"""The ``logs`` service (CloudWatch Logs, json 1.1): log groups, streams and events on the storage layer.

``groups`` is the engine (metadata documents + one durable log per stream), ``filters`` the filter-pattern
matcher (``json_patterns`` its JSON half), ``sink`` the runtime's LogSink (function output →
/aws/lambda/<name>), ``api`` the operations. Imports: storage, errors; never another service's api.
"""
