"""Wire formats only: AWS json 1.0/1.1, rest-json and rest-xml codecs driven by botocore's service
models (routing, parse, validate, serialize, errors). ``dispatch.ServiceProtocol`` is the entry point.

May import botocore, orjson, ``nimbus.errors``, ``nimbus.bytestream`` and ``nimbus.protocol.http``;
never ``nimbus.edge``, ``nimbus.services`` engines or storage.
"""
