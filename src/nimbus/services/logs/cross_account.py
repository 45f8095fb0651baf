"""CloudWatch Logs destinations (PutDestination...): named, cross-account subscription targets in front of a
Kinesis data stream or a Firehose delivery stream. A subscription filter whose ``destinationArn`` is a
destination's ARN delivers to the destination's ``targetArn`` (``destinations.CoreDestinations`` resolves it
at each send, so a destination re-pointed with PutDestination takes effect at once).

Documents in the metadata store, per account and region. ``accessPolicy`` is recorded, not evaluated.
"""

from __future__ import annotations

from typing import Any, Callable

from nimbus import arn as arns
from nimbus.services.logs.groups import InvalidParameterException, ResourceNotFoundException

DESTINATIONS = "logs.destination"
DEFAULT_LIMIT = 50  # DescribeDestinations' default and maximum (the model: limit 1..50)
NOT_FOUND = "The specified destination does not exist."
_SEP = "\x1f"


def _key(account: str, region: str, name: str) -> str:
    return _SEP.join((account, region, name))


def destination_name(destination_arn: str) -> tuple[str, str, str] | None:
    """(account, region, name) of a logs destination ARN (``arn:aws:logs:r:a:destination:name``), else None."""
    try:
        parsed = arns.parse(destination_arn)
    except ValueError:
        return None
    kind, _, name = parsed.resource.partition(":")
    if parsed.service != "logs" or kind != "destination" or not name:
        return None
    return parsed.account, parsed.region, name


def target_of(metadata: Any, destination_arn: str) -> str | None:
    """The targetArn behind a destination ARN, None when no such destination exists."""
    where = destination_name(destination_arn)
    if where is None:
        return None
    doc = metadata.get(DESTINATIONS, _key(*where))
    return None if doc is None else str(doc["targetArn"])


class LogDestinations:
    def __init__(self, metadata: Any, clock_time: Callable[[], float]) -> None:
        self.db = metadata
        self.time = clock_time

    @staticmethod
    def _wire(doc: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in doc.items() if not k.startswith("_")}

    def put(self, account: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
        name, target = params["destinationName"], params["targetArn"]
        try:
            parsed = arns.parse(target)
        except ValueError:
            parsed = None
        if parsed is None or not (
            (parsed.service == "kinesis" and parsed.resource.startswith("stream/"))
            or (parsed.service == "firehose" and parsed.resource.startswith("deliverystream/"))
        ):
            # AWS accepts Kinesis data streams and Firehose delivery streams as a destination's target
            raise InvalidParameterException(f"Invalid targetArn {target}: a destination targets a Kinesis data stream or a Firehose delivery stream.")
        key = _key(account, region, name)
        old = self.db.get(DESTINATIONS, key)
        doc: dict[str, Any] = {
            "destinationName": name,
            "targetArn": target,
            "roleArn": params["roleArn"],
            "arn": arns.build("logs", region, account, f"destination:{name}"),
            "creationTime": old["creationTime"] if old else int(self.time() * 1000),
        }
        if old and old.get("accessPolicy"):
            doc["accessPolicy"] = old["accessPolicy"]  # PutDestination updates target and role, keeps the policy
        doc["_tags"] = old.get("_tags", {}) if old else dict(params.get("tags") or {})
        self.db.put(DESTINATIONS, key, doc)
        return self._wire(doc)

    def put_policy(self, account: str, region: str, name: str, policy: str) -> None:
        key = _key(account, region, name)
        doc = self.db.get(DESTINATIONS, key)
        if doc is None:
            raise ResourceNotFoundException(NOT_FOUND)
        self.db.put(DESTINATIONS, key, {**doc, "accessPolicy": policy})

    def describe(self, account: str, region: str, *, prefix: str | None, token: str | None,
                 limit: int | None) -> tuple[list[dict[str, Any]], str | None]:
        rows = [self._wire(doc) for _, doc in self.db.list(DESTINATIONS, _key(account, region, prefix or ""))]
        rows.sort(key=lambda d: d["destinationName"])
        if token is not None and not token.isdigit():
            raise InvalidParameterException("The specified nextToken is invalid.")
        offset = int(token) if token else 0
        size = limit or DEFAULT_LIMIT
        page = rows[offset : offset + size]
        return page, (str(offset + size) if offset + size < len(rows) else None)

    def delete(self, account: str, region: str, name: str) -> None:
        if not self.db.delete(DESTINATIONS, _key(account, region, name)):
            raise ResourceNotFoundException(NOT_FOUND)
