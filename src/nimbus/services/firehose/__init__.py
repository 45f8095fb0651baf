"""Amazon Data Firehose: delivery streams that buffer records durably, transform them with Lambda and
deliver them to S3 (aws-contracts.md A). ``api.py`` maps the json 1.1 operations onto ``streams.py``;
``buffer``/``delivery``/``transform``/``prefixes``/``compression`` are the engine. Engine modules import
storage, clock and (through small adapters in ``sinks.py``) the S3 and Lambda engines, never protocol/edge.
"""
