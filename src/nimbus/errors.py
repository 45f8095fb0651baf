"""Errors every layer raises; the protocol layer turns them into wire bytes.

    ServiceError                  an AWS error: code, message, HTTP status, sender fault
     ├── InternalFailure          500, our own bug; the edge converts stray exceptions to this
     ├── NotImplementedOperation  501, an operation of a served model that Nimbus does not implement
     ├── SerializationError       400, a body that cannot be parsed (bad JSON/XML, wrong content type)
     ├── ValidationError          400, input violates the model (code chosen per service)
     ├── AccessDenied family      auth failures (codes differ per protocol; see sigv4.py)
     └── ThrottlingError          429/400, a limit was hit; botocore retries these

Services raise ``ServiceError(message, code=..., status=...)`` or subclasses that fix the code.
Extra keyword fields become members of the error body (e.g. S3's ``Resource``, Lambda's ``Type``).
Nothing here knows about HTTP bodies: ``protocol/errors.py`` serialises.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """An error with an AWS error code, to be returned to the client in its protocol's format."""

    code: str = "InternalFailure"
    status: int = 400
    sender_fault: bool = True

    def __init__(
        self,
        message: str = "",
        *,
        code: str | None = None,
        status: int | None = None,
        sender_fault: bool | None = None,
        headers: dict[str, str] | None = None,
        **fields: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        if sender_fault is not None:
            self.sender_fault = sender_fault
        self.headers = dict(headers or {})
        self.fields = fields

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, status={self.status}, message={self.message!r})"


class InternalFailure(ServiceError):
    code = "InternalFailure"
    status = 500
    sender_fault = False


class ServiceUnavailable(ServiceError):
    code = "ServiceUnavailable"
    status = 503
    sender_fault = False


class NotImplementedOperation(ServiceError):
    code = "NotImplemented"
    status = 501
    sender_fault = False


class SerializationError(ServiceError):
    code = "SerializationException"
    status = 400


class ValidationError(ServiceError):
    """Input violates the service model. The protocol layer picks the service's own code."""

    code = "ValidationException"
    status = 400


class ThrottlingError(ServiceError):
    code = "ThrottlingException"
    status = 400


class AccessDenied(ServiceError):
    code = "AccessDeniedException"
    status = 403
