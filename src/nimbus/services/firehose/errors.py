"""Firehose's modeled errors (botocore firehose 2015-08-04), raised by the engine with AWS's wording (A.9)."""

from __future__ import annotations

from nimbus.errors import ServiceError


class FirehoseError(ServiceError):
    """Base of Firehose's errors."""


class ResourceNotFoundException(FirehoseError):
    code = "ResourceNotFoundException"
    status = 400


class ResourceInUseException(FirehoseError):
    code = "ResourceInUseException"
    status = 400


class InvalidArgumentException(FirehoseError):
    code = "InvalidArgumentException"
    status = 400


class LimitExceededException(FirehoseError):
    code = "LimitExceededException"
    status = 400


class ConcurrentModificationException(FirehoseError):
    code = "ConcurrentModificationException"
    status = 400


class InvalidKMSResourceException(FirehoseError):
    code = "InvalidKMSResourceException"
    status = 400


class ServiceUnavailableException(FirehoseError):
    """A.9 [choice]: 503 so botocore retries it as a transient error."""

    code = "ServiceUnavailableException"
    status = 503
    sender_fault = False
