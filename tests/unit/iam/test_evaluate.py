"""IAM policy evaluation: AWS's decision logic and the statement elements Nimbus evaluates."""

from __future__ import annotations

import json

from nimbus.services.iam.actions import action_for, resources_for
from nimbus.services.iam.evaluate import ALLOW, EXPLICIT_DENY, IMPLICIT_DENY, evaluate, parse


def p(*statements: dict) -> tuple:
    return parse(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))


def test_allow_deny_and_wildcards() -> None:
    pol = p({"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/*"})
    assert evaluate([pol], "s3:GetObject", ["arn:aws:s3:::b/k"], {}) == ALLOW
    assert evaluate([pol], "S3:getobject", ["arn:aws:s3:::b/k"], {}) == ALLOW  # actions: case-insensitive
    assert evaluate([pol], "s3:PutObject", ["arn:aws:s3:::b/k"], {}) == IMPLICIT_DENY
    assert evaluate([pol], "s3:GetObject", ["arn:aws:s3:::B/k"], {}) == IMPLICIT_DENY  # resources: case-sensitive
    deny = p({"Effect": "Deny", "Action": "*", "Resource": "arn:aws:s3:::b/secret*"})
    assert evaluate([pol, deny], "s3:GetObject", ["arn:aws:s3:::b/secret.txt"], {}) == EXPLICIT_DENY
    assert evaluate([], "s3:GetObject", ["*"], {}) == IMPLICIT_DENY
    # every resource of a request must be allowed
    assert evaluate([pol], "s3:GetObject", ["arn:aws:s3:::b/k", "arn:aws:s3:::c/k"], {}) == IMPLICIT_DENY
    q = p({"Effect": "Allow", "Action": "s3:GetObjec?", "Resource": "*"})
    assert evaluate([q], "s3:GetObject", ["x"], {}) == ALLOW


