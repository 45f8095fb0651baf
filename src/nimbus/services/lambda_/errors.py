"""Lambda's modeled errors (botocore lambda 2015-03-31), raised by the engine modules with AWS's wording.

The rest-json codec adds the ``Type`` member (``User`` or ``Service``) from ``sender_fault``.
"""

from __future__ import annotations

from nimbus.errors import ServiceError


class LambdaError(ServiceError):
    """Base of Lambda's errors."""


class ResourceNotFoundException(LambdaError):
    code = "ResourceNotFoundException"
    status = 404


class ResourceConflictException(LambdaError):
    code = "ResourceConflictException"
    status = 409


class InvalidParameterValueException(LambdaError):
    code = "InvalidParameterValueException"
    status = 400


class InvalidRequestContentException(LambdaError):
    code = "InvalidRequestContentException"
    status = 400


class RequestTooLargeException(LambdaError):
    code = "RequestTooLargeException"
    status = 413


class UnsupportedMediaTypeException(LambdaError):
    code = "UnsupportedMediaTypeException"
    status = 415


class TooManyRequestsException(LambdaError):
    code = "TooManyRequestsException"
    status = 429


class PreconditionFailedException(LambdaError):
    code = "PreconditionFailedException"
    status = 412


class ServiceException(LambdaError):
    code = "ServiceException"
    status = 500
    sender_fault = False


class CodeStorageExceededException(LambdaError):
    code = "CodeStorageExceededException"
    status = 400


class PolicyLengthExceededException(LambdaError):
    code = "PolicyLengthExceededException"
    status = 400


class InvalidZipFileException(LambdaError):
    code = "InvalidZipFileException"
    status = 502
    sender_fault = False


class ResourceNotReadyException(LambdaError):
    code = "ResourceNotReadyException"
    status = 502
    sender_fault = False
