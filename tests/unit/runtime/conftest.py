"""Fixtures for runtime tests: real processes, a real Invoker, functions written to temp dirs."""

from __future__ import annotations

import asyncio
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nimbus.config import Settings
from nimbus.credentials import CredentialStore, Credentials
from nimbus.runtime import FunctionSpec, InMemoryLogSink, Invoker

ACCOUNT = "000000000000"
REGION = "us-east-2"
ENDPOINT = "http://127.0.0.1:4566"


class Harness:
    def __init__(self, tmp: Path, sandbox: str = "auto", **settings: Any) -> None:
        self.tmp = tmp
        self.loop = asyncio.new_event_loop()
        self.sink = InMemoryLogSink()
        self.creds = CredentialStore(Credentials("NKIAROOT", "rootsecret"), ACCOUNT)
        self.settings = Settings(data_dir=tmp / "data", sandbox=sandbox, **settings)
        self.invoker = self.run(self._make())

    async def _make(self) -> Invoker:
        return Invoker(
            endpoint_url=ENDPOINT, credentials_issuer=self.creds.issue, credentials_revoker=self.creds.revoke,
            log_sink=self.sink, settings=self.settings,
        )

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def function(self, source: str, *, name: str | None = None, runtime: str = "python3.12", handler: str = "lambda_function.lambda_handler",
                 filename: str = "lambda_function.py", timeout_s: float = 3.0, memory_mb: int = 128,
                 environment: dict[str, str] | None = None, config_key: str | None = None, reserved: int | None = None,
                 layers: tuple[Path, ...] = (), mode: int = 0o644) -> FunctionSpec:
        name = name or f"fn-{uuid.uuid4().hex[:8]}"
        code = self.tmp / "code" / name / (config_key or "v1")
        code.mkdir(parents=True, exist_ok=True)
        f = code / filename
        f.write_text(textwrap.dedent(source))
        f.chmod(mode)
        return FunctionSpec(
            function_name=name,
            function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}",
            version="$LATEST",
            runtime=runtime,
            handler=handler,
            code_dir=code,
            layer_dirs=layers,
            memory_mb=memory_mb,
            timeout_s=timeout_s,
            ephemeral_storage_mb=512,
            environment=environment or {},
            region=REGION,
            account_id=ACCOUNT,
            log_group=f"/aws/lambda/{name}",
            config_key=config_key or "v1",
            reserved_concurrency=reserved,
        )

    def invoke(self, spec: FunctionSpec, payload: bytes = b"{}", **kw: Any) -> Any:
        return self.run(self.invoker.invoke(spec, payload, **kw))

    def close(self) -> None:
        self.run(self.invoker.aclose())
        self.loop.close()


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    h = Harness(tmp_path_factory.mktemp("runtime"))
    yield h
    h.close()
