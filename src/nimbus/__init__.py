"""Nimbus: a self-hosted serverless platform that speaks the AWS APIs.

Importing ``nimbus`` starts nothing; ``nimbus.server`` is the composition root.
"""

__version__ = "0.1.0"
