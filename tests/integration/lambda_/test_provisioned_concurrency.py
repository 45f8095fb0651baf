"""Provisioned concurrency: configurations through boto3, environments really started ahead of invocations
(the function reports ``AWS_LAMBDA_INITIALIZATION_TYPE`` and an id drawn at its init), kept across a restart."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess
from tests.integration.lambda_.functions import create

REPORT = """
import os, time
STARTED = time.time()  # module init: runs when the environment starts, before any invocation
ENV_ID = os.urandom(8).hex()  # which environment answered (process ids repeat across sandboxes' PID namespaces)

def handler(event, context):
    if event.get("die"):
        os._exit(3)
    return {"init": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"], "env": ENV_ID, "started": STARTED,
            "version": context.function_version}
"""

BROKEN_INIT = """
raise RuntimeError("no database")

def handler(event, context):
    return 1
"""


def _call(lam, name: str, qualifier: str | None = None) -> dict:
    kw = {"Qualifier": qualifier} if qualifier else {}
    out = lam.invoke(FunctionName=name, Payload=b"{}", **kw)
    assert "FunctionError" not in out, out
    return json.loads(out["Payload"].read())


def _wait_status(lam, name: str, qualifier: str, want: str, deadline_s: float = 60.0) -> dict:
    end = time.monotonic() + deadline_s
    while True:
        got = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier)
        if got["Status"] == want or time.monotonic() > end:
            assert got["Status"] == want, got
            return got
        time.sleep(0.1)


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


@pytest.fixture(scope="module")
def lam(nimbus_server: NimbusProcess):
    return nimbus_server.client("lambda")


def test_version_is_provisioned_and_serves_warm(lam) -> None:
    create(lam, "pc-fn", REPORT)
    lam.publish_version(FunctionName="pc-fn")
    put = lam.put_provisioned_concurrency_config(FunctionName="pc-fn", Qualifier="1", ProvisionedConcurrentExecutions=2)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert put["RequestedProvisionedConcurrentExecutions"] == 2
    assert put["Status"] in ("IN_PROGRESS", "READY")
    ready = _wait_status(lam, "pc-fn", "1", "READY")
    assert ready["AllocatedProvisionedConcurrentExecutions"] == 2
    assert ready["AvailableProvisionedConcurrentExecutions"] == 2
    asked = time.time()
    seen = [_call(lam, "pc-fn", "1") for _ in range(6)]
    assert {s["init"] for s in seen} == {"provisioned-concurrency"}
    assert {s["version"] for s in seen} == {"1"}
    assert len({s["env"] for s in seen}) <= 2  # served by the provisioned environments
    assert all(s["started"] < asked for s in seen)  # initialised before anyone asked
    # $LATEST is not provisioned: it starts on demand
    assert _call(lam, "pc-fn")["init"] == "on-demand"
    listed = lam.list_provisioned_concurrency_configs(FunctionName="pc-fn")["ProvisionedConcurrencyConfigs"]
    assert [c["FunctionArn"].rsplit(":", 1)[1] for c in listed] == ["1"]
    assert listed[0]["Status"] == "READY"
    # lowering the count keeps the configuration ready with fewer environments
    lam.put_provisioned_concurrency_config(FunctionName="pc-fn", Qualifier="1", ProvisionedConcurrentExecutions=1)
    assert _wait_status(lam, "pc-fn", "1", "READY")["AllocatedProvisionedConcurrentExecutions"] == 1
    # deleting it: new environments are on demand again
    lam.delete_provisioned_concurrency_config(FunctionName="pc-fn", Qualifier="1")
    with pytest.raises(ClientError) as e:
        lam.get_provisioned_concurrency_config(FunctionName="pc-fn", Qualifier="1")
    assert _code(e) == "ProvisionedConcurrencyConfigNotFoundException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert _call(lam, "pc-fn", "1")["init"] == "on-demand"
    assert lam.list_provisioned_concurrency_configs(FunctionName="pc-fn")["ProvisionedConcurrencyConfigs"] == []


def test_alias_follows_its_version(lam) -> None:
    create(lam, "pc-alias", REPORT)
    lam.publish_version(FunctionName="pc-alias")
    lam.update_function_configuration(FunctionName="pc-alias", Description="two")
    lam.publish_version(FunctionName="pc-alias")
    lam.create_alias(FunctionName="pc-alias", Name="live", FunctionVersion="1")
    lam.put_provisioned_concurrency_config(FunctionName="pc-alias", Qualifier="live", ProvisionedConcurrentExecutions=1)
    _wait_status(lam, "pc-alias", "live", "READY")
    got = _call(lam, "pc-alias", "live")
    assert (got["init"], got["version"]) == ("provisioned-concurrency", "1")
    # the version behind a provisioned alias cannot get its own configuration
    with pytest.raises(ClientError) as e:
        lam.put_provisioned_concurrency_config(FunctionName="pc-alias", Qualifier="1", ProvisionedConcurrentExecutions=1)
    assert _code(e) == "ResourceConflictException"
    lam.update_alias(FunctionName="pc-alias", Name="live", FunctionVersion="2")
    _wait_status(lam, "pc-alias", "live", "READY")
    got = _call(lam, "pc-alias", "live")
    assert (got["init"], got["version"]) == ("provisioned-concurrency", "2")
    assert _call(lam, "pc-alias", "1")["init"] == "on-demand"
    # deleting the alias deletes its configuration
    lam.delete_alias(FunctionName="pc-alias", Name="live")
    assert lam.list_provisioned_concurrency_configs(FunctionName="pc-alias")["ProvisionedConcurrencyConfigs"] == []


def test_errors(lam) -> None:
    create(lam, "pc-err", REPORT)
    lam.publish_version(FunctionName="pc-err")
    cases = [
        (dict(FunctionName="pc-err", Qualifier="$LATEST", ProvisionedConcurrentExecutions=1), "InvalidParameterValueException"),
        (dict(FunctionName="pc-err", Qualifier="7", ProvisionedConcurrentExecutions=1), "ResourceNotFoundException"),
        (dict(FunctionName="pc-err", Qualifier="nope", ProvisionedConcurrentExecutions=1), "ResourceNotFoundException"),
        (dict(FunctionName="pc-missing", Qualifier="1", ProvisionedConcurrentExecutions=1), "ResourceNotFoundException"),
        (dict(FunctionName="pc-err", Qualifier="1", ProvisionedConcurrentExecutions=5000), "InvalidParameterValueException"),
    ]
    for kwargs, code in cases:
        with pytest.raises(ClientError) as e:
            lam.put_provisioned_concurrency_config(**kwargs)
        assert _code(e) == code, (kwargs, e.value.response)
    assert lam.list_provisioned_concurrency_configs(FunctionName="pc-err")["ProvisionedConcurrencyConfigs"] == []
    # within the function's reserved concurrency, and the reservation cannot drop below it afterwards
    lam.put_function_concurrency(FunctionName="pc-err", ReservedConcurrentExecutions=2)
    with pytest.raises(ClientError) as e:
        lam.put_provisioned_concurrency_config(FunctionName="pc-err", Qualifier="1", ProvisionedConcurrentExecutions=3)
    assert _code(e) == "InvalidParameterValueException"
    lam.put_provisioned_concurrency_config(FunctionName="pc-err", Qualifier="1", ProvisionedConcurrentExecutions=2)
    with pytest.raises(ClientError) as e:
        lam.put_function_concurrency(FunctionName="pc-err", ReservedConcurrentExecutions=1)
    assert _code(e) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as e:
        lam.delete_provisioned_concurrency_config(FunctionName="pc-err", Qualifier="$LATEST")
    assert _code(e) == "ResourceNotFoundException"
    # a function whose init fails: FAILED, with the reason
    create(lam, "pc-broken", BROKEN_INIT)
    lam.publish_version(FunctionName="pc-broken")
    lam.put_provisioned_concurrency_config(FunctionName="pc-broken", Qualifier="1", ProvisionedConcurrentExecutions=1)
    failed = _wait_status(lam, "pc-broken", "1", "FAILED")
    assert "FUNCTION_ERROR_INIT_FAILURE" in failed["StatusReason"]
    assert failed["AllocatedProvisionedConcurrentExecutions"] == 0
    # deleting the function deletes its configurations
    lam.delete_function(FunctionName="pc-err")
    create(lam, "pc-err", REPORT)
    lam.publish_version(FunctionName="pc-err")
    with pytest.raises(ClientError) as e:
        lam.get_provisioned_concurrency_config(FunctionName="pc-err", Qualifier="1")
    assert _code(e) == "ProvisionedConcurrencyConfigNotFoundException"


def test_configuration_survives_restart_and_kill9_and_replaces_dead_environments(tmp_path: Path) -> None:
    server = NimbusProcess(tmp_path / "data", env={"NIMBUS_LAMBDA_IDLE_SECONDS": "2"}).start()
    try:
        lam = server.client("lambda")
        create(lam, "pc-keep", REPORT)
        lam.publish_version(FunctionName="pc-keep")
        lam.put_provisioned_concurrency_config(FunctionName="pc-keep", Qualifier="1", ProvisionedConcurrentExecutions=1)
        server.kill9()
        server.start()
        lam = server.client("lambda")
        ready = _wait_status(lam, "pc-keep", "1", "READY")
        assert ready["RequestedProvisionedConcurrentExecutions"] == 1
        assert ready["AllocatedProvisionedConcurrentExecutions"] == 1
        first = _call(lam, "pc-keep", "1")
        assert first["init"] == "provisioned-concurrency"
        # its process dies: the reaper starts another provisioned environment (idle ones are never reaped)
        out = lam.invoke(FunctionName="pc-keep", Qualifier="1", Payload=b'{"die": true}')
        assert out["FunctionError"] == "Unhandled"
        end = time.monotonic() + 60
        while True:
            got = lam.get_provisioned_concurrency_config(FunctionName="pc-keep", Qualifier="1")
            if got["AllocatedProvisionedConcurrentExecutions"] == 1 or time.monotonic() > end:
                break
            time.sleep(0.1)
        time.sleep(3)  # past the idle limit: a provisioned environment stays
        again = _call(lam, "pc-keep", "1")
        assert again["init"] == "provisioned-concurrency"
        assert again["env"] != first["env"]
        assert again["started"] == _call(lam, "pc-keep", "1")["started"]  # the same (kept) environment
    finally:
        server.stop()
