"""Kinesis Data Streams: sharded, ordered, durable streams on the storage layer's logs.

``api`` maps the AWS operations onto the engine (``engine.Streams``); ``sequence``, ``hashing`` and
``iterators`` are pure; ``shards`` keeps records in the durable logs; ``mappings`` runs the Lambda event
source mappings that poll streams. Imports: storage, clock, errors, arn, and the "lambda.engine" component.
"""