def test_not_action_not_resource_and_variables() -> None:
    pol = p({"Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:aws:s3:::private/*"})
    assert evaluate([pol], "s3:GetObject", ["arn:aws:s3:::public/k"], {}) == ALLOW
    assert evaluate([pol], "iam:CreateUser", ["*"], {}) == IMPLICIT_DENY
    assert evaluate([pol], "s3:GetObject", ["arn:aws:s3:::private/k"], {}) == IMPLICIT_DENY
    home = p({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::home/${aws:username}/*"})
    assert evaluate([home], "s3:PutObject", ["arn:aws:s3:::home/ann/x"], {"aws:username": "ann"}) == ALLOW
    assert evaluate([home], "s3:PutObject", ["arn:aws:s3:::home/bob/x"], {"aws:username": "ann"}) == IMPLICIT_DENY


def test_conditions() -> None:
    def cond(c: dict, ctx: dict) -> str:
        return evaluate([p({"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": c})], "s3:GetObject", ["*"], ctx)

    assert cond({"StringEquals": {"aws:RequestedRegion": "us-east-1"}}, {"aws:RequestedRegion": "us-east-1"}) == ALLOW
    assert cond({"StringEquals": {"aws:RequestedRegion": "us-east-1"}}, {"aws:RequestedRegion": "eu-west-1"}) == IMPLICIT_DENY
    assert cond({"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1", "eu-west-2"]}}, {"aws:RequestedRegion": "us-east-1"}) == ALLOW
    assert cond({"StringLike": {"s3:prefix": ["home/*"]}}, {"s3:prefix": "home/ann"}) == ALLOW
    assert cond({"StringLike": {"s3:prefix": ["home/*"]}}, {}) == IMPLICIT_DENY  # a missing key fails...
    assert cond({"StringLikeIfExists": {"s3:prefix": ["home/*"]}}, {}) == ALLOW  # ... unless IfExists
    assert cond({"Null": {"s3:prefix": "true"}}, {}) == ALLOW
    assert cond({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": "false"}) == ALLOW
    assert cond({"Bool": {"aws:SecureTransport": True}}, {"aws:SecureTransport": "false"}) == IMPLICIT_DENY
    assert cond({"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}, {"aws:SourceIp": "127.0.0.1"}) == ALLOW
    assert cond({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "127.0.0.1"}) == ALLOW
    assert cond({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "5"}) == ALLOW
    assert cond({"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}, {"aws:CurrentTime": "2026-11-28T00:00:00Z"}) == ALLOW
    assert cond({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": ["b", "c"]}) == ALLOW
    assert cond({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": ["b", "c"]}) == IMPLICIT_DENY
    assert cond({"SomeFutureOperator": {"k": "v"}}, {"k": "v"}) == IMPLICIT_DENY  # unknown: the statement does not apply


def test_boundary_intersects() -> None:
    everything = p({"Effect": "Allow", "Action": "*", "Resource": "*"})
    s3_only = p({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    assert evaluate([everything], "s3:GetObject", ["*"], {}, boundary=[s3_only]) == ALLOW
    assert evaluate([everything], "lambda:InvokeFunction", ["*"], {}, boundary=[s3_only]) == IMPLICIT_DENY
    assert evaluate([s3_only], "lambda:InvokeFunction", ["*"], {}, boundary=[everything]) == IMPLICIT_DENY


def test_url_encoded_documents_as_iam_returns_them() -> None:
    pol = parse("%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3A*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D")
    assert evaluate([pol], "s3:ListBucket", ["arn:aws:s3:::b"], {}) == ALLOW


def test_actions_and_resources_of_requests() -> None:
    assert action_for("s3", "ListObjectsV2") == "s3:ListBucket"
    assert action_for("s3", "HeadObject") == "s3:GetObject"
    assert action_for("s3", "UploadPart") == "s3:PutObject"
    assert action_for("lambda", "Invoke") == "lambda:InvokeFunction"
    assert action_for("firehose", "PutRecordBatch") == "firehose:PutRecordBatch"
    assert action_for("apigateway", "GetRestApis", "GET") == "apigateway:GET"
    kw = {"region": "us-east-1", "account": "000000000000"}
    assert resources_for("s3", "GetObject", {"Bucket": "b", "Key": "a/k"}, **kw) == ["arn:aws:s3:::b/a/k"]
    assert resources_for("s3", "ListObjectsV2", {"Bucket": "b", "Prefix": "a/"}, **kw) == ["arn:aws:s3:::b"]
    assert resources_for("s3", "ListBuckets", {}, **kw) == ["*"]
    assert resources_for("s3", "DeleteObjects", {"Bucket": "b", "Delete": {"Objects": [{"Key": "x"}, {"Key": "y"}]}}, **kw) == [
        "arn:aws:s3:::b/x", "arn:aws:s3:::b/y"]
    assert resources_for("lambda", "Invoke", {"FunctionName": "f", "Qualifier": "prod"}, **kw) == [
        "arn:aws:lambda:us-east-1:000000000000:function:f:prod"]
    assert resources_for("firehose", "PutRecord", {"DeliveryStreamName": "d"}, **kw) == [
        "arn:aws:firehose:us-east-1:000000000000:deliverystream/d"]
    assert resources_for("kinesis", "PutRecords", {"StreamName": "s"}, **kw) == ["arn:aws:kinesis:us-east-1:000000000000:stream/s"]
    assert resources_for("logs", "PutLogEvents", {"logGroupName": "/g", "logStreamName": "s"}, **kw) == [
        "arn:aws:logs:us-east-1:000000000000:log-group:/g:log-stream:s"]
    assert resources_for("iam", "GetRole", {"RoleName": "r"}, **kw) == ["arn:aws:iam::000000000000:role/r"]


def test_resource_policy_principals() -> None:
    from nimbus.services.iam.evaluate import for_principal, select

    pol = p(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:user/ann"}, "Action": "s3:PutObject", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": "000000000000"}, "Action": "s3:DeleteObject", "Resource": "*"},
        {"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::000000000000:user/ann"}, "Action": "s3:PutObject", "Resource": "*"},
    )
    ann = frozenset({"*", "arn:aws:iam::000000000000:user/ann"})
    anonymous = frozenset({"*"})
    assert len(for_principal(select([pol], "s3:GetObject"), anonymous)) == 1
    assert for_principal(select([pol], "s3:GetObject"), anonymous, ignore_public=True) == ()
    assert [st.allow for st in for_principal(select([pol], "s3:PutObject"), ann)] == [True]
    assert [st.allow for st in for_principal(select([pol], "s3:PutObject"), anonymous)] == [False]
    assert for_principal(select([pol], "s3:DeleteObject"), ann) == ()  # an account principal delegates to IAM
