"""Shared fixtures of the Kinesis integration tests: each module gets its own server with the fast stream
states (a module that needs other settings defines ``server`` itself) and a ``k`` client of it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import NimbusProcess
from tests.integration.kinesis.helpers import FAST_ENV


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusProcess]:
    p = NimbusProcess(tmp_path_factory.mktemp("kinesis") / "data", env=FAST_ENV).start()
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture(scope="module")
def k(server: NimbusProcess) -> Any:
    return server.client("kinesis")
