"""Shared fixtures of the Firehose integration tests: a module declares its own ``server`` (usually through
``module_server``, with the settings it needs) and gets ``fh`` and ``s3`` clients of it from here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import NimbusProcess


def module_server(tmp_path_factory: pytest.TempPathFactory, name: str, env: dict[str, str]) -> Iterator[NimbusProcess]:
    """A server for one test module (the generator behind its ``server`` fixture)."""
    p = NimbusProcess(tmp_path_factory.mktemp(name) / "data", env=env).start()
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture(scope="module")
def fh(server: NimbusProcess) -> Any:
    return server.client("firehose")


@pytest.fixture(scope="module")
def s3(server: NimbusProcess) -> Any:
    return server.client("s3")
