"""`nimbus serve --iam enforce`: users', groups' and roles' policies decide what their keys may do, through
every service, with AWS's AccessDenied codes and words; root may do everything; changes apply at once."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess
from tests.integration.lambda_.functions import py_zip

ACCOUNT = "000000000000"


def _doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _allow(action, resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def _deny(action, resource="*") -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource}


def _client(server: NimbusProcess, service: str, key: dict, token: str | None = None):
    return boto3.client(
        service, endpoint_url=server.endpoint, region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], aws_session_token=token,
    )


def _denied(call, *args, **kwargs) -> dict:
    with pytest.raises(ClientError) as e:
        call(*args, **kwargs)
    return e.value.response


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    s = NimbusProcess(tmp_path_factory.mktemp("iam-enforce") / "data", env={"NIMBUS_IAM": "enforce"}).start()
    yield s
    s.stop()


def test_user_policies_groups_boundaries(server: NimbusProcess) -> None:
    iam, s3 = server.client("iam"), server.client("s3")
    s3.create_bucket(Bucket="shared-data")
    s3.put_object(Bucket="shared-data", Key="secret/plan.txt", Body=b"s")
    iam.create_user(UserName="alice")
    key = iam.create_access_key(UserName="alice")["AccessKey"]
    iam.put_user_policy(UserName="alice", PolicyName="data", PolicyDocument=_doc(
        _allow(["s3:GetObject", "s3:ListBucket"], ["arn:aws:s3:::shared-data", "arn:aws:s3:::shared-data/*"]),
        _allow("s3:PutObject", "arn:aws:s3:::shared-data/${aws:username}/*"),
        _deny("s3:GetObject", "arn:aws:s3:::shared-data/secret/*"),
    ))
    a3 = _client(server, "s3", key)
    a3.put_object(Bucket="shared-data", Key="alice/notes.txt", Body=b"mine")
    assert a3.get_object(Bucket="shared-data", Key="alice/notes.txt")["Body"].read() == b"mine"
    assert [o["Key"] for o in a3.list_objects_v2(Bucket="shared-data")["Contents"]] == ["alice/notes.txt", "secret/plan.txt"]
    r = _denied(a3.put_object, Bucket="shared-data", Key="bob/notes.txt", Body=b"x")
    assert (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]) == ("AccessDenied", 403)
    assert r["Error"]["Message"] == (
        f"User: arn:aws:iam::{ACCOUNT}:user/alice is not authorized to perform: s3:PutObject on resource: "
        "arn:aws:s3:::shared-data/bob/notes.txt because no identity-based policy allows the s3:PutObject action"
    )
    r = _denied(a3.get_object, Bucket="shared-data", Key="secret/plan.txt")
    assert "with an explicit deny in an identity-based policy" in r["Error"]["Message"]
    assert _denied(a3.create_bucket, Bucket="alice-own")["Error"]["Code"] == "AccessDenied"
    assert "alice-own" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]  # nothing stored
    # what needs no permission, and each protocol's own refusal
    assert _client(server, "sts", key).get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/alice"
    fh = _client(server, "firehose", key)
    r = _denied(fh.list_delivery_streams)
    assert r["Error"]["Code"] == "AccessDeniedException"
    assert _denied(_client(server, "lambda", key).list_functions)["Error"]["Code"] == "AccessDeniedException"
    assert _denied(_client(server, "iam", key).list_users)["Error"]["Code"] == "AccessDenied"
    # a group's AWS-managed policy grants at once
    iam.create_group(GroupName="streamers")
    iam.attach_group_policy(GroupName="streamers", PolicyArn="arn:aws:iam::aws:policy/AmazonKinesisFirehoseFullAccess")
    iam.add_user_to_group(GroupName="streamers", UserName="alice")
    assert fh.list_delivery_streams()["DeliveryStreamNames"] == []
    # a permissions boundary limits what the policies grant
    boundary = iam.create_policy(PolicyName="s3-only", PolicyDocument=_doc(_allow("s3:*")))["Policy"]["Arn"]
    iam.put_user_permissions_boundary(UserName="alice", PermissionsBoundary=boundary)
    r = _denied(fh.list_delivery_streams)
    assert "because no permissions boundary allows the firehose:ListDeliveryStreams action" in r["Error"]["Message"]
    assert a3.get_object(Bucket="shared-data", Key="alice/notes.txt")["Body"].read() == b"mine"
    iam.delete_user_permissions_boundary(UserName="alice")
    assert fh.list_delivery_streams()["DeliveryStreamNames"] == []
    # removing the grant takes effect on the next request
    iam.remove_user_from_group(GroupName="streamers", UserName="alice")
    assert _denied(fh.list_delivery_streams)["Error"]["Code"] == "AccessDeniedException"
    # the account's root user may do everything
    assert server.client("firehose").list_delivery_streams()["DeliveryStreamNames"] == []


def test_role_sessions_and_function_keys(server: NimbusProcess) -> None:
    iam, s3, lam = server.client("iam"), server.client("s3"), server.client("lambda")
    s3.create_bucket(Bucket="role-data")
    s3.put_object(Bucket="role-data", Key="in.txt", Body=b"hello")
    trust = _doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"})
    role = iam.create_role(RoleName="reader", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.put_role_policy(RoleName="reader", PolicyName="read", PolicyDocument=_doc(_allow("s3:GetObject", "arn:aws:s3:::role-data/*")))
    iam.create_user(UserName="carol")
    key = iam.create_access_key(UserName="carol")["AccessKey"]
    sts = _client(server, "sts", key)
    assert _denied(sts.assume_role, RoleArn=role, RoleSessionName="sess")["Error"]["Code"] == "AccessDenied"
    iam.put_user_policy(UserName="carol", PolicyName="assume", PolicyDocument=_doc(_allow("sts:AssumeRole", role)))
    creds = sts.assume_role(RoleArn=role, RoleSessionName="sess")["Credentials"]
    session = _client(server, "s3", {"AccessKeyId": creds["AccessKeyId"], "SecretAccessKey": creds["SecretAccessKey"]}, creds["SessionToken"])
    assert session.get_object(Bucket="role-data", Key="in.txt")["Body"].read() == b"hello"
    r = _denied(session.put_object, Bucket="role-data", Key="out.txt", Body=b"x")
    assert r["Error"]["Message"].startswith(f"User: arn:aws:sts::{ACCOUNT}:assumed-role/reader/sess is not authorized to perform: s3:PutObject")
    # a function's own keys speak for its execution role
    iam.put_role_policy(RoleName="reader", PolicyName="write-out", PolicyDocument=_doc(_allow("s3:PutObject", "arn:aws:s3:::role-data/out/*")))
    source = """
