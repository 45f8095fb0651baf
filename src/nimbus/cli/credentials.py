"""``nimbus credentials``: export lines for the root credentials a local server stored."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from nimbus.cli.client import endpoint_url
from nimbus.config import DEFAULT_DATA_DIR
from nimbus.credentials import read_stored_root


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="the server's data directory (default ./.nimbus)")


def run(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir or os.environ.get("NIMBUS_DATA_DIR", DEFAULT_DATA_DIR))
    root = read_stored_root(data_dir)
    if root is None:
        print(f"nimbus: no credentials in {data_dir} (start `nimbus serve` there first)", file=sys.stderr)
        return 1
    print(f"export AWS_ENDPOINT_URL={endpoint_url(args.endpoint_url)}")
    print(f"export AWS_ACCESS_KEY_ID={root.access_key_id}")
    print(f"export AWS_SECRET_ACCESS_KEY={root.secret_access_key}")
    print(f"export AWS_DEFAULT_REGION={args.region or 'us-east-1'}")
    return 0
