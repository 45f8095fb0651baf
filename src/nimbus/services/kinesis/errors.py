"""Kinesis's modeled errors (aws-contracts.md B.7); engines raise these with AWS's wording."""

from __future__ import annotations

from nimbus.errors import ServiceError


class ResourceNotFoundException(ServiceError):
    code = "ResourceNotFoundException"


class ResourceInUseException(ServiceError):
    code = "ResourceInUseException"


class InvalidArgumentException(ServiceError):
    code = "InvalidArgumentException"


class ExpiredIteratorException(ServiceError):
    code = "ExpiredIteratorException"


class ExpiredNextTokenException(ServiceError):
    code = "ExpiredNextTokenException"


class LimitExceededException(ServiceError):
    code = "LimitExceededException"


class ValidationException(ServiceError):
    code = "ValidationException"


class ProvisionedThroughputExceededException(ServiceError):
    code = "ProvisionedThroughputExceededException"


class AccessDeniedException(ServiceError):
    code = "AccessDeniedException"


class DryRunOperationException(ServiceError):
    """The answer to a data-plane call made with ``DryRun``: every check passed, nothing was done."""

    code = "DryRunOperationException"
