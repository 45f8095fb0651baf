"""Timestamp conversions between the wire formats (epoch seconds, ISO 8601, RFC 822) and datetimes.

Parsing accepts every format whatever the member says, as AWS does; formatting follows the protocol
default or the member's ``timestampFormat``.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from typing import Any

from nimbus.errors import SerializationError

UTC = dt.timezone.utc
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def parse_timestamp(value: Any) -> dt.datetime:
    """Wire value (number or string in any AWS format) -> aware UTC datetime."""
    if isinstance(value, bool):
        raise SerializationError(f"Invalid timestamp value: {value!r}")
    if isinstance(value, (int, float)):
        try:
            return dt.datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise SerializationError(f"Invalid timestamp value: {value!r}") from exc
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str):
        raise SerializationError(f"Invalid timestamp value: {value!r}")
    text = value.strip()
    try:
        return dt.datetime.fromtimestamp(float(text), UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        iso = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
        parsed = dt.datetime.fromisoformat(iso)
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(text)
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (TypeError, ValueError, IndexError) as exc:
        raise SerializationError(f"Invalid timestamp value: {value!r}") from exc


def to_datetime(value: Any) -> dt.datetime:
    """Service value (datetime, epoch number, or ISO string) -> aware UTC datetime."""
    if isinstance(value, dt.datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return parse_timestamp(value)


def to_epoch(value: Any) -> float | int:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    when = to_datetime(value)
    seconds = when.timestamp()
    return int(seconds) if when.microsecond == 0 else round(seconds, 3)


def to_iso8601(value: Any) -> str:
    """``2009-10-12T17:50:30.000Z`` (milliseconds, as S3 writes it)."""
    when = to_datetime(value)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def to_iso8601_seconds(value: Any) -> str:
    """``2009-10-12T17:50:30Z``, with milliseconds only when there are any (IAM and STS write whole seconds so)."""
    when = to_datetime(value)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ") if when.microsecond < 1000 else to_iso8601(when)


def to_rfc822(value: Any) -> str:
    """``Mon, 12 Oct 2009 17:50:30 GMT`` (HTTP date, for headers)."""
    when = to_datetime(value)
    return (
        f"{_WEEKDAYS[when.weekday()]}, {when.day:02d} {_MONTHS[when.month - 1]} {when.year:04d} "
        f"{when.hour:02d}:{when.minute:02d}:{when.second:02d} GMT"
    )


def format_timestamp(value: Any, fmt: str) -> str | float | int:
    if fmt == "unixtimestamp":
        return to_epoch(value)
    if fmt == "rfc822":
        return to_rfc822(value)
    return to_iso8601(value)
