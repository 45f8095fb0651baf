"""The logs client of the package's shared server, for every CloudWatch Logs test module."""

from __future__ import annotations

import pytest

from tests.conftest import NimbusProcess


@pytest.fixture(scope="module")
def logs(nimbus_server: NimbusProcess):
    return nimbus_server.client("logs")
