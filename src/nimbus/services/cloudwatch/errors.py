"""CloudWatch's modeled errors, with the query-protocol codes the model gives them (the codec maps each
code back to its shape for ``__type`` and answers it in ``x-amzn-query-error``)."""

from __future__ import annotations

from nimbus.errors import ServiceError


class InvalidParameterValueException(ServiceError):
    code = "InvalidParameterValue"
    status = 400


class InvalidParameterCombinationException(ServiceError):
    code = "InvalidParameterCombination"
    status = 400


class MissingRequiredParameterException(ServiceError):
    code = "MissingParameter"
    status = 400


class InvalidNextToken(ServiceError):
    code = "InvalidNextToken"
    status = 400


class ResourceNotFound(ServiceError):
    code = "ResourceNotFound"
    status = 404


class LimitExceededFault(ServiceError):
    code = "LimitExceeded"
    status = 400


class InvalidFormatFault(ServiceError):
    code = "InvalidFormat"
    status = 400


class ValidationException(ServiceError):
    code = "ValidationError"
    status = 400


class RequestEntityTooLarge(ServiceError):
    code = "RequestEntityTooLarge"
    status = 413


class ResourceNotFoundException(ServiceError):
    code = "ResourceNotFoundException"
    status = 404
