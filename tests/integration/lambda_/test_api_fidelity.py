"""Lambda API details checked against botocore's model and AWS's API reference, end to end with boto3:
UpdateFunctionCode DryRun, ListFunctions pages and fields, Invoke's not-found wording, and what
follows an oversized response."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess
from tests.integration.lambda_.functions import create, py_zip

ARN = "arn:aws:lambda:us-east-1:000000000000:function:"


@pytest.fixture(scope="module")
def lam(nimbus_server: NimbusProcess):
    return nimbus_server.client("lambda")


def returns(value: str) -> str:
    return f"def handler(event, context):\n    return {value!r}\n"


def test_update_code_dry_run_validates_and_changes_nothing(lam) -> None:
    create(lam, "fx-dry", returns("old"))
    before = lam.get_function_configuration(FunctionName="fx-dry")
    new = py_zip(returns("new"))
    out = lam.update_function_code(FunctionName="fx-dry", ZipFile=new, DryRun=True)
    assert out["CodeSha256"] == base64.b64encode(hashlib.sha256(new).digest()).decode()
    after = lam.get_function_configuration(FunctionName="fx-dry")
    assert (after["CodeSha256"], after["RevisionId"], after["LastModified"]) == (
        before["CodeSha256"],
        before["RevisionId"],
        before["LastModified"],
    )
    assert json.loads(lam.invoke(FunctionName="fx-dry")["Payload"].read()) == "old"
    with pytest.raises(ClientError) as e:
        lam.update_function_code(FunctionName="fx-dry", ZipFile=b"not a zip", DryRun=True)
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as e:
        lam.update_function_code(FunctionName="fx-dry", ZipFile=new, DryRun=True, RevisionId="stale")
    assert e.value.response["Error"]["Code"] == "PreconditionFailedException"


def test_list_functions_all_versions_pages_by_item(lam) -> None:
    create(lam, "fx-versions", returns("v0"))
    for n in (1, 2, 3):
        lam.update_function_code(FunctionName="fx-versions", ZipFile=py_zip(returns(f"v{n}")), Publish=True)
    pages = list(lam.get_paginator("list_functions").paginate(FunctionVersion="ALL", PaginationConfig={"PageSize": 2}))
    assert all(len(p["Functions"]) <= 2 for p in pages)
    seen = [(f["FunctionName"], f["Version"]) for p in pages for f in p["Functions"]]
    assert len(seen) == len(set(seen))
    assert [v for name, v in seen if name == "fx-versions"] == ["$LATEST", "1", "2", "3"]
    first = lam.list_functions(FunctionVersion="ALL", MaxItems=1)
    assert len(first["Functions"]) == 1 and first["NextMarker"]


def test_list_functions_omits_state_fields(lam) -> None:
    create(lam, "fx-listed")
    got = lam.get_function_configuration(FunctionName="fx-listed")
    assert got["State"] == "Active" and got["LastUpdateStatus"] == "Successful"
    listed = [f for p in lam.get_paginator("list_functions").paginate() for f in p["Functions"] if f["FunctionName"] == "fx-listed"]
    assert len(listed) == 1
    # API_ListFunctions: "returns a subset of the FunctionConfiguration fields"; these need GetFunction
    for field in ("State", "StateReason", "StateReasonCode", "LastUpdateStatus", "LastUpdateStatusReason", "LastUpdateStatusReasonCode"):
        assert field not in listed[0]
    assert listed[0]["FunctionArn"] == got["FunctionArn"] and listed[0]["CodeSha256"] == got["CodeSha256"]


def test_invoke_missing_function_names_the_arn_used(lam) -> None:
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="fx-missing", Payload=b"{}")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert e.value.response["Error"]["Message"] == f"Function not found: {ARN}fx-missing"
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="fx-missing", Qualifier="3", Payload=b"{}")
    assert e.value.response["Error"]["Message"] == f"Function not found: {ARN}fx-missing:3"
    create(lam, "fx-present")
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="fx-present", Qualifier="7", Payload=b"{}")
    assert e.value.response["Error"]["Message"] == f"Function not found: {ARN}fx-present:7"


BIG = """
def handler(event, context):
    if event.get("big"):
        return "y" * event["big"]
    return "small"
