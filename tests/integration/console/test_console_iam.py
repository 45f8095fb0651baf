"""The console's IAM pages in a real headless Chromium against a real server: a role created for Lambda with a
managed policy, its inline policies and deletion; a user whose access key, shown once, works with boto3;
customer-managed policies; user groups and users' console passwords."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

By = pytest.importorskip("selenium.webdriver.common.by", reason="selenium is a test dependency").By

from tests.conftest import NimbusProcess
from tests.integration.console.conftest import go, page_text, sign_in, wait_for

BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


def _el(browser: Any, element_id: str) -> Any:
    return wait_for(browser, lambda: [e for e in browser.find_elements(By.ID, element_id) if e.is_displayed() and e.is_enabled()],
                    what=element_id)[0]


def _confirm(browser: Any) -> None:
    _el(browser, "confirm-ok").click()


def test_create_role_for_lambda_inline_policy_and_delete(browser: Any, nimbus_server: NimbusProcess) -> None:
    from selenium.webdriver.support.ui import Select

    iam = nimbus_server.client("iam")
    sign_in(browser, nimbus_server)
    go(browser, nimbus_server, "#/iam")
    wait_for(browser, lambda: browser.find_elements(By.ID, "iam-roles"), what="roles table")
    _el(browser, "iam-create-role").click()
    _el(browser, "role-name").send_keys("console-fn-role")
    Select(_el(browser, "role-service")).select_by_value("lambda.amazonaws.com")
    _el(browser, "role-policy-AWSLambdaBasicExecutionRole").click()
    _el(browser, "role-submit").click()
    wait_for(browser, lambda: "console-fn-role" in browser.find_element(By.ID, "role-title").text, what="the role's page")
    role = iam.get_role(RoleName="console-fn-role")["Role"]
    trust = role["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert trust["Statement"][0]["Action"] == "sts:AssumeRole"
    attached = iam.list_attached_role_policies(RoleName="console-fn-role")["AttachedPolicies"]
    assert [a["PolicyArn"] for a in attached] == [BASIC]
    wait_for(browser, lambda: "AWSLambdaBasicExecutionRole" in browser.find_element(By.ID, "attached-policies").text)
    assert "lambda.amazonaws.com" in browser.find_element(By.ID, "role-trust-policy").text
    # the list shows its trusted entity
    go(browser, nimbus_server, "#/iam")
    wait_for(browser, lambda: "console-fn-role" in browser.find_element(By.ID, "iam-roles").text)
    row = [r for r in browser.find_elements(By.CSS_SELECTOR, "#iam-roles tbody tr") if "console-fn-role" in r.text][0]
    assert "lambda.amazonaws.com" in row.text
    row.find_element(By.CSS_SELECTOR, "a.role-link").click()
    # an inline policy
    _el(browser, "inline-policy-create").click()
    _el(browser, "inline-policy-name").send_keys("read-bucket")
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}
    area = _el(browser, "inline-policy-document")
    area.clear()
    area.send_keys(json.dumps(doc))
    _el(browser, "inline-policy-submit").click()
    wait_for(browser, lambda: "read-bucket" in browser.find_element(By.ID, "inline-policies").text, what="inline policy listed")
    assert iam.get_role_policy(RoleName="console-fn-role", PolicyName="read-bucket")["PolicyDocument"] == doc
    _el(browser, "inline-edit-read-bucket").click()
    wait_for(browser, lambda: "s3:GetObject" in _el(browser, "inline-policy-document").get_attribute("value"), what="the document decoded")
    _el(browser, "modal-cancel").click()
    # delete the role: policies go first
    _el(browser, "role-delete").click()
    _confirm(browser)
    wait_for(browser, lambda: browser.find_elements(By.ID, "iam-roles"), what="back on the roles list")
    wait_for(browser, lambda: "console-fn-role" not in browser.find_element(By.ID, "iam-roles").text)
    assert "console-fn-role" not in [r["RoleName"] for r in iam.list_roles()["Roles"]]


def test_user_access_key_shown_once_works_then_delete(browser: Any, nimbus_server: NimbusProcess) -> None:
    iam = nimbus_server.client("iam")
    sign_in(browser, nimbus_server)
    go(browser, nimbus_server, "#/iam/users")
    _el(browser, "iam-create-user").click()
    _el(browser, "user-name").send_keys("console-alice")
    _el(browser, "user-submit").click()
    wait_for(browser, lambda: "console-alice" in browser.find_element(By.ID, "user-title").text, what="the user's page")
    _el(browser, "user-create-key").click()
    key_id = _el(browser, "key-id").text
    secret = _el(browser, "key-secret").text
    assert key_id and secret
    _el(browser, "key-done").click()
    wait_for(browser, lambda: key_id in browser.find_element(By.ID, "user-keys").text, what="the key listed")
    assert secret not in page_text(browser)  # shown once
    sts = nimbus_server.client("sts", access_key=key_id, secret_key=secret)
    who = sts.get_caller_identity()
    assert who["Arn"] == "arn:aws:iam::000000000000:user/console-alice"
    # deactivate, then activate again
    _el(browser, f"key-toggle-{key_id}").click()
    wait_for(browser, lambda: "Inactive" in browser.find_element(By.ID, f"key-status-{key_id}").text, what="inactive")
    assert iam.list_access_keys(UserName="console-alice")["AccessKeyMetadata"][0]["Status"] == "Inactive"
    _el(browser, f"key-toggle-{key_id}").click()
    wait_for(browser, lambda: "Active" == browser.find_element(By.ID, f"key-status-{key_id}").text, what="active")
    # a managed policy attached from the page
    _el(browser, "attach-policy").click()
    from selenium.webdriver.support.ui import Select

    Select(_el(browser, "attach-policy-select")).select_by_value("arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    _el(browser, "attach-policy-submit").click()
    wait_for(browser, lambda: "AmazonS3ReadOnlyAccess" in browser.find_element(By.ID, "attached-policies").text, what="attached")
    # delete the user: keys and policies go first
    _el(browser, "user-delete").click()
    _confirm(browser)
    wait_for(browser, lambda: browser.find_elements(By.ID, "iam-users"), what="back on the users list")
    assert "console-alice" not in [u["UserName"] for u in iam.list_users()["Users"]]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            sts.get_caller_identity()
        except Exception:  # noqa: BLE001 - the deleted key is refused
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the deleted user's key still works")


def test_customer_policy_create_view_and_attach_from_role_page(browser: Any, nimbus_server: NimbusProcess) -> None:
    iam = nimbus_server.client("iam")
    sign_in(browser, nimbus_server)
    go(browser, nimbus_server, "#/iam/policies")
    _el(browser, "iam-create-policy").click()
    _el(browser, "policy-name").send_keys("console-put-records")
    area = _el(browser, "policy-document")
    area.clear()
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "firehose:PutRecord", "Resource": "*"}]}
    area.send_keys(json.dumps(doc))
    _el(browser, "policy-submit").click()
    wait_for(browser, lambda: "firehose:PutRecord" in browser.find_element(By.ID, "policy-document-view").text, what="the policy's page")
    arn = "arn:aws:iam::000000000000:policy/console-put-records"
    assert iam.get_policy(PolicyArn=arn)["Policy"]["PolicyName"] == "console-put-records"
    # the role form offers it
    iam.create_role(RoleName="console-policy-role", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "firehose.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
    go(browser, nimbus_server, "#/iam/roles/console-policy-role")
    _el(browser, "attach-policy").click()
    from selenium.webdriver.support.ui import Select

    Select(_el(browser, "attach-policy-select")).select_by_value(arn)
    _el(browser, "attach-policy-submit").click()
    wait_for(browser, lambda: "console-put-records" in browser.find_element(By.ID, "attached-policies").text, what="attached")
    assert [a["PolicyArn"] for a in iam.list_attached_role_policies(RoleName="console-policy-role")["AttachedPolicies"]] == [arn]
    _el(browser, "detach-console-put-records").click()
    _confirm(browser)
    wait_for(browser, lambda: "console-put-records" not in browser.find_element(By.ID, "attached-policies").text, what="detached")
    go(browser, nimbus_server, "#/iam/policies")
    wait_for(browser, lambda: "console-put-records" in browser.find_element(By.ID, "iam-policies").text)
    browser.find_element(By.LINK_TEXT, "console-put-records").click()
    _el(browser, "policy-delete").click()
    _confirm(browser)
    wait_for(browser, lambda: browser.find_elements(By.ID, "iam-policies") and "console-put-records" not in browser.find_element(By.ID, "iam-policies").text)
    assert all(p["Arn"] != arn for p in iam.list_policies(Scope="Local")["Policies"])


def _password_sign_in(server: NimbusProcess, user: str, password: str) -> int:
    import urllib.error
    import urllib.request

    body = json.dumps({"account": "000000000000", "userName": user, "password": password}).encode()
    req = urllib.request.Request(server.endpoint + "/_nimbus/iam/signin", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_groups_and_console_passwords(browser: Any, nimbus_server: NimbusProcess) -> None:
    from selenium.webdriver.support.ui import Select

    iam = nimbus_server.client("iam")
    iam.create_user(UserName="console-bob")
    sign_in(browser, nimbus_server)
    # a group with a managed policy
    go(browser, nimbus_server, "#/iam/groups")
    _el(browser, "iam-create-group").click()
    _el(browser, "group-name").send_keys("console-readers")
    _el(browser, "group-submit").click()
    wait_for(browser, lambda: "console-readers" in browser.find_element(By.ID, "group-title").text, what="the group's page")
    _el(browser, "attach-policy").click()
    Select(_el(browser, "attach-policy-select")).select_by_value("arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    _el(browser, "attach-policy-submit").click()
    wait_for(browser, lambda: "AmazonS3ReadOnlyAccess" in browser.find_element(By.ID, "attached-policies").text, what="attached")
    _el(browser, "group-add-users").click()
    _el(browser, "group-add-console-bob").click()
    _el(browser, "group-add-submit").click()
    wait_for(browser, lambda: "console-bob" in browser.find_element(By.ID, "group-users").text, what="bob in the group")
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName="console-bob")["Groups"]] == ["console-readers"]
    assert [p["PolicyName"] for p in iam.list_attached_group_policies(GroupName="console-readers")["AttachedPolicies"]] == ["AmazonS3ReadOnlyAccess"]

    # the user's page: its group, and console access with a password
    go(browser, nimbus_server, "#/iam/users/console-bob")
    wait_for(browser, lambda: "console-readers" in browser.find_element(By.ID, "user-groups").text, what="the user's group")
    assert _el(browser, "login-status").text == "Disabled"
    _el(browser, "login-create").click()
    _el(browser, "login-password").send_keys("Console-Pass-123!")
    _el(browser, "login-reset").click()  # no reset required at first sign-in
    _el(browser, "login-submit").click()
    wait_for(browser, lambda: browser.find_elements(By.ID, "login-status") and browser.find_element(By.ID, "login-status").text == "Enabled",
             what="console access enabled")
    assert iam.get_login_profile(UserName="console-bob")["LoginProfile"]["PasswordResetRequired"] is False
    assert _password_sign_in(nimbus_server, "console-bob", "Console-Pass-123!") == 200
    assert _password_sign_in(nimbus_server, "console-bob", "wrong-password") != 200
    # a password the policy refuses is answered, not stored
    _el(browser, "login-update").click()
    _el(browser, "login-password").send_keys("short")
    _el(browser, "login-submit").click()
    wait_for(browser, lambda: "PasswordPolicyViolation" in page_text(browser), what="the refusal")
    assert _password_sign_in(nimbus_server, "console-bob", "Console-Pass-123!") == 200
    go(browser, nimbus_server, "#/iam/users/console-bob")

    # removing from the group on the user's page; then deleting the user takes its password with it
    _el(browser, "user-group-remove-console-readers").click()
    wait_for(browser, lambda: "In no group" in browser.find_element(By.ID, "user-groups").text, what="out of the group")
    _el(browser, "user-delete").click()
    _confirm(browser)
    wait_for(browser, lambda: browser.find_elements(By.ID, "iam-users"), what="back on the users list")
    assert "console-bob" not in [u["UserName"] for u in iam.list_users()["Users"]]

    # delete the group: its policy is detached first
    go(browser, nimbus_server, "#/iam/groups/console-readers")
    _el(browser, "group-delete").click()
    _confirm(browser)
    wait_for(browser, lambda: browser.find_elements(By.ID, "iam-groups"), what="back on the groups list")
    assert "console-readers" not in [g["GroupName"] for g in iam.list_groups()["Groups"]]
