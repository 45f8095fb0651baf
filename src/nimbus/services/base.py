"""What every service API receives: the caller's context. Api classes are plain objects whose
async methods are named by botocore's snake-case operation names (``put_record_batch``) and take
``(ctx, params)`` where params is the parsed, validated input dict; they return the output dict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class RequestContext:
    request_id: str
    service: str
    operation: str
    region: str
    account_id: str
    access_key: str | None = None
    endpoint_url: str = "http://127.0.0.1:4566"  # how this caller reached us (for URLs we hand out)
    headers: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
