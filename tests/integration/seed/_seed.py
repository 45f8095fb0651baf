"""Shared bits of the seed-tutorial tests: where the tutorial is, its producer code, polling the bucket."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

# The seed sits beside the repository (../shared/seeds/ from the repo root); a clean clone may lack it.
SEED = ROOT.parent / "shared" / "seeds" / "aws-lambda-kinesis-tutorial.md"
EXAMPLE = ROOT / "examples" / "ticker-pipeline"


def tutorial_producer_code() -> str:
    """The tutorial's producer function, byte for byte as printed in the seed (the code block that calls put_record)."""
    if not SEED.exists():
        pytest.skip(f"the seed tutorial is not at {SEED} (it lives in ../shared beside the repo); skipping")
    text = SEED.read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"^```[^\n]*\n(.*?)^```", text, re.S | re.M) if "put_record" in b]
    assert len(blocks) == 1, f"expected one code block calling put_record in {SEED}, found {len(blocks)}"
    return blocks[0]


def wait_for_records(s3: Any, bucket: str, want: int, timeout: float = 90.0) -> dict[str, list[str]]:
    """Key → non-empty lines of every object in the bucket, once they hold at least ``want`` lines."""
    deadline = time.monotonic() + timeout
    while True:
        objects: dict[str, list[str]] = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode()
                objects[obj["Key"]] = [line for line in body.splitlines() if line.strip()]
        if sum(len(v) for v in objects.values()) >= want or time.monotonic() > deadline:
            return objects
        time.sleep(0.25)
