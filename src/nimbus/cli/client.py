"""boto3 clients for client-side commands: endpoint and credentials resolved as the CLI promises."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from nimbus.config import DEFAULT_DATA_DIR, DEFAULT_PORT
from nimbus.credentials import read_stored_root


class UsageError(Exception):
    """A command-line mistake found before any request: ``main`` prints it on one line and exits 2."""


def endpoint_url(explicit: str | None) -> str:
    """--endpoint-url, else AWS_ENDPOINT_URL, else the local default; refused unless it is an http(s) URL."""
    url = explicit or os.environ.get("AWS_ENDPOINT_URL") or f"http://127.0.0.1:{DEFAULT_PORT}"
    source = "--endpoint-url" if explicit else "AWS_ENDPOINT_URL"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as e:
        raise UsageError(f"{source} {url!r} is not a URL ({e})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{source} {url!r} is not a URL: expected http://HOST:PORT, e.g. http://127.0.0.1:{DEFAULT_PORT}")
    return url


def region_from_env(explicit: str | None) -> str:
    """--region, else AWS_REGION / AWS_DEFAULT_REGION, else us-east-1 (profiles are for boto3 to read)."""
    return explicit or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def session(region: str | None = None) -> Any:
    import boto3

    sess = boto3.Session(region_name=region)
    if sess.get_credentials() is None:
        data_dir = Path(os.environ.get("NIMBUS_DATA_DIR", DEFAULT_DATA_DIR))
        root = read_stored_root(data_dir)
        if root is not None:
            sess = boto3.Session(
                aws_access_key_id=root.access_key_id,
                aws_secret_access_key=root.secret_access_key,
                region_name=region,
            )
    if sess.region_name is None:
        sess = boto3.Session(
            aws_access_key_id=(c := sess.get_credentials()) and c.access_key,
            aws_secret_access_key=c and c.secret_key,
            aws_session_token=c and c.token,
            region_name="us-east-1",
        )
    return sess


def client(service: str, args: Any) -> Any:
    return session(getattr(args, "region", None)).client(service, endpoint_url=endpoint_url(getattr(args, "endpoint_url", None)))
