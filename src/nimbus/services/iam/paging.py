"""Paging of IAM's List* answers (pure): Marker/MaxItems over entries in ascending key order.

A marker is the last returned item's sort key, base64-encoded: opaque to clients, and a page after it
stays right when items before it are added or removed.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from nimbus.services.iam.errors import InvalidInputException

DEFAULT_MAX_ITEMS = 100  # every List* operation's MaxItems default

T = TypeVar("T")


@dataclass(slots=True, frozen=True)
class Page(Generic[T]):
    """One page of a List* answer; ``marker`` is set (and IsTruncated true) when more follow."""

    items: list[T]
    marker: str | None = None


def mark(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode()


def unmark(marker: str) -> str:
    """The sort key a marker stands for (InvalidInput when it is not one of ours)."""
    try:
        return base64.urlsafe_b64decode(marker.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInputException("Invalid Marker.") from None


def page(entries: Iterable[tuple[str, T]], marker: str | None, max_items: int | None) -> Page[T]:
    """A page of ``entries`` (ascending by key) after the marker's key."""
    after = unmark(marker) if marker else None
    limit = max_items or DEFAULT_MAX_ITEMS
    items: list[T] = []
    last = ""
    for key, value in entries:
        if after is not None and key <= after:
            continue
        if len(items) == limit:
            return Page(items, mark(last))
        items.append(value)
        last = key
    return Page(items)