import boto3
def handler(event, context):
    s3 = boto3.client("s3")
    body = s3.get_object(Bucket="role-data", Key="in.txt")["Body"].read()
    s3.put_object(Bucket="role-data", Key="out/copy.txt", Body=body)
    try:
        s3.put_object(Bucket="role-data", Key="elsewhere.txt", Body=body)
        return "written"
    except Exception as e:
        return "denied: " + e.response["Error"]["Code"]
"""
    lam.create_function(FunctionName="role-fn", Runtime="python3.12", Role=role, Handler="app.handler", Code={"ZipFile": py_zip(source)}, Timeout=30)
    out = lam.invoke(FunctionName="role-fn", Payload=b"{}")
    assert "FunctionError" not in out, out["Payload"].read()
    assert json.loads(out["Payload"].read()) == "denied: AccessDenied"
    assert s3.get_object(Bucket="role-data", Key="out/copy.txt")["Body"].read() == b"hello"


def test_off_by_default(tmp_path: Path) -> None:
    server = NimbusProcess(tmp_path / "data").start()
    try:
        iam = server.client("iam")
        iam.create_user(UserName="dave")
        key = iam.create_access_key(UserName="dave")["AccessKey"]
        assert _client(server, "firehose", key).list_delivery_streams()["DeliveryStreamNames"] == []
    finally:
        server.stop()


def test_bucket_policies_and_anonymous_reads(server: NimbusProcess) -> None:
    import urllib.error
    import urllib.request

    iam, s3 = server.client("iam"), server.client("s3")
    s3.create_bucket(Bucket="site-assets")
    s3.put_object(Bucket="site-assets", Key="index.html", Body=b"<h1>hi</h1>")
    s3.put_object(Bucket="site-assets", Key="private/notes", Body=b"p")
    url = f"{server.endpoint}/site-assets/index.html"

    def anonymous(method: str = "GET", target: str = url, data: bytes | None = None) -> int:
        try:
            with urllib.request.urlopen(urllib.request.Request(target, method=method, data=data)) as r:
                return r.status
        except urllib.error.HTTPError as e:
            assert b"<Code>AccessDenied</Code>" in e.read()
            return e.code

    assert anonymous() == 403  # no policy: nobody unsigned
    public = _doc({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::site-assets/*"},
                  {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::site-assets/private/*"})
    s3.put_bucket_policy(Bucket="site-assets", Policy=public)
    assert anonymous() == 403  # the public access block (on by default, as on S3) ignores public grants
    s3.delete_public_access_block(Bucket="site-assets")
    assert anonymous() == 200
    with urllib.request.urlopen(url) as r:
        assert r.read() == b"<h1>hi</h1>"
    assert anonymous(target=f"{server.endpoint}/site-assets/private/notes") == 403  # the policy's own deny
    assert anonymous("PUT", f"{server.endpoint}/site-assets/new.html", b"x") == 403  # only reads were granted
    # a grant to a user by ARN works without any identity policy; a deny by ARN wins over identity policies
    iam.create_user(UserName="erin")
    erin = _client(server, "s3", iam.create_access_key(UserName="erin")["AccessKey"])
    iam.create_user(UserName="frank")
    iam.put_user_policy(UserName="frank", PolicyName="all-s3", PolicyDocument=_doc(_allow("s3:*")))
    frank = _client(server, "s3", iam.create_access_key(UserName="frank")["AccessKey"])
    assert frank.list_objects_v2(Bucket="site-assets")["KeyCount"] == 2
    s3.put_bucket_policy(Bucket="site-assets", Policy=_doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/erin"}, "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::site-assets"},
        {"Effect": "Deny", "Principal": {"AWS": [f"arn:aws:iam::{ACCOUNT}:user/frank"]}, "Action": "s3:*", "Resource": "arn:aws:s3:::site-assets"},
    ))
    assert erin.list_objects_v2(Bucket="site-assets")["KeyCount"] == 2
    r = _denied(frank.list_objects_v2, Bucket="site-assets")
    assert "with an explicit deny in a resource-based policy" in r["Error"]["Message"]
    assert anonymous() == 403  # the public grant is gone with the old policy


def test_trust_policies_and_function_permissions(server: NimbusProcess) -> None:
    iam, lam = server.client("iam"), server.client("lambda")
    iam.create_user(UserName="gina")
    key = iam.create_access_key(UserName="gina")["AccessKey"]
    sts = _client(server, "sts", key)
    gina = f"arn:aws:iam::{ACCOUNT}:user/gina"
    # a trust policy naming the user herself needs no identity policy
    direct = iam.create_role(RoleName="for-gina", AssumeRolePolicyDocument=_doc(
        {"Effect": "Allow", "Principal": {"AWS": gina}, "Action": "sts:AssumeRole"}))["Role"]["Arn"]
    assert sts.assume_role(RoleArn=direct, RoleSessionName="direct")["AssumedRoleUser"]["Arn"].endswith("for-gina/direct")
    # a trust policy for a service only: an identity grant is not enough
    service_only = iam.create_role(RoleName="lambda-only", AssumeRolePolicyDocument=_doc(
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}))["Role"]["Arn"]
    iam.put_user_policy(UserName="gina", PolicyName="assume-all", PolicyDocument=_doc(_allow("sts:AssumeRole")))
    r = _denied(sts.assume_role, RoleArn=service_only, RoleSessionName="nope")
    assert "because the role's trust policy does not allow it" in r["Error"]["Message"]
    # a function's permission naming the user lets her invoke it without an identity policy
    role = iam.create_role(RoleName="plain-fn", AssumeRolePolicyDocument=_doc(
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}))["Role"]["Arn"]
    lam.create_function(FunctionName="shared-fn", Runtime="python3.12", Role=role, Handler="app.handler",
                        Code={"ZipFile": py_zip("def handler(e, c):\n    return 'ran'\n")})
    glam = _client(server, "lambda", key)
    assert _denied(glam.invoke, FunctionName="shared-fn", Payload=b"{}")["Error"]["Code"] == "AccessDeniedException"
    lam.add_permission(FunctionName="shared-fn", StatementId="gina", Action="lambda:InvokeFunction", Principal=gina)
    assert json.loads(glam.invoke(FunctionName="shared-fn", Payload=b"{}")["Payload"].read()) == "ran"
    assert _denied(glam.get_function, FunctionName="shared-fn")["Error"]["Code"] == "AccessDeniedException"  # only invoke


def test_http_triggers_with_aws_iam_auth(server: NimbusProcess) -> None:
    import urllib.error
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    iam, lam, apigw = server.client("iam"), server.client("lambda"), server.client("apigateway")
    role = iam.create_role(RoleName="trigger-fn", AssumeRolePolicyDocument=_doc(
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}))["Role"]["Arn"]
    fn = lam.create_function(FunctionName="iam-trigger", Runtime="python3.12", Role=role, Handler="app.handler",
                             Code={"ZipFile": py_zip("def handler(e, c):\n    return {'statusCode': 200, 'body': 'in'}\n")})["FunctionArn"]
    iam.create_user(UserName="hana")
    key = iam.create_access_key(UserName="hana")["AccessKey"]

    def signed(url: str, service: str) -> int:
        req = AWSRequest(method="GET", url=url)
        SigV4Auth(Credentials(key["AccessKeyId"], key["SecretAccessKey"]), service, "us-east-1").add_auth(req)
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=dict(req.headers))) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    # a function URL with AuthType AWS_IAM: lambda:InvokeFunctionUrl
    url_id = lam.create_function_url_config(FunctionName="iam-trigger", AuthType="AWS_IAM")["FunctionUrl"].split("//", 1)[1].split(".", 1)[0]
    url = f"{server.endpoint}/_aws/lambda-url/{url_id}/"
    assert signed(url, "lambda") == 403
    iam.put_user_policy(UserName="hana", PolicyName="url", PolicyDocument=_doc(_allow("lambda:InvokeFunctionUrl", fn)))
    assert signed(url, "lambda") == 200
    # a REST API method with AWS_IAM: execute-api:Invoke on the method's ARN
    api = apigw.create_rest_api(name="iam-api")["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]
    apigw.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="AWS_IAM")
    apigw.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="AWS_PROXY", integrationHttpMethod="POST",
                          uri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{fn}/invocations")
    lam.add_permission(FunctionName="iam-trigger", StatementId="apigw", Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com")
    apigw.create_deployment(restApiId=api, stageName="prod")
    method_url = f"{server.endpoint}/_aws/execute-api/{api}/prod/"
    assert signed(method_url, "execute-api") == 403
    iam.put_user_policy(UserName="hana", PolicyName="invoke", PolicyDocument=_doc(
        _allow("execute-api:Invoke", f"arn:aws:execute-api:us-east-1:{ACCOUNT}:{api}/prod/GET/*")))
    assert signed(method_url, "execute-api") == 200


def test_session_policies_limit_an_assumed_role(server: NimbusProcess) -> None:
    iam, s3 = server.client("iam"), server.client("s3")
    s3.create_bucket(Bucket="session-data")
    s3.put_object(Bucket="session-data", Key="a/x", Body=b"x")
    trust = _doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"})
    role = iam.create_role(RoleName="s3-all", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.put_role_policy(RoleName="s3-all", PolicyName="all", PolicyDocument=_doc(_allow("s3:*")))
    sts = server.client("sts")  # the root user may assume any role its trust names
    narrowed = sts.assume_role(RoleArn=role, RoleSessionName="narrow", Policy=_doc(_allow("s3:GetObject", "arn:aws:s3:::session-data/a/*")))
    c = narrowed["Credentials"]
    session = _client(server, "s3", {"AccessKeyId": c["AccessKeyId"], "SecretAccessKey": c["SecretAccessKey"]}, c["SessionToken"])
    assert session.get_object(Bucket="session-data", Key="a/x")["Body"].read() == b"x"
    r = _denied(session.put_object, Bucket="session-data", Key="a/y", Body=b"y")
    assert "because no session policy allows the s3:PutObject action" in r["Error"]["Message"]
    # a managed policy as a session policy; the role's own session without any keeps all the role grants
    read_only = sts.assume_role(RoleArn=role, RoleSessionName="ro", PolicyArns=[{"arn": "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"}])["Credentials"]
    ro = _client(server, "s3", {"AccessKeyId": read_only["AccessKeyId"], "SecretAccessKey": read_only["SecretAccessKey"]}, read_only["SessionToken"])
    assert ro.list_objects_v2(Bucket="session-data")["KeyCount"] == 1
    assert _denied(ro.delete_object, Bucket="session-data", Key="a/x")["Error"]["Code"] == "AccessDenied"
    full = sts.assume_role(RoleArn=role, RoleSessionName="full")["Credentials"]
    _client(server, "s3", {"AccessKeyId": full["AccessKeyId"], "SecretAccessKey": full["SecretAccessKey"]}, full["SessionToken"]).put_object(
        Bucket="session-data", Key="a/z", Body=b"z")
    # the session keeps its policies across a restart (sessions are durable)
    server.restart()
    session = _client(server, "s3", {"AccessKeyId": c["AccessKeyId"], "SecretAccessKey": c["SecretAccessKey"]}, c["SessionToken"])
    assert _denied(session.put_object, Bucket="session-data", Key="a/y", Body=b"y")["Error"]["Code"] == "AccessDenied"
    assert session.get_object(Bucket="session-data", Key="a/x")["Body"].read() == b"x"
