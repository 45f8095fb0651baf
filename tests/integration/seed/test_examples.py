"""examples/ticker-pipeline: its files match what ``nimbus demo`` deploys (and the tutorial), and build.sh
(AWS CLI calls only) builds and runs the pipeline against a test server, twice."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from nimbus.cli import demo
from tests.conftest import NimbusProcess
from tests.integration.seed._seed import EXAMPLE, SEED, tutorial_producer_code


def test_example_functions_are_the_demo_functions():
    assert (EXAMPLE / "hello" / "lambda_function.py").read_text() == demo.HELLO_CODE
    assert (EXAMPLE / "transform" / "lambda_function.py").read_text() == demo.TRANSFORM_CODE
    assert (EXAMPLE / "producer" / "lambda_function.py").read_text() == demo.PRODUCER_CODE


def test_example_producer_is_the_tutorials_code():
    assert (EXAMPLE / "producer" / "lambda_function.py").read_text(encoding="utf-8") == tutorial_producer_code(), SEED


def _build(server: NimbusProcess, build_dir: Path) -> subprocess.CompletedProcess[str]:
    env = server.aws_env("us-east-2")
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}", BUFFER_INTERVAL="0", REQUESTS="2",
               BUILD_DIR=str(build_dir))
    cp = subprocess.run(["bash", str(EXAMPLE / "build.sh")], env=env, capture_output=True, text=True, timeout=300)
    assert cp.returncode == 0, f"build.sh failed ({cp.returncode}):\n{cp.stdout}\n{cp.stderr}"
    return cp


def test_build_script_against_a_server(nimbus_server: NimbusProcess, tmp_path: Path):
    out = _build(nimbus_server, tmp_path / "build").stdout
    assert "3 of 3 records delivered" in out, out
    records = re.findall(r'^\{"ticker_symbol".*\}$', out, re.M)
    assert len(records) == 3 and all('"processed": true' in r for r in records), out
    assert re.search(r"^URL: http://127\.0\.0\.1:\d+/_aws/execute-api/\w+/default/ticker-producer$", out, re.M), out

    again = _build(nimbus_server, tmp_path / "build").stdout  # re-running updates and reuses
    assert "3 of 3 records delivered" in again, again
    apis = nimbus_server.client("apigateway", "us-east-2").get_rest_apis()["items"]
    assert [a["name"] for a in apis] == ["ticker-producer-API"]
    fns = sorted(f["FunctionName"] for f in nimbus_server.client("lambda", "us-east-2").list_functions()["Functions"])
    assert fns == ["ticker-producer", "ticker-transform"]
    # the console's default roles, through IAM (created once, reused on the second run), and the functions use them
    iam = nimbus_server.client("iam")
    roles = {r["RoleName"]: r for r in iam.list_roles()["Roles"] if r["RoleName"].startswith("ticker-pipeline-")}
    assert sorted(roles) == ["ticker-pipeline-firehose", "ticker-pipeline-lambda"]
    trust = roles["ticker-pipeline-lambda"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    attached = iam.list_attached_role_policies(RoleName="ticker-pipeline-lambda")["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AWSLambdaBasicExecutionRole"]
    assert iam.list_role_policies(RoleName="ticker-pipeline-firehose")["PolicyNames"] == ["ticker-pipeline-firehose-policy"]
    producer = nimbus_server.client("lambda", "us-east-2").get_function_configuration(FunctionName="ticker-producer")
    assert producer["Role"] == roles["ticker-pipeline-lambda"]["Arn"]
