"""The ``lambda`` service (rest-json): control plane (``functions``, ``layers``, ``code``), the one invoke path
(``invoke.LambdaEngine``, component "lambda.engine") and the durable async queue (``async_queue``).

Engine modules import ``storage``, ``runtime`` and other services' engines, never an ``api`` module, the
protocol or the edge. Only ``api.py`` deals in wire shapes.
"""
