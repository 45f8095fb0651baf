"""IAM's modeled errors (botocore iam 2010-05-08 error shapes: code, HTTP status), raised by the engine
with AWS's wording. ``ValidationError`` is the code IAM itself answers for an invalid ARN parameter."""

from __future__ import annotations

from nimbus.errors import ServiceError


class IamError(ServiceError):
    """Base of IAM's errors."""


class NoSuchEntityException(IamError):
    code = "NoSuchEntity"
    status = 404


class EntityAlreadyExistsException(IamError):
    code = "EntityAlreadyExists"
    status = 409


class DeleteConflictException(IamError):
    code = "DeleteConflict"
    status = 409


class MalformedPolicyDocumentException(IamError):
    code = "MalformedPolicyDocument"
    status = 400


class LimitExceededException(IamError):
    code = "LimitExceeded"
    status = 409


class InvalidInputException(IamError):
    code = "InvalidInput"
    status = 400


class UnmodifiableEntityException(IamError):
    code = "UnmodifiableEntity"
    status = 400


class PolicyNotAttachableException(IamError):
    code = "PolicyNotAttachable"
    status = 400


class IamValidationError(IamError):
    """IAM's own ``ValidationError`` (not the codec's): "ARN x is not valid." for a malformed policy ARN."""

    code = "ValidationError"
    status = 400


class AccessDeniedException(IamError):
    """Changing an AWS-managed policy: the resource belongs to AWS's account, not the caller's."""

    code = "AccessDenied"
    status = 403


class InvalidClientTokenIdException(IamError):
    """Not an IAM-modeled error but what IAM answers to GetSessionToken credentials (it refuses those without
    MFA, and Nimbus has no MFA)."""

    code = "InvalidClientTokenId"
    status = 403
