"""Lambda control plane end to end with boto3 and the AWS CLI: functions, versions, aliases, policies,
concurrency, tags, layers, event-invoke configs, errors, and persistence across restart and kill -9."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import urllib.request
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess
from tests.integration.lambda_.functions import ECHO, ROLE, create, make_zip, py_zip


@pytest.fixture(scope="module")
def lam(nimbus_server: NimbusProcess):
    return nimbus_server.client("lambda")


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


def test_create_returns_aws_configuration(lam) -> None:
    data = py_zip(ECHO)
    out = lam.create_function(FunctionName="cp-create", Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": data})
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert out["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:cp-create"
    assert out["CodeSha256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert out["CodeSize"] == len(data)
    assert out["Timeout"] == 3 and out["MemorySize"] == 128
    assert out["EphemeralStorage"] == {"Size": 512}
    assert out["Architectures"] == ["x86_64"] and out["PackageType"] == "Zip"
    assert out["Version"] == "$LATEST" and out["State"] == "Pending"
    assert out["TracingConfig"] == {"Mode": "PassThrough"}
    assert out["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/cp-create"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", out["LastModified"])
    lam.get_waiter("function_active_v2").wait(FunctionName="cp-create", WaiterConfig={"Delay": 1, "MaxAttempts": 3})
    got = lam.get_function(FunctionName="cp-create")
    assert got["Configuration"]["State"] == "Active"
    assert got["Configuration"]["LastUpdateStatus"] == "Successful"
    assert got["Code"]["RepositoryType"] == "S3"
    with urllib.request.urlopen(got["Code"]["Location"]) as r:
        assert r.read() == data
    # a tampered URL is refused
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(got["Code"]["Location"].replace("Signature=", "Signature=0"))
    assert e.value.code == 403


def test_names_partial_arns_and_qualifiers(lam) -> None:
    create(lam, "cp-names")
    for ref in ("cp-names", "000000000000:function:cp-names", "arn:aws:lambda:us-east-1:000000000000:function:cp-names"):
        assert lam.get_function_configuration(FunctionName=ref)["FunctionName"] == "cp-names"
    assert lam.get_function_configuration(FunctionName="cp-names:$LATEST")["Version"] == "$LATEST"
    with pytest.raises(ClientError) as e:
        lam.get_function_configuration(FunctionName="cp-names:1", Qualifier="2")
    assert code_of(e) == "InvalidParameterValueException"


def test_errors(lam) -> None:
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName="cp-missing")
    assert code_of(e) == "ResourceNotFoundException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert e.value.response["Error"]["Message"] == "Function not found: arn:aws:lambda:us-east-1:000000000000:function:cp-missing"
    create(lam, "cp-dup")
    with pytest.raises(ClientError) as e:
        create(lam, "cp-dup")
    assert code_of(e) == "ResourceConflictException"
    assert e.value.response["Error"]["Message"] == "Function already exist: cp-dup"
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="cp-badzip", Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": b"not a zip"})
    assert code_of(e) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName="cp-badzip")
    assert code_of(e) == "ResourceNotFoundException"  # nothing stored
    with pytest.raises(ClientError) as e:
        create(lam, "cp-timeout", Timeout=901)
    assert code_of(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        create(lam, "cp-env", Environment={"Variables": {"AWS_REGION": "x"}})
    assert code_of(e) == "InvalidParameterValueException" and "AWS_REGION" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        create(lam, "cp-rt", runtime="java21")  # not a runtime Nimbus runs
    assert code_of(e) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="bad name!", Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": py_zip(ECHO)})
    assert code_of(e) in ("ValidationException", "InvalidParameterValueException")


def test_update_list_delete(lam) -> None:
    create(lam, "cp-upd")
    before = lam.get_function_configuration(FunctionName="cp-upd")
    out = lam.update_function_configuration(
        FunctionName="cp-upd", Timeout=10, MemorySize=256, Environment={"Variables": {"STAGE": "dev"}}, Description="d"
    )
    assert out["Timeout"] == 10 and out["MemorySize"] == 256 and out["Environment"] == {"Variables": {"STAGE": "dev"}}
    assert out["RevisionId"] != before["RevisionId"]
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName="cp-upd", Timeout=5, RevisionId=before["RevisionId"])
    assert code_of(e) == "PreconditionFailedException"
    new = py_zip("def handler(e, c):\n    return 2\n")
    out = lam.update_function_code(FunctionName="cp-upd", ZipFile=new)
    assert out["CodeSha256"] == base64.b64encode(hashlib.sha256(new).digest()).decode()
    lam.get_waiter("function_updated_v2").wait(FunctionName="cp-upd", WaiterConfig={"Delay": 1, "MaxAttempts": 3})
    names = [f["FunctionName"] for p in lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2}) for f in p["Functions"]]
    assert "cp-upd" in names and len(names) == len(set(names))
    lam.delete_function(FunctionName="cp-upd")
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName="cp-upd")
    assert code_of(e) == "ResourceNotFoundException"


def test_versions_and_aliases(lam) -> None:
    create(lam, "cp-ver")
    v1 = lam.publish_version(FunctionName="cp-ver", Description="first")
    assert v1["Version"] == "1" and v1["FunctionArn"].endswith(":cp-ver:1")
    assert lam.publish_version(FunctionName="cp-ver")["Version"] == "1"  # nothing changed
    lam.update_function_code(FunctionName="cp-ver", ZipFile=py_zip("def handler(e, c):\n    return 'v2'\n"))
    v2 = lam.update_function_code(FunctionName="cp-ver", ZipFile=py_zip("def handler(e, c):\n    return 'v2b'\n"), Publish=True)
    assert v2["Version"] == "2"
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName="cp-ver")["Versions"]]
    assert versions == ["$LATEST", "1", "2"]
    alias = lam.create_alias(FunctionName="cp-ver", Name="live", FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"2": 0.25}})
    assert alias["AliasArn"].endswith(":cp-ver:live")
    assert lam.get_alias(FunctionName="cp-ver", Name="live")["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.25}}
    with pytest.raises(ClientError) as e:
        lam.create_alias(FunctionName="cp-ver", Name="live", FunctionVersion="1")
    assert code_of(e) == "ResourceConflictException"
    with pytest.raises(ClientError) as e:
        lam.create_alias(FunctionName="cp-ver", Name="x", FunctionVersion="9")
    assert code_of(e) == "ResourceNotFoundException"
    assert lam.update_alias(FunctionName="cp-ver", Name="live", FunctionVersion="2", RoutingConfig={"AdditionalVersionWeights": {}})["FunctionVersion"] == "2"
    assert lam.get_function_configuration(FunctionName="cp-ver", Qualifier="live")["Version"] == "2"
    assert [a["Name"] for a in lam.list_aliases(FunctionName="cp-ver")["Aliases"]] == ["live"]
    with pytest.raises(ClientError) as e:
        lam.delete_function(FunctionName="cp-ver", Qualifier="2")
    assert code_of(e) == "ResourceConflictException"
    lam.delete_function(FunctionName="cp-ver", Qualifier="1")
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName="cp-ver")["Versions"]] == ["$LATEST", "2"]
    lam.delete_alias(FunctionName="cp-ver", Name="live")
    assert lam.list_aliases(FunctionName="cp-ver")["Aliases"] == []


def test_policy_concurrency_tags_event_config(lam) -> None:
    arn = create(lam, "cp-misc")["FunctionArn"]
    stmt = json.loads(lam.add_permission(FunctionName="cp-misc", StatementId="s3", Action="lambda:InvokeFunction", Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::bkt")["Statement"])
    assert stmt["Principal"] == {"Service": "s3.amazonaws.com"} and stmt["Condition"]["ArnLike"]["AWS:SourceArn"] == "arn:aws:s3:::bkt"
    with pytest.raises(ClientError) as e:
        lam.add_permission(FunctionName="cp-misc", StatementId="s3", Action="lambda:InvokeFunction", Principal="s3.amazonaws.com")
    assert code_of(e) == "ResourceConflictException"
    policy = json.loads(lam.get_policy(FunctionName="cp-misc")["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["s3"]
    lam.remove_permission(FunctionName="cp-misc", StatementId="s3")
    with pytest.raises(ClientError) as e:
        lam.get_policy(FunctionName="cp-misc")
    assert code_of(e) == "ResourceNotFoundException"

    assert lam.put_function_concurrency(FunctionName="cp-misc", ReservedConcurrentExecutions=3)["ReservedConcurrentExecutions"] == 3
    assert lam.get_function_concurrency(FunctionName="cp-misc")["ReservedConcurrentExecutions"] == 3
    assert lam.get_function(FunctionName="cp-misc")["Concurrency"] == {"ReservedConcurrentExecutions": 3}
    settings = lam.get_account_settings()
    assert settings["AccountLimit"]["UnreservedConcurrentExecutions"] <= settings["AccountLimit"]["ConcurrentExecutions"] - 3
    lam.delete_function_concurrency(FunctionName="cp-misc")
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName="cp-misc")

    lam.tag_resource(Resource=arn, Tags={"team": "a", "env": "b"})
    lam.untag_resource(Resource=arn, TagKeys=["env"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "a"}

    dest = "arn:aws:lambda:us-east-1:000000000000:function:cp-dest"
    out = lam.put_function_event_invoke_config(FunctionName="cp-misc", MaximumRetryAttempts=0, MaximumEventAgeInSeconds=60, DestinationConfig={"OnFailure": {"Destination": dest}})
    assert out["FunctionArn"].endswith(":cp-misc:$LATEST") and out["MaximumRetryAttempts"] == 0
    got = lam.get_function_event_invoke_config(FunctionName="cp-misc")
    assert got["DestinationConfig"]["OnFailure"]["Destination"] == dest
    lam.delete_function_event_invoke_config(FunctionName="cp-misc")
    with pytest.raises(ClientError) as e:
        lam.get_function_event_invoke_config(FunctionName="cp-misc")
    assert code_of(e) == "ResourceNotFoundException"


def test_layers(lam) -> None:
    content = make_zip({"python/layermod.py": "VALUE = 42\n"})
    v1 = lam.publish_layer_version(LayerName="cp-layer", Content={"ZipFile": content}, CompatibleRuntimes=["python3.12"])
    assert v1["LayerVersionArn"] == "arn:aws:lambda:us-east-1:000000000000:layer:cp-layer:1"
    assert v1["Content"]["CodeSize"] == len(content)
    v2 = lam.publish_layer_version(LayerName="cp-layer", Content={"ZipFile": content})
    assert v2["Version"] == 2
    assert [v["Version"] for v in lam.list_layer_versions(LayerName="cp-layer")["LayerVersions"]] == [2, 1]
    assert any(la["LayerName"] == "cp-layer" and la["LatestMatchingVersion"]["Version"] == 2 for la in lam.list_layers()["Layers"])
    got = lam.get_layer_version(LayerName="cp-layer", VersionNumber=1)
    with urllib.request.urlopen(got["Content"]["Location"]) as r:
        assert r.read() == content
    out = create(lam, "cp-with-layer", Layers=[v1["LayerVersionArn"]])
    assert out["Layers"] == [{"Arn": v1["LayerVersionArn"], "CodeSize": len(content)}]
    lam.delete_layer_version(LayerName="cp-layer", VersionNumber=2)
    with pytest.raises(ClientError) as e:
        lam.get_layer_version(LayerName="cp-layer", VersionNumber=2)
    assert code_of(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        create(lam, "cp-bad-layer", Layers=[v2["LayerVersionArn"]])
    assert code_of(e) == "InvalidParameterValueException"


def test_aws_cli_control_plane(nimbus_server: NimbusProcess, tmp_path: Path) -> None:
    zf = tmp_path / "fn.zip"
    zf.write_bytes(py_zip(ECHO))
    out = json.loads(
        nimbus_server.aws(
            "lambda", "create-function", "--function-name", "cp-cli", "--runtime", "python3.12", "--role", ROLE,
            "--handler", "app.handler", "--zip-file", f"fileb://{zf}",
        ).stdout
    )
    assert out["FunctionName"] == "cp-cli"
    nimbus_server.aws("lambda", "wait", "function-active-v2", "--function-name", "cp-cli")
    cfg = json.loads(nimbus_server.aws("lambda", "get-function-configuration", "--function-name", "cp-cli").stdout)
    assert cfg["Handler"] == "app.handler"
    listed = json.loads(nimbus_server.aws("lambda", "list-functions").stdout)
    assert "cp-cli" in [f["FunctionName"] for f in listed["Functions"]]
    cp = nimbus_server.aws("lambda", "get-function", "--function-name", "cp-cli-missing", check=False)
    assert cp.returncode != 0 and "ResourceNotFoundException" in cp.stderr
    nimbus_server.aws("lambda", "delete-function", "--function-name", "cp-cli")


def test_persistence_restart_and_kill9(tmp_path: Path) -> None:
    server = NimbusProcess(tmp_path / "data").start()
    try:
        lam = server.client("lambda")
        data = py_zip(ECHO)
        create(lam, "persist-a")
        lam.publish_version(FunctionName="persist-a")
        lam.create_alias(FunctionName="persist-a", Name="prod", FunctionVersion="1")
        layer = lam.publish_layer_version(LayerName="persist-layer", Content={"ZipFile": data})
        server.restart()
        lam = server.client("lambda")
        assert lam.get_alias(FunctionName="persist-a", Name="prod")["FunctionVersion"] == "1"
        loc = lam.get_function(FunctionName="persist-a")["Code"]["Location"]
        with urllib.request.urlopen(loc) as r:
            assert r.read() == data
        assert lam.get_layer_version_by_arn(Arn=layer["LayerVersionArn"])["Version"] == 1
        # an acknowledged CreateFunction survives kill -9 right after its answer
        out = create(lam, "persist-b", "def handler(e, c):\n    return 'b'\n")
        server.kill9()
        server.start()
        lam = server.client("lambda")
        got = lam.get_function(FunctionName="persist-b")
        assert got["Configuration"]["CodeSha256"] == out["CodeSha256"]
        with urllib.request.urlopen(got["Code"]["Location"]) as r:
            assert hashlib.sha256(r.read()).digest() == base64.b64decode(out["CodeSha256"])
    finally:
        server.stop()
