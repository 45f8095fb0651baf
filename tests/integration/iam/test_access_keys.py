"""IAM users' access keys are real keys: a user's active key signs requests to every service (STS answers
the user's identity), an inactive or deleted one is refused as an unknown key, at most two per user, the
caller's own user when UserName is left out, and keys and users survive kill -9."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess
from tests.integration.iam.conftest import BASIC, TRUST, doc, error

ACCOUNT = "000000000000"


def keyed(server: NimbusProcess, service: str, key: dict[str, Any], **kw: Any) -> Any:
    return server.client(service, access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"], **kw)


def refused(call: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]["Code"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_a_users_key_signs_requests_to_every_service(nimbus_server: NimbusProcess, iam: Any) -> None:
    user = iam.create_user(UserName="signer", Path="/team/")["User"]
    key = iam.create_access_key(UserName="signer")["AccessKey"]
    assert key["AccessKeyId"].startswith("AKIA") and len(key["AccessKeyId"]) == 20
    assert (key["UserName"], key["Status"]) == ("signer", "Active") and key["SecretAccessKey"]

    me = keyed(nimbus_server, "sts", key).get_caller_identity()
    assert (me["Arn"], me["UserId"], me["Account"]) == (f"arn:aws:iam::{ACCOUNT}:user/team/signer", user["UserId"], ACCOUNT)
    s3 = keyed(nimbus_server, "s3", key)
    s3.create_bucket(Bucket="signer-bucket")
    s3.put_object(Bucket="signer-bucket", Key="k", Body=b"hello")
    assert s3.get_object(Bucket="signer-bucket", Key="k")["Body"].read() == b"hello"
    logs = keyed(nimbus_server, "logs", key)
    logs.create_log_group(logGroupName="/signer/group")
    assert [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="/signer/")["logGroups"]] == ["/signer/group"]
    assert "Functions" in keyed(nimbus_server, "lambda", key).list_functions()
    # no policy is evaluated: the user can do what root can, IAM included
    assert keyed(nimbus_server, "iam", key).get_user(UserName="signer")["User"]["UserId"] == user["UserId"]


def test_deactivating_reactivating_and_deleting_a_key(nimbus_server: NimbusProcess, iam: Any) -> None:
    iam.create_user(UserName="toggler")
    key = iam.create_access_key(UserName="toggler")["AccessKey"]
    sts, s3, logs = keyed(nimbus_server, "sts", key), keyed(nimbus_server, "s3", key), keyed(nimbus_server, "logs", key)
    sts.get_caller_identity()

    iam.update_access_key(UserName="toggler", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert refused(sts.get_caller_identity) == ("InvalidClientTokenId", 403)
    assert refused(s3.list_buckets) == ("InvalidAccessKeyId", 403)
    assert refused(logs.describe_log_groups) == ("UnrecognizedClientException", 400)
    assert iam.list_access_keys(UserName="toggler")["AccessKeyMetadata"][0]["Status"] == "Inactive"

    iam.update_access_key(UserName="toggler", AccessKeyId=key["AccessKeyId"], Status="Active")
    assert sts.get_caller_identity()["Arn"].endswith(":user/toggler")
    s3.list_buckets()

    # a rename: the key now speaks for the new name and path
    iam.update_user(UserName="toggler", NewUserName="switcher", NewPath="/ops/")
    assert sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/ops/switcher"
    assert keyed(nimbus_server, "iam", key).get_user()["User"]["UserName"] == "switcher"

    iam.delete_access_key(UserName="switcher", AccessKeyId=key["AccessKeyId"])
    assert refused(sts.get_caller_identity) == ("InvalidClientTokenId", 403)
    assert refused(s3.list_buckets) == ("InvalidAccessKeyId", 403)
    assert iam.list_access_keys(UserName="switcher")["AccessKeyMetadata"] == []
    iam.delete_user(UserName="switcher")


def test_two_keys_per_user_and_key_errors(iam: Any, unchecked_iam: Any) -> None:
    iam.create_user(UserName="quota")
    iam.create_user(UserName="other")
    first = iam.create_access_key(UserName="quota")["AccessKey"]
    second = iam.create_access_key(UserName="QUOTA")["AccessKey"]
    with pytest.raises(ClientError) as e:
        iam.create_access_key(UserName="quota")
    assert error(e) == ("LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2", 409)
    listed = iam.list_access_keys(UserName="quota")["AccessKeyMetadata"]
    assert {k["AccessKeyId"] for k in listed} == {first["AccessKeyId"], second["AccessKeyId"]}
    assert all(set(k) == {"UserName", "AccessKeyId", "Status", "CreateDate"} for k in listed)  # never the secret
    page = iam.list_access_keys(UserName="quota", MaxItems=1)
    assert page["IsTruncated"] and len(iam.list_access_keys(UserName="quota", Marker=page["Marker"])["AccessKeyMetadata"]) == 1
    # an inactive key still counts
    iam.update_access_key(UserName="quota", AccessKeyId=first["AccessKeyId"], Status="Inactive")
    with pytest.raises(ClientError) as e:
        iam.create_access_key(UserName="quota")
    assert error(e)[0] == "LimitExceeded"
    iam.delete_access_key(UserName="quota", AccessKeyId=first["AccessKeyId"])
    iam.create_access_key(UserName="quota")

    unknown = "AKIAUNKNOWNKEY000000"
    for call in (
        lambda: iam.update_access_key(UserName="quota", AccessKeyId=unknown, Status="Inactive"),
        lambda: iam.delete_access_key(UserName="quota", AccessKeyId=unknown),
        # another user's key is not found under this one
        lambda: iam.update_access_key(UserName="other", AccessKeyId=second["AccessKeyId"], Status="Inactive"),
        lambda: iam.delete_access_key(UserName="other", AccessKeyId=second["AccessKeyId"]),
        # without a UserName the root keys act on the root user, who owns no IAM key
        lambda: iam.delete_access_key(AccessKeyId=second["AccessKeyId"]),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert error(e)[0::2] == ("NoSuchEntity", 404) and error(e)[1].startswith("The Access Key with id ")
    with pytest.raises(ClientError) as e:
        unchecked_iam.update_access_key(UserName="quota", AccessKeyId=second["AccessKeyId"], Status="Expired")
    assert error(e)[0::2] == ("InvalidInput", 400)
    with pytest.raises(ClientError) as e:
        unchecked_iam.update_access_key(UserName="quota", AccessKeyId=second["AccessKeyId"], Status="Bogus")
    assert error(e)[0::2] == ("ValidationError", 400)

    used = iam.get_access_key_last_used(AccessKeyId=second["AccessKeyId"])
    assert used["UserName"] == "quota" and used["AccessKeyLastUsed"] == {"ServiceName": "N/A", "Region": "N/A"}
    with pytest.raises(ClientError) as e:
        iam.get_access_key_last_used(AccessKeyId=unknown)
    assert error(e) == (
        "AccessDenied",
        f"User: arn:aws:iam::{ACCOUNT}:root is not authorized to perform: iam:GetAccessKeyLastUsed on resource: access key {unknown}",
        403,
    )


def test_the_caller_when_user_name_is_left_out(nimbus_server: NimbusProcess, iam: Any) -> None:
    root = iam.get_user()["User"]
    assert (root["UserId"], root["Arn"]) == (ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root")
    assert "UserName" not in root and "Path" not in root and root["CreateDate"] == iam.get_user()["User"]["CreateDate"]
    assert iam.list_access_keys()["AccessKeyMetadata"] == [{"AccessKeyId": "NKIATESTACCESSKEY001", "Status": "Active"}]
    assert iam.get_access_key_last_used(AccessKeyId="NKIATESTACCESSKEY001")["AccessKeyLastUsed"]["ServiceName"] == "N/A"
    with pytest.raises(ClientError) as e:
        iam.create_access_key()  # root's key pair is configured, not managed through IAM
    assert error(e)[0::2] == ("NotImplemented", 501)

    user = iam.create_user(UserName="self-service")["User"]
    key = iam.create_access_key(UserName="self-service")["AccessKey"]
    own = keyed(nimbus_server, "iam", key)
    assert own.get_user()["User"] == iam.get_user(UserName="self-service")["User"]
    second = own.create_access_key()["AccessKey"]  # rotation by the user itself
    assert second["UserName"] == "self-service"
    assert {k["AccessKeyId"] for k in own.list_access_keys()["AccessKeyMetadata"]} == {key["AccessKeyId"], second["AccessKeyId"]}
    own.update_access_key(AccessKeyId=key["AccessKeyId"], Status="Inactive")
    newer = keyed(nimbus_server, "iam", second)
    assert refused(own.get_user) == ("InvalidClientTokenId", 403)
    newer.delete_access_key(AccessKeyId=key["AccessKeyId"])
    assert [k["AccessKeyId"] for k in newer.list_access_keys()["AccessKeyMetadata"]] == [second["AccessKeyId"]]
    assert newer.get_user()["User"]["UserId"] == user["UserId"]

    # STS sessions are not users: an assumed role must name the user; a GetSessionToken session is refused
    # by IAM altogether without MFA (InvalidClientTokenId), which Nimbus answers where the caller matters
    iam.create_role(RoleName="caller-role", AssumeRolePolicyDocument=doc(TRUST))
    assumed = keyed(nimbus_server, "sts", second).assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/caller-role", RoleSessionName="sess")["Credentials"]
    role_iam = nimbus_server.client("iam", access_key=assumed["AccessKeyId"], secret_key=assumed["SecretAccessKey"], aws_session_token=assumed["SessionToken"])
    for call in (role_iam.get_user, role_iam.list_access_keys, role_iam.create_access_key):
        with pytest.raises(ClientError) as e:
            call()
        assert error(e) == ("ValidationError", "Must specify userName when calling with non-User credentials", 400)
    assert role_iam.get_user(UserName="self-service")["User"]["UserName"] == "self-service"
    session = keyed(nimbus_server, "sts", second).get_session_token()["Credentials"]
    session_iam = nimbus_server.client("iam", access_key=session["AccessKeyId"], secret_key=session["SecretAccessKey"], aws_session_token=session["SessionToken"])
    with pytest.raises(ClientError) as e:
        session_iam.get_user()
    assert error(e) == ("InvalidClientTokenId", "The security token included in the request is invalid", 403)
    session_sts = nimbus_server.client("sts", access_key=session["AccessKeyId"], secret_key=session["SecretAccessKey"], aws_session_token=session["SessionToken"])
    assert session_sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/self-service"


def test_keys_with_the_aws_cli(nimbus_server: NimbusProcess) -> None:
    nimbus_server.aws("iam", "create-user", "--user-name", "cli-keys")
    key = json.loads(nimbus_server.aws("iam", "create-access-key", "--user-name", "cli-keys").stdout)["AccessKey"]
    env = dict(nimbus_server.aws_env(), AWS_ACCESS_KEY_ID=key["AccessKeyId"], AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"])
    aws = str(Path(sys.executable).parent / "aws")

    def as_user(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([aws, *args], env=env, capture_output=True, text=True, timeout=120)

    me = json.loads(as_user("sts", "get-caller-identity").stdout)
    assert me["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/cli-keys"
    assert json.loads(as_user("iam", "get-user").stdout)["User"]["UserName"] == "cli-keys"
    nimbus_server.aws("iam", "update-access-key", "--user-name", "cli-keys", "--access-key-id", key["AccessKeyId"], "--status", "Inactive")
    out = as_user("sts", "get-caller-identity")
    assert out.returncode != 0 and "InvalidClientTokenId" in out.stderr


def test_users_and_keys_survive_kill_9(tmp_path: Path) -> None:
    server = NimbusProcess(tmp_path / "data").start()
    try:
        iam = server.client("iam")
        user = iam.create_user(UserName="durable", Path="/d/", Tags=[{"Key": "k", "Value": "v"}])["User"]
        iam.attach_user_policy(UserName="durable", PolicyArn=BASIC)
        active = iam.create_access_key(UserName="durable")["AccessKey"]
        inactive = iam.create_access_key(UserName="durable")["AccessKey"]
        iam.update_access_key(UserName="durable", AccessKeyId=inactive["AccessKeyId"], Status="Inactive")
        iam.create_user(UserName="renamed-later")
        moved = iam.create_access_key(UserName="renamed-later")["AccessKey"]
        iam.update_user(UserName="renamed-later", NewUserName="renamed", NewPath="/new/")
        gone = iam.create_access_key(UserName="renamed")["AccessKey"]
        iam.delete_access_key(UserName="renamed", AccessKeyId=gone["AccessKeyId"])

        server.kill9()
        server.start()

        iam = server.client("iam", "eu-west-1")
        again = iam.get_user(UserName="durable")["User"]
        assert (again["UserId"], again["CreateDate"], again["Arn"], again["Tags"]) == (user["UserId"], user["CreateDate"], user["Arn"], user["Tags"])
        assert iam.list_attached_user_policies(UserName="durable")["AttachedPolicies"][0]["PolicyArn"] == BASIC
        statuses = {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName="durable")["AccessKeyMetadata"]}
        assert statuses == {active["AccessKeyId"]: "Active", inactive["AccessKeyId"]: "Inactive"}
        assert keyed(server, "sts", active).get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/d/durable"
        keyed(server, "s3", active).list_buckets()
        assert refused(keyed(server, "sts", inactive).get_caller_identity) == ("InvalidClientTokenId", 403)
        assert refused(keyed(server, "sts", gone).get_caller_identity) == ("InvalidClientTokenId", 403)
        assert keyed(server, "sts", moved).get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/new/renamed"
        assert keyed(server, "iam", moved).get_user()["User"]["UserName"] == "renamed"
        iam.update_access_key(UserName="durable", AccessKeyId=inactive["AccessKeyId"], Status="Active")
        assert keyed(server, "sts", inactive).get_caller_identity()["UserId"] == user["UserId"]
    finally:
        server.stop()
