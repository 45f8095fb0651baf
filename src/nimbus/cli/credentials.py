"""``nimbus credentials``: export lines for the root credentials a local server stored.

The output is meant for ``eval "$(nimbus credentials)"``: only ``export NAME=VALUE`` lines on stdout, each
value quoted for a POSIX shell; anything else goes to stderr.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from nimbus.cli.client import endpoint_url, region_from_env
from nimbus.config import DEFAULT_DATA_DIR
from nimbus.credentials import read_stored_root


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="the server's data directory (default: NIMBUS_DATA_DIR, else ./.nimbus)")


def run(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir or os.environ.get("NIMBUS_DATA_DIR", DEFAULT_DATA_DIR))
    root = read_stored_root(data_dir)
    if root is None:
        print(f"nimbus credentials: no credentials in {data_dir / 'credentials.json'}: run it where `nimbus serve` ran, or pass "
              "the server's --data-dir (a server given NIMBUS_ACCESS_KEY_ID/NIMBUS_SECRET_ACCESS_KEY stores none: "
              "export those as AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)", file=sys.stderr)
        return 1
    for name, value in (
        ("AWS_ENDPOINT_URL", endpoint_url(args.endpoint_url)),
        ("AWS_ACCESS_KEY_ID", root.access_key_id),
        ("AWS_SECRET_ACCESS_KEY", root.secret_access_key),
        ("AWS_DEFAULT_REGION", region_from_env(args.region)),
    ):
        print(f"export {name}={shlex.quote(value)}")
    return 0
