"""The AWS SDK for JavaScript v3 (pinned in tests/js/package.json) against a real server: S3 (with a
lib-storage multipart upload), Firehose, Kinesis (its client speaks HTTP/2 with prior knowledge, including
SubscribeToShard's event stream), Lambda and Logs, each call as a Node program makes it
(tests/js/smoke.mjs). The Makefile's ``test-deps`` installs the packages with npm (and Node with apt when it
is missing); without them the test is skipped, naming what is missing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ACCESS_KEY, SECRET_KEY, NimbusProcess

JS = Path(__file__).resolve().parents[2] / "js"
NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None or not (JS / "node_modules" / "@aws-sdk" / "client-kinesis").is_dir(),
                    reason="Node or tests/js/node_modules is missing (make test installs them)")
def test_javascript_sdk_v3(nimbus_server: NimbusProcess) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NIMBUS_"))}
    env.update(NIMBUS_ENDPOINT=nimbus_server.endpoint, NIMBUS_KEY=ACCESS_KEY, NIMBUS_SECRET=SECRET_KEY,
               AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE="1", NODE_NO_WARNINGS="1")
    cp = subprocess.run([NODE or "node", "smoke.mjs"], cwd=JS, env=env, capture_output=True, text=True, timeout=240)
    steps = [json.loads(line) for line in cp.stdout.splitlines() if line.startswith("{")]
    failed = [s for s in steps if not s["ok"]]
    assert not failed and cp.returncode == 0, f"{failed}\n{cp.stderr[-2000:]}"
    names = [s["step"] for s in steps]
    assert "kinesis.SubscribeToShard (event stream over HTTP/2)" in names and "sts.GetCallerIdentity" in names, names
    assert len(steps) == 29, names
