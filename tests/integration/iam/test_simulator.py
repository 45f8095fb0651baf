"""The IAM policy simulator (SimulateCustomPolicy, SimulatePrincipalPolicy): the decisions `--iam enforce`
makes, asked without making the calls; against a server that does not enforce IAM."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess

ACCOUNT = "000000000000"


def _doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


READ_B = {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]}
NO_DELETE_IN_EU = {"Effect": "Deny", "Action": "s3:*", "Resource": "*", "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}}


@pytest.fixture(scope="module")
def iam(nimbus_server: NimbusProcess):
    return nimbus_server.client("iam")


def _decisions(out: dict) -> list[tuple[str, str, str]]:
    return [(r["EvalActionName"], r["EvalResourceName"], r["EvalDecision"]) for r in out["EvaluationResults"]]


def test_custom_policy(iam) -> None:
    out = iam.simulate_custom_policy(
        PolicyInputList=[_doc(READ_B, NO_DELETE_IN_EU)], ActionNames=["s3:GetObject", "s3:PutObject"],
        ResourceArns=["arn:aws:s3:::b/k", "arn:aws:s3:::c/k"],
    )
    assert _decisions(out) == [
        ("s3:GetObject", "arn:aws:s3:::b/k", "allowed"), ("s3:GetObject", "arn:aws:s3:::c/k", "implicitDeny"),
        ("s3:PutObject", "arn:aws:s3:::b/k", "implicitDeny"), ("s3:PutObject", "arn:aws:s3:::c/k", "implicitDeny"),
    ]
    first = out["EvaluationResults"][0]
    assert first["MatchedStatements"][0]["SourcePolicyId"] == "PolicyInputList.1"
    assert first["MissingContextValues"] == ["aws:RequestedRegion"]  # the deny statement reads it
    eu = iam.simulate_custom_policy(
        PolicyInputList=[_doc(READ_B, NO_DELETE_IN_EU)], ActionNames=["s3:GetObject"], ResourceArns=["arn:aws:s3:::b/k"],
        ContextEntries=[{"ContextKeyName": "aws:RequestedRegion", "ContextKeyValues": ["eu-west-1"], "ContextKeyType": "string"}],
    )
    assert _decisions(eu) == [("s3:GetObject", "arn:aws:s3:::b/k", "explicitDeny")]
    # a permissions boundary, and a resource policy granting a caller
    bounded = iam.simulate_custom_policy(
        PolicyInputList=[_doc({"Effect": "Allow", "Action": "*", "Resource": "*"})],
        PermissionsBoundaryPolicyInputList=[_doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})],
        ActionNames=["s3:GetObject", "lambda:InvokeFunction"],
    )
    assert [r["EvalDecision"] for r in bounded["EvaluationResults"]] == ["allowed", "implicitDeny"]
    assert bounded["EvaluationResults"][1]["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": False}
    granted = iam.simulate_custom_policy(
        PolicyInputList=[_doc({"Effect": "Allow", "Action": "sqs:*", "Resource": "*"})], ActionNames=["s3:GetObject"],
        ResourceArns=["arn:aws:s3:::b/k"], CallerArn=f"arn:aws:iam::{ACCOUNT}:user/ann",
        ResourcePolicy=_doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/ann"}, "Action": "s3:GetObject",
                             "Resource": "arn:aws:s3:::b/*"}),
    )
    assert granted["EvaluationResults"][0]["EvalDecision"] == "allowed"
    assert granted["EvaluationResults"][0]["MatchedStatements"][0]["SourcePolicyType"] == "resource"
    with pytest.raises(ClientError) as e:
        iam.simulate_custom_policy(PolicyInputList=["{not json"], ActionNames=["s3:GetObject"])
    assert e.value.response["Error"]["Code"] == "InvalidInput"


def test_principal_policy(iam) -> None:
    iam.create_user(UserName="sim-ann")
    iam.put_user_policy(UserName="sim-ann", PolicyName="read-b", PolicyDocument=_doc(READ_B))
    iam.create_group(GroupName="sim-deployers")
    iam.attach_group_policy(GroupName="sim-deployers", PolicyArn="arn:aws:iam::aws:policy/AWSLambda_FullAccess")
    iam.add_user_to_group(GroupName="sim-deployers", UserName="sim-ann")
    arn = f"arn:aws:iam::{ACCOUNT}:user/sim-ann"
    out = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=["s3:GetObject", "lambda:CreateFunction", "iam:CreateUser"],
                                        ResourceArns=["arn:aws:s3:::b/k"])
    assert [r["EvalDecision"] for r in out["EvaluationResults"]] == ["allowed", "allowed", "implicitDeny"]
    assert out["EvaluationResults"][1]["MatchedStatements"][0] == {
        "SourcePolicyId": "AWSLambda_FullAccess", "SourcePolicyType": "aws-managed",
        "StartPosition": {"Line": 1, "Column": 1}, "EndPosition": {"Line": 1, "Column": 1}}
    excluded = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=["lambda:CreateFunction"],
                                             PolicyExclusionList=[{"PolicyArn": "arn:aws:iam::aws:policy/AWSLambda_FullAccess"}])
    assert excluded["EvaluationResults"][0]["EvalDecision"] == "implicitDeny"
    inline_out = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=["s3:GetObject"], ResourceArns=["arn:aws:s3:::b/k"], PolicyExclusionList=[
        {"InlinePolicyIdentifier": {"PolicyName": "read-b", "AttachmentType": "user", "AttachmentName": "sim-ann"}}])
    assert inline_out["EvaluationResults"][0]["EvalDecision"] == "implicitDeny"
    no_managed = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=["lambda:CreateFunction"], PolicyExclusionList=[{"PolicyType": "aws-managed"}])
    assert no_managed["EvaluationResults"][0]["EvalDecision"] == "implicitDeny"
    role = iam.create_role(RoleName="sim-role", AssumeRolePolicyDocument=_doc(
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}))["Role"]["Arn"]
    iam.attach_role_policy(RoleName="sim-role", PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
    out = iam.simulate_principal_policy(PolicySourceArn=role, ActionNames=["logs:PutLogEvents", "s3:GetObject"])
    assert [r["EvalDecision"] for r in out["EvaluationResults"]] == ["allowed", "implicitDeny"]
    with pytest.raises(ClientError) as e:
        iam.simulate_principal_policy(PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/nobody", ActionNames=["s3:GetObject"])
    assert e.value.response["Error"]["Code"] == "NoSuchEntity"
    # paging
    page = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=["s3:GetObject", "s3:PutObject", "s3:ListBucket"], MaxItems=2)
    assert page["IsTruncated"] and len(page["EvaluationResults"]) == 2
    rest = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
                                         Marker=page["Marker"])
    assert [r["EvalActionName"] for r in rest["EvaluationResults"]] == ["s3:ListBucket"] and not rest["IsTruncated"]


def test_the_aws_cli_asks_it(nimbus_server: NimbusProcess) -> None:
    cp = nimbus_server.aws("iam", "simulate-custom-policy", "--policy-input-list", _doc(READ_B), "--action-names", "s3:ListBucket",
                           "--resource-arns", "arn:aws:s3:::b", "--query", "EvaluationResults[0].EvalDecision", "--output", "text")
    assert cp.stdout.strip() == "allowed", cp.stderr