"""


def test_invoke_after_an_oversized_response_runs_normally(lam) -> None:
    create(lam, "fx-big", BIG)
    out = lam.invoke(FunctionName="fx-big", Payload=json.dumps({"big": 6 * 1024 * 1024 + 100}).encode())
    assert out["StatusCode"] == 200 and out["FunctionError"] == "Unhandled"
    assert json.loads(out["Payload"].read())["errorType"] == "Function.ResponseSizeTooLarge"
    # the runtime gave up on the 413 its response got; the next call must not inherit that environment
    for _ in range(3):
        out = lam.invoke(FunctionName="fx-big", Payload=b"{}")
        assert "FunctionError" not in out, out["Payload"].read()
        assert json.loads(out["Payload"].read()) == "small"


def test_read_only_settings_terraform_reads(lam) -> None:
    """Terraform's aws_lambda_function reads GetFunctionCodeSigningConfig after every create; these
    report the only settings Nimbus has (no code signing, recursion detection on, automatic runtime
    updates, no provisioned concurrency)."""
    create(lam, "fx-settings")
    csc = lam.get_function_code_signing_config(FunctionName="fx-settings")
    assert csc["FunctionName"] == "fx-settings" and csc["CodeSigningConfigArn"] == ""
    assert lam.get_function_recursion_config(FunctionName="fx-settings")["RecursiveLoop"] == "Terminate"
    rt = lam.get_runtime_management_config(FunctionName=f"{ARN}fx-settings")
    assert rt["UpdateRuntimeOn"] == "Auto" and rt["FunctionArn"] == f"{ARN}fx-settings"
    assert lam.list_provisioned_concurrency_configs(FunctionName="fx-settings")["ProvisionedConcurrencyConfigs"] == []
    for call in (
        lam.get_function_code_signing_config,
        lam.get_function_recursion_config,
        lam.get_runtime_management_config,
        lam.list_provisioned_concurrency_configs,
    ):
        with pytest.raises(ClientError) as e:
            call(FunctionName="fx-missing")
        assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_recursion_and_runtime_management_are_recorded(lam) -> None:
    """Put and read back (Nimbus detects no recursive loops and has one runtime version per runtime)."""
    create(lam, "fx-recorded")
    assert lam.put_function_recursion_config(FunctionName="fx-recorded", RecursiveLoop="Allow")["RecursiveLoop"] == "Allow"
    assert lam.get_function_recursion_config(FunctionName="fx-recorded")["RecursiveLoop"] == "Allow"
    rv = "arn:aws:lambda:us-east-1::runtime:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    put = lam.put_runtime_management_config(FunctionName="fx-recorded", UpdateRuntimeOn="Manual", RuntimeVersionArn=rv)
    assert (put["UpdateRuntimeOn"], put["RuntimeVersionArn"]) == ("Manual", rv)
    got = lam.get_runtime_management_config(FunctionName="fx-recorded")
    assert (got["UpdateRuntimeOn"], got["RuntimeVersionArn"], got["FunctionArn"]) == ("Manual", rv, f"{ARN}fx-recorded")
    lam.publish_version(FunctionName="fx-recorded")
    assert lam.get_runtime_management_config(FunctionName="fx-recorded", Qualifier="1")["UpdateRuntimeOn"] == "Auto"
    for kwargs in ({"UpdateRuntimeOn": "Manual"}, {"UpdateRuntimeOn": "Auto", "RuntimeVersionArn": rv}):
        with pytest.raises(ClientError) as e:
            lam.put_runtime_management_config(FunctionName="fx-recorded", **kwargs)
        assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as e:
        lam.put_function_recursion_config(FunctionName="fx-missing", RecursiveLoop="Allow")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_an_environment_variable_key_outside_the_pattern_is_worded_as_aws_does(lam) -> None:
    """AWS reports a bad key as the map's failure, without the (sensitive) variables themselves."""
    with pytest.raises(ClientError) as e:
        create(lam, "fx-env", returns("x"), Environment={"Variables": {"1BAD": "secret-value", "GOOD": "x"}})
    err = e.value.response["Error"]
    assert err["Code"] in ("ValidationException", "InvalidParameterValueException")
    assert err["Message"] == (
        "1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: "
        "Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]"
    )
    assert "secret-value" not in str(e.value.response)


