"""The ``logs`` service (CloudWatch Logs, json 1.1): log groups, streams and events on the storage layer.

``groups`` is the engine (metadata documents + one durable log per stream); ``filters`` the filter-pattern
matcher (``json_patterns`` and ``space_patterns`` its halves); ``subscriptions`` / ``destinations`` and
``metric_filters`` listen to the engine's appends; ``insights`` runs Logs Insights queries
(``insights_query`` the language); ``sink`` the runtime's LogSink (function output → /aws/lambda/<name>);
``api`` the operations. Imports: storage, errors, other services' engines; never another service's api.
"""
