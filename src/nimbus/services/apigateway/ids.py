"""Identifiers as API Gateway and Lambda hand them out (lower-case letters and digits)."""

from __future__ import annotations

import secrets
import string

_LOWER_ALNUM = string.ascii_lowercase + string.digits
_ALNUM = string.ascii_letters + string.digits

REST_API_ID_LEN = 10  # e.g. dv5430asxj (the seed's URL)
RESOURCE_ID_LEN = 10
DEPLOYMENT_ID_LEN = 6
USAGE_PLAN_ID_LEN = 6
API_KEY_ID_LEN = 10
API_KEY_VALUE_LEN = 40
HTTP_API_ID_LEN = 10
ROUTE_ID_LEN = 7
URL_ID_LEN = 32  # C.4: 32 lower-case letters and digits


def new_id(length: int) -> str:
    return "".join(secrets.choice(_LOWER_ALNUM) for _ in range(length))


def new_key_value() -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(API_KEY_VALUE_LEN))
