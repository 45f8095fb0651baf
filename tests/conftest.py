"""Shared fixtures: a real ``nimbus serve`` process on a free port with a temporary data dir.

``nimbus_server`` is module-scoped (one server per test module); ``NimbusProcess`` can also be used
directly for restart and kill -9 scenarios.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
ACCESS_KEY = "NKIATESTACCESSKEY001"
SECRET_KEY = "test-secret-key-for-nimbus-tests-000000"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NimbusProcess:
    def __init__(self, data_dir: Path, port: int | None = None, extra_args: list[str] | None = None, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.extra_args = extra_args or []
        self.env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"server-{self.port}.log"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> "NimbusProcess":
        env = dict(os.environ)
        for k in list(env):
            if k.startswith(("AWS_", "NIMBUS_")):
                env.pop(k)
        env.update(
            {
                "NIMBUS_ACCESS_KEY_ID": ACCESS_KEY,
                "NIMBUS_SECRET_ACCESS_KEY": SECRET_KEY,
                "NIMBUS_LOG_LEVEL": "info",
            }
        )
        env.update(self.env)
        cmd = [sys.executable, "-m", "nimbus", "serve", "--port", str(self.port), "--data-dir", str(self.data_dir), *self.extra_args]
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=str(self.data_dir.parent))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nimbus exited with {self.proc.returncode}:\n{self.log_path.read_text()[-4000:]}")
            try:
                with urllib.request.urlopen(self.endpoint + "/_nimbus/health", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nimbus did not become healthy:\n{self.log_path.read_text()[-4000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        self.proc = None
        self._log.close()
        return rc

    def kill9(self) -> None:
        self.stop(signal.SIGKILL)

    def restart(self) -> "NimbusProcess":
        self.stop()
        return self.start()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def client(self, service: str, region: str = "us-east-1", **kw: Any) -> Any:
        import boto3
        from botocore.config import Config

        cfg = kw.pop("config", None) or Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=120)
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=self.endpoint,
            aws_access_key_id=kw.pop("access_key", ACCESS_KEY),
            aws_secret_access_key=kw.pop("secret_key", SECRET_KEY),
            config=cfg,
            **kw,
        )

    def aws_env(self, region: str = "us-east-1") -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NIMBUS_"))}
        env.update(
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_ACCESS_KEY_ID=ACCESS_KEY,
            AWS_SECRET_ACCESS_KEY=SECRET_KEY,
            AWS_DEFAULT_REGION=region,
            AWS_PAGER="",
        )
        return env

    def aws(self, *args: str, region: str = "us-east-1", check: bool = True, input: bytes | None = None) -> subprocess.CompletedProcess[str]:
        """Run the AWS CLI (v1, installed in the venv) against this server."""
        aws = Path(sys.executable).parent / "aws"
        cp = subprocess.run([str(aws), *args], env=self.aws_env(region), capture_output=True, text=True, timeout=300, input=input)
        if check and cp.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed ({cp.returncode}):\n{cp.stdout}\n{cp.stderr}")
        return cp

    def get_json(self, path: str) -> Any:
        with urllib.request.urlopen(self.endpoint + path, timeout=10) as r:
            return json.loads(r.read())


@pytest.fixture(scope="module")
def nimbus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusProcess]:
    base = tmp_path_factory.mktemp("nimbus")
    server = NimbusProcess(base / "data").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def fresh_server(tmp_path: Path) -> Iterator[NimbusProcess]:
    server = NimbusProcess(tmp_path / "data").start()
    try:
        yield server
    finally:
        server.stop()
