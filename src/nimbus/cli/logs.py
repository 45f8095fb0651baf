"""``nimbus logs FUNCTION [--follow] [--since 10m] [--filter PATTERN]``: a function's log, like ``aws logs tail``.

FUNCTION is a function name (its group is ``/aws/lambda/FUNCTION``) or a log group name starting with
'/'. Uses FilterLogEvents with ``startTime``; ``--follow`` polls every ``--interval`` seconds and skips
events already printed (by eventId), as the AWS CLI v2's ``logs tail`` does.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
import time
from typing import Any

from nimbus.cli.client import UsageError, client

_SINCE = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("function", help="function name, or a log group name starting with '/'")
    p.add_argument("--follow", "-f", action="store_true", help="keep polling for new events")
    p.add_argument("--since", default="10m", help="start this long ago (30s, 10m, 2h, 1d, 1w) or at an ISO 8601 time (default 10m)")
    p.add_argument("--filter", dest="filter_pattern", help="CloudWatch Logs filter pattern (terms, \"phrases\")")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between polls with --follow (default 1)")


def parse_since(text: str, now: float | None = None) -> int:
    """--since → epoch milliseconds."""
    now = time.time() if now is None else now
    m = _SINCE.match(text.strip())
    if m:
        return int((now - int(m.group(1)) * _UNITS[m.group(2)]) * 1000)
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as e:
        raise UsageError(f"--since {text!r} is neither a duration (30s, 10m, 2h, 1d, 1w) nor an ISO 8601 time") from e
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return int(when.timestamp() * 1000)


def format_event(event: dict[str, Any]) -> str:
    ts = dt.datetime.fromtimestamp(event["timestamp"] / 1000, dt.timezone.utc).isoformat(timespec="milliseconds")
    return f"{ts} {event['logStreamName']} {event['message'].rstrip()}"


def fetch(logs: Any, group: str, start_ms: int, pattern: str | None) -> list[dict[str, Any]]:
    kw: dict[str, Any] = {"logGroupName": group, "startTime": start_ms, "interleaved": True}
    if pattern:
        kw["filterPattern"] = pattern
    events: list[dict[str, Any]] = []
    for page in logs.get_paginator("filter_log_events").paginate(**kw):
        events.extend(page.get("events", []))
    return events


def run(args: argparse.Namespace) -> int:
    """AWS errors, missing credentials and an unreachable server are reported by ``nimbus.cli.main``."""
    from botocore.exceptions import ClientError

    start = parse_since(args.since)
    logs = client("logs", args)
    group = args.function if args.function.startswith("/") else f"/aws/lambda/{args.function}"
    seen: set[str] = set()
    while True:
        try:
            events = fetch(logs, group, start, args.filter_pattern)
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code")
            if code != "ResourceNotFoundException":
                raise
            if not args.follow:
                what = "the function does not exist there or has not run yet" if group != args.function else "no such group"
                print(f"nimbus logs: no log group {group} in {logs.meta.region_name} ({what}; "
                      "--follow waits for it)", file=sys.stderr)
                return 1
            events = []  # the group appears at the function's first invocation
        for event in events:
            if event["eventId"] in seen:
                continue
            seen.add(event["eventId"])
            print(format_event(event), flush=True)
        if not args.follow:
            return 0
        if events:
            start = max(start, events[-1]["timestamp"])
        time.sleep(args.interval)
