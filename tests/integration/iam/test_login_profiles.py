"""IAM users' console passwords: login profiles, the account password policy, ChangePassword, and the
password sign-in (/_nimbus/iam/signin) whose keys the console signs with; against a real server."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess

GOOD = "Correct-Horse-42"


def _sign_in(server: NimbusProcess, user: str, password: str, account: str = "") -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(server.endpoint + "/_nimbus/iam/signin", method="POST",
                                 data=json.dumps({"userName": user, "password": password, "account": account}).encode(),
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _code(e: pytest.ExceptionInfo[ClientError]) -> str:
    return str(e.value.response["Error"]["Code"])


def test_login_profile_lifecycle(iam: Any) -> None:
    iam.create_user(UserName="pw-alice")
    profile = iam.create_login_profile(UserName="pw-alice", Password=GOOD, PasswordResetRequired=True)["LoginProfile"]
    assert profile["UserName"] == "pw-alice" and profile["PasswordResetRequired"] is True
    assert iam.get_login_profile(UserName="pw-alice")["LoginProfile"]["PasswordResetRequired"] is True
    with pytest.raises(ClientError) as e:
        iam.create_login_profile(UserName="pw-alice", Password=GOOD)
    assert _code(e) == "EntityAlreadyExists"
    iam.update_login_profile(UserName="pw-alice", PasswordResetRequired=False)
    assert iam.get_login_profile(UserName="pw-alice")["LoginProfile"]["PasswordResetRequired"] is False
    with pytest.raises(ClientError) as e:
        iam.delete_user(UserName="pw-alice")
    assert _code(e) == "DeleteConflict" and "login profile" in str(e.value)
    iam.delete_login_profile(UserName="pw-alice")
    with pytest.raises(ClientError) as e:
        iam.get_login_profile(UserName="pw-alice")
    assert _code(e) == "NoSuchEntity"
    iam.delete_user(UserName="pw-alice")
    with pytest.raises(ClientError) as e:
        iam.create_login_profile(UserName="pw-nobody", Password=GOOD)
    assert _code(e) == "NoSuchEntity"


def test_password_policy(iam: Any) -> None:
    iam.create_user(UserName="pw-bob")
    with pytest.raises(ClientError) as e:  # AWS's default policy: 8 characters, three kinds
        iam.create_login_profile(UserName="pw-bob", Password="short")
    assert _code(e) == "PasswordPolicyViolation"
    with pytest.raises(ClientError) as e:
        iam.get_account_password_policy()
    assert _code(e) == "NoSuchEntity"
    iam.update_account_password_policy(MinimumPasswordLength=12, RequireSymbols=True, RequireNumbers=True,
                                       AllowUsersToChangePassword=True, PasswordReusePrevention=2)
    policy = iam.get_account_password_policy()["PasswordPolicy"]
    assert policy["MinimumPasswordLength"] == 12 and policy["RequireSymbols"] and policy["ExpirePasswords"] is False
    with pytest.raises(ClientError) as e:
        iam.create_login_profile(UserName="pw-bob", Password="longenoughpassword1")  # no symbol
    assert _code(e) == "PasswordPolicyViolation" and "symbol" in str(e.value)
    iam.create_login_profile(UserName="pw-bob", Password="longenough-password1")
    with pytest.raises(ClientError) as e:  # PasswordReusePrevention: not the current one again
        iam.update_login_profile(UserName="pw-bob", Password="longenough-password1")
    assert _code(e) == "PasswordPolicyViolation"
    iam.delete_account_password_policy()
    with pytest.raises(ClientError) as e:
        iam.delete_account_password_policy()
    assert _code(e) == "NoSuchEntity"
    iam.delete_login_profile(UserName="pw-bob")
    iam.delete_user(UserName="pw-bob")


def test_sign_in_gives_the_users_own_keys(iam: Any, nimbus_server: NimbusProcess) -> None:
    iam.create_user(UserName="pw-carol")
    iam.create_login_profile(UserName="pw-carol", Password=GOOD)
    status, keys = _sign_in(nimbus_server, "pw-carol", GOOD)
    assert status == 200 and keys["PasswordResetRequired"] is False
    sts = nimbus_server.client("sts", access_key=keys["AccessKeyId"], secret_key=keys["SecretAccessKey"],
                               aws_session_token=keys["SessionToken"])
    assert sts.get_caller_identity()["Arn"] == "arn:aws:iam::000000000000:user/pw-carol"
    # the account may be named by its id; another account's name is refused
    assert _sign_in(nimbus_server, "pw-carol", GOOD, account="000000000000")[0] == 200
    assert _sign_in(nimbus_server, "pw-carol", GOOD, account="111111111111")[0] == 401
    # one message for a wrong password and for a user that does not exist
    s1, wrong = _sign_in(nimbus_server, "pw-carol", "Wrong-Password-1")
    s2, nobody = _sign_in(nimbus_server, "pw-nobody", GOOD)
    assert s1 == s2 == 401 and wrong["message"] == nobody["message"]
    # an administrator's reset ends the sessions the old password opened
    iam.update_login_profile(UserName="pw-carol", Password="Another-Pass-77")
    with pytest.raises(ClientError) as e:
        sts.get_caller_identity()
    assert _code(e) == "InvalidClientTokenId"


def test_change_password_and_lockout(iam: Any, nimbus_server: NimbusProcess) -> None:
    iam.create_user(UserName="pw-dave")
    iam.create_login_profile(UserName="pw-dave", Password=GOOD, PasswordResetRequired=True)
    status, keys = _sign_in(nimbus_server, "pw-dave", GOOD)
    assert status == 200 and keys["PasswordResetRequired"] is True
    own = nimbus_server.client("iam", access_key=keys["AccessKeyId"], secret_key=keys["SecretAccessKey"],
                               aws_session_token=keys["SessionToken"])
    with pytest.raises(ClientError) as e:
        own.change_password(OldPassword="not-it", NewPassword="Brand-New-Pass-9")
    assert _code(e) == "AccessDenied"
    own.change_password(OldPassword=GOOD, NewPassword="Brand-New-Pass-9")
    assert iam.get_login_profile(UserName="pw-dave")["LoginProfile"]["PasswordResetRequired"] is False
    assert _sign_in(nimbus_server, "pw-dave", "Brand-New-Pass-9")[0] == 200
    with pytest.raises(ClientError) as e:  # root has no password of its own here
        iam.change_password(OldPassword="x", NewPassword="Brand-New-Pass-10")
    assert _code(e) == "InvalidUserType"
    for _ in range(5):
        assert _sign_in(nimbus_server, "pw-dave", "Wrong-Password-1")[0] == 401
    status, locked = _sign_in(nimbus_server, "pw-dave", "Brand-New-Pass-9")  # locked for a minute, even with the right one
    assert status == 401 and "Too many" in locked["message"]


def test_login_profile_survives_restart_and_rename(tmp_path: Any) -> None:
    server = NimbusProcess(tmp_path / "data").start()
    try:
        iam = server.client("iam")
        iam.create_user(UserName="pw-erin")
        iam.create_login_profile(UserName="pw-erin", Password=GOOD)
        server.kill9()
        server.start()
        iam = server.client("iam")
        iam.update_user(UserName="pw-erin", NewUserName="pw-erin2")
        assert iam.get_login_profile(UserName="pw-erin2")["LoginProfile"]["UserName"] == "pw-erin2"
        assert _sign_in(server, "pw-erin2", GOOD)[0] == 200
    finally:
        server.stop()


def test_enforced_user_changes_own_password_and_signs_in_to_the_console(tmp_path: Any) -> None:
    """Under --iam enforce a password sign-in's keys carry the user's own policies, and a user whose reset
    is required may change its password without any policy."""
    from tests.integration.console.conftest import ConsoleClient

    server = NimbusProcess(tmp_path / "data", extra_args=["--iam", "enforce"]).start()
    try:
        iam = server.client("iam")
        iam.create_user(UserName="pw-frank")
        iam.create_login_profile(UserName="pw-frank", Password=GOOD, PasswordResetRequired=True)
        c = ConsoleClient(server)
        status, doc = c.post("login", {"userName": "pw-frank", "password": GOOD})
        assert status == 200 and doc["passwordResetRequired"] is True
        assert doc["identity"]["Arn"] == "arn:aws:iam::000000000000:user/pw-frank"
        status, body, _ = c.get("/_nimbus/console/api/session")
        assert b'"passwordResetRequired":true' in body
        c.call("iam", "ChangePassword", {"OldPassword": GOOD, "NewPassword": "Fresh-Start-2026"})
        status, body, _ = c.get("/_nimbus/console/api/session")
        assert b'"passwordResetRequired":false' in body
        status, doc = c.post("call", {"service": "s3", "operation": "ListBuckets", "params": {}})
        assert status == 403 and doc["error"]["code"] == "AccessDenied"  # no policy of its own
        iam.attach_user_policy(UserName="pw-frank", PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
        assert "Buckets" in c.call("s3", "ListBuckets")
        assert c.post("logout", {})[0] == 200
        assert c.get("/_nimbus/console/api/session")[0] == 401
        status, doc = ConsoleClient(server).post("login", {"userName": "pw-frank", "password": GOOD})  # the old one
        assert status == 401 and doc["error"]["code"] == "SignInFailed"
    finally:
        server.stop()
