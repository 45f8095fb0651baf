"""Dashboards: PutDashboard, GetDashboard, ListDashboards, DeleteDashboards. Kept, never rendered.

A body must be a JSON object whose ``widgets`` (if present) is a list, as CloudWatch checks before keeping
it; widget contents are not checked (CloudWatch's own messages about them are warnings).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from nimbus import arn
from nimbus.errors import ServiceError
from nimbus.services.cloudwatch.errors import ResourceNotFound
from nimbus.services.cloudwatch.store import SEP

DASHBOARDS = "cloudwatch.dashboards"
LIST_PAGE = 1000  # ListDashboards answers up to 1,000 a page


class DashboardInvalidInputError(ServiceError):
    code = "InvalidParameterInput"
    status = 400


def _key(account: str, name: str) -> str:
    return f"{account}{SEP}{name}"  # dashboards are global to the account (their ARN has no region)


class Dashboards:
    def __init__(self, metadata: Any) -> None:
        self.metadata = metadata

    def put(self, account: str, name: str, body: str, *, now: float) -> list[dict[str, str]]:
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise DashboardInvalidInputError("The input for the dashboard is invalid.") from e
        if not isinstance(doc, dict):
            raise DashboardInvalidInputError("The input for the dashboard is invalid.")
        if "widgets" in doc and not isinstance(doc["widgets"], list):
            raise DashboardInvalidInputError("The input for the dashboard is invalid.")
        self.metadata.put(DASHBOARDS, _key(account, name), {"name": name, "body": body, "modified": now})
        return []

    def get(self, account: str, name: str) -> dict[str, Any]:
        doc = self.metadata.get(DASHBOARDS, _key(account, name))
        if doc is None:
            raise ResourceNotFound("Dashboard does not exist")
        return {"DashboardArn": arn.build("cloudwatch", "", account, f"dashboard/{name}"), "DashboardBody": doc["body"],
                "DashboardName": name}

    def list(self, account: str, prefix: str | None, token: str | None) -> dict[str, Any]:
        page = self.metadata.list(DASHBOARDS, _key(account, prefix or ""), after=_key(account, token) if token else None,
                                  limit=LIST_PAGE + 1)
        entries = [{
            "DashboardName": doc["name"], "DashboardArn": arn.build("cloudwatch", "", account, f"dashboard/{doc['name']}"),
            "LastModified": dt.datetime.fromtimestamp(doc["modified"], dt.timezone.utc), "Size": len(doc["body"].encode()),
        } for _, doc in page[:LIST_PAGE]]
        out: dict[str, Any] = {"DashboardEntries": entries}
        if len(page) > LIST_PAGE:
            out["NextToken"] = entries[-1]["DashboardName"]
        return out

    def delete(self, account: str, names: list[str]) -> None:
        missing = [n for n in names if self.metadata.get(DASHBOARDS, _key(account, n)) is None]
        if missing:
            raise ResourceNotFound(f"The specified dashboard does not exist. [{', '.join(missing)}]")
        with self.metadata.transaction():
            for name in names:
                self.metadata.delete(DASHBOARDS, _key(account, name))
