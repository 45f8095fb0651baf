"""What `nimbus serve` leaves out of its way to ready: the gateway (loaded by the first need, or in the
background), botocore's CRT signer, and the client commands' modules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from nimbus.config import Settings
from nimbus.server import build


def test_the_gateway_loads_on_first_need_and_then_serves_directly(tmp_path: Path) -> None:
    core = build(Settings(data_dir=tmp_path, access_key_id="AKIDLAZYGATEWAY0", secret_access_key="s" * 40))
    edge = core.app
    lazy = edge.gateway
    assert lazy.app is None  # built, not loaded
    assert any(app is lazy for _, app in edge.mounts)
    # the control plane's TestInvokeMethod asks for the runner with a default of None: the edge's provider wins
    tester = core.component("gateway.method-tester", lambda: None)
    assert callable(tester)
    assert lazy.app is not None and tester == lazy.app.test_invoke_method
    assert not any(app is lazy for _, app in edge.mounts)  # the gateway's own matcher took the proxy's place
    assert any(app is lazy.app for _, app in edge.mounts)
    assert edge.websocket_mount[1] is lazy.app
    scope = {"type": "http", "path": "/_aws/execute-api/abc123/prod/x"}
    assert lazy.app.claims(scope, {"host": "127.0.0.1:4566"})


def test_a_trigger_host_claims_through_the_proxy(tmp_path: Path) -> None:
    core = build(Settings(data_dir=tmp_path, access_key_id="AKIDLAZYGATEWAY0", secret_access_key="s" * 40))
    lazy = core.app.gateway
    assert lazy.claims({"type": "http", "path": "/"}, {"host": "abc123.execute-api.localhost:4566"})
    assert lazy.app is not None


def test_serve_loads_botocore_without_the_crt_signer() -> None:
    code = (
        "import sys\n"
        "from nimbus.cli.serve import load_botocore_without_crt_signer as load\n"
        "load()\n"
        "import botocore.compat\n"
        "assert botocore.compat.HAS_CRT is False\n"
        "assert 'awscrt.auth' not in sys.modules\n"
        "from nimbus.services.s3.checksums import new_hasher\n"
        "h = new_hasher('CRC32C'); h.update(b'123456789')\n"
        "assert h.digest().hex() == 'e3069283', h.digest().hex()\n"  # CRC-32C check value
        "import awscrt.auth\n"  # later imports of awscrt still work
        "from nimbus.cli.main import build_parser\n"
        "build_parser('serve')\n"
        "assert 'nimbus.cli.demo' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