def test_the_newest_runtimes_run_on_the_nearest_interpreter(lam) -> None:
    """python3.14 / python3.15 (in the model) run on the nearest installed Python, and say so."""
    for runtime in ("python3.14", "python3.15"):
        name = f"fx-{runtime.replace('.', '-')}"
        create(lam, name, "import sys\ndef handler(e, c):\n    return list(sys.version_info[:2])\n", runtime=runtime)
        out = lam.invoke(FunctionName=name, Payload=b"{}")
        assert "FunctionError" not in out, out["Payload"].read()
        assert json.loads(out["Payload"].read())[0] == 3
        cfg = lam.get_function_configuration(FunctionName=name)
        assert cfg["Runtime"] == runtime and "running on Python 3." in cfg.get("StateReason", "")


def test_layer_version_permissions(lam) -> None:
    layer = lam.publish_layer_version(LayerName="fx-shared", Content={"ZipFile": py_zip("X = 1\n")})
    version = layer["Version"]
    with pytest.raises(ClientError) as e:
        lam.get_layer_version_policy(LayerName="fx-shared", VersionNumber=version)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    out = lam.add_layer_version_permission(LayerName="fx-shared", VersionNumber=version, StatementId="everyone",
                                           Action="lambda:GetLayerVersion", Principal="*")
    assert json.loads(out["Statement"]) == {"Sid": "everyone", "Effect": "Allow", "Principal": "*", "Action": "lambda:GetLayerVersion",
                                            "Resource": layer["LayerVersionArn"]}
    lam.add_layer_version_permission(LayerName="fx-shared", VersionNumber=version, StatementId="acct", Action="lambda:GetLayerVersion",
                                     Principal="123456789012", RevisionId=out["RevisionId"])
    policy = lam.get_layer_version_policy(LayerName="fx-shared", VersionNumber=version)
    statements = json.loads(policy["Policy"])["Statement"]
    assert [s["Sid"] for s in statements] == ["everyone", "acct"]
    assert statements[1]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    for kwargs, code in (
        ({"StatementId": "acct", "Action": "lambda:GetLayerVersion", "Principal": "*"}, "ResourceConflictException"),
        ({"StatementId": "new", "Action": "lambda:GetLayerVersion", "Principal": "*", "RevisionId": out["RevisionId"]}, "PreconditionFailedException"),
    ):
        with pytest.raises(ClientError) as e:
            lam.add_layer_version_permission(LayerName="fx-shared", VersionNumber=version, **kwargs)
        assert e.value.response["Error"]["Code"] == code
    lam.remove_layer_version_permission(LayerName="fx-shared", VersionNumber=version, StatementId="everyone")
    with pytest.raises(ClientError) as e:
        lam.remove_layer_version_permission(LayerName="fx-shared", VersionNumber=version, StatementId="everyone")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert "Policy" not in json.dumps(lam.get_layer_version(LayerName="fx-shared", VersionNumber=version), default=str)


def test_code_signing_configs_are_recorded(lam) -> None:
    create(lam, "fx-signed")
    cfg = lam.create_code_signing_config(Description="team",
                                         AllowedPublishers={"SigningProfileVersionArns": ["arn:aws:signer:us-east-1:000000000000:/signing-profiles/p/abc"]},
                                         CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Enforce"})["CodeSigningConfig"]
    arn = cfg["CodeSigningConfigArn"]
    assert cfg["CodeSigningConfigId"].startswith("csc-") and arn.endswith(cfg["CodeSigningConfigId"])
    assert lam.get_code_signing_config(CodeSigningConfigArn=arn)["CodeSigningConfig"]["Description"] == "team"
    assert lam.update_code_signing_config(CodeSigningConfigArn=arn, Description="other")["CodeSigningConfig"]["Description"] == "other"
    assert arn in [c["CodeSigningConfigArn"] for c in lam.list_code_signing_configs()["CodeSigningConfigs"]]
    lam.put_function_code_signing_config(CodeSigningConfigArn=arn, FunctionName="fx-signed")
    assert lam.get_function_code_signing_config(FunctionName="fx-signed")["CodeSigningConfigArn"] == arn
    assert lam.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)["FunctionArns"] == [f"{ARN}fx-signed"]
    with pytest.raises(ClientError) as e:
        lam.delete_code_signing_config(CodeSigningConfigArn=arn)
    assert e.value.response["Error"]["Code"] == "ResourceConflictException"
    lam.delete_function_code_signing_config(FunctionName="fx-signed")
    assert lam.get_function_code_signing_config(FunctionName="fx-signed")["CodeSigningConfigArn"] == ""
    lam.delete_code_signing_config(CodeSigningConfigArn=arn)
    with pytest.raises(ClientError) as e:
        lam.get_code_signing_config(CodeSigningConfigArn=arn)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
