"""API Gateway errors (both models name them the same; the codec picks ``message``/``Message``)."""

from __future__ import annotations

from nimbus.errors import ServiceError


class NotFoundException(ServiceError):
    code = "NotFoundException"
    status = 404


class ConflictException(ServiceError):
    code = "ConflictException"
    status = 409


class BadRequestException(ServiceError):
    code = "BadRequestException"
    status = 400


class TooManyRequestsException(ServiceError):
    code = "TooManyRequestsException"
    status = 429
