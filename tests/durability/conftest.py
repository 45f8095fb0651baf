"""Fixtures of the kill -9 durability tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.durability.crashkit import Killer


@pytest.fixture
def killer(tmp_path: Path) -> Killer:
    return Killer(tmp_path)
