"""The console in a real headless Chromium: sign-in, navigation, the home page's counts, region switching,
sign-out and the `nimbus console` link; the page's JavaScript runs against a real server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

By = pytest.importorskip("selenium.webdriver.common.by", reason="selenium is a test dependency").By

from tests.conftest import NimbusProcess
from tests.integration.console.conftest import CONSOLE, go, page_text, sign_in, wait_for


def test_sign_in_form_rejects_wrong_keys_then_signs_in(browser: Any, nimbus_server: NimbusProcess) -> None:
    browser.delete_all_cookies()
    browser.get(nimbus_server.endpoint + CONSOLE + "/")
    wait_for(browser, lambda: browser.find_elements(By.ID, "login-form"))
    browser.find_element(By.ID, "login-mode-key").click()
    browser.find_element(By.ID, "login-key").send_keys("NKIATESTACCESSKEY001")
    browser.find_element(By.ID, "login-secret").send_keys("wrong")
    browser.find_element(By.ID, "login-submit").click()
    wait_for(browser, lambda: "SignInFailed" in page_text(browser), what="the sign-in error")
    sign_in(browser, nimbus_server)
    wait_for(browser, lambda: "arn:aws:iam::000000000000:root" in browser.find_element(By.ID, "whoami").text)


def test_home_counts_what_the_sdk_created(browser: Any, nimbus_server: NimbusProcess) -> None:
    nimbus_server.client("s3").create_bucket(Bucket="shell-home-1")
    nimbus_server.client("s3").create_bucket(Bucket="shell-home-2")
    sign_in(browser, nimbus_server)
    go(browser, nimbus_server, "#/")
    cards = wait_for(browser, lambda: browser.find_elements(By.ID, "home-cards"))[0]
    wait_for(browser, lambda: "S3 buckets\n2" in cards.text or "S3 buckets\n" in cards.text and "2" in cards.text, what="bucket count")
    for name in ("lambda", "apigateway", "firehose", "kinesis", "s3", "logs", "iam"):
        assert browser.find_elements(By.ID, f"nav-{name}"), name


def test_region_choice_scopes_the_calls(browser: Any, nimbus_server: NimbusProcess) -> None:
    nimbus_server.client("kinesis", region="eu-west-1").create_stream(StreamName="shell-eu-only", ShardCount=1)
    sign_in(browser, nimbus_server, region="eu-west-1")
    go(browser, nimbus_server, "#/")
    wait_for(browser, lambda: "Region: eu-west-1" in page_text(browser))
    cards = browser.find_element(By.ID, "home-cards")
    wait_for(browser, lambda: "Kinesis streams\n1" in cards.text, what="one stream in eu-west-1")


def test_sign_out_and_the_cli_link(browser: Any, nimbus_server: NimbusProcess) -> None:
    sign_in(browser, nimbus_server)
    browser.find_element(By.ID, "signout").click()
    wait_for(browser, lambda: browser.find_elements(By.ID, "login-form"), what="the sign-in form after sign-out")
    cp = subprocess.run([str(Path(sys.executable).parent / "nimbus"), "console"], env=nimbus_server.aws_env(),
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    browser.get(cp.stdout.strip())
    wait_for(browser, lambda: browser.find_elements(By.ID, "nav-lambda"), what="signed in by the link")
    assert "arn:aws:iam::000000000000:root" in browser.find_element(By.ID, "whoami").text


def test_iam_user_signs_in_with_a_password_and_changes_it(browser: Any, nimbus_server: NimbusProcess) -> None:
    iam = nimbus_server.client("iam")
    iam.create_user(UserName="shell-pw-user")
    iam.create_login_profile(UserName="shell-pw-user", Password="First-Pass-123", PasswordResetRequired=True)
    browser.delete_all_cookies()
    browser.get(nimbus_server.endpoint + CONSOLE + "/")
    wait_for(browser, lambda: browser.find_elements(By.ID, "login-form"))
    browser.find_element(By.ID, "login-mode-user").click()
    browser.find_element(By.ID, "login-user").send_keys("shell-pw-user")
    browser.find_element(By.ID, "login-password").send_keys("First-Pass-123")
    browser.find_element(By.ID, "login-submit").click()
    wait_for(browser, lambda: browser.find_elements(By.ID, "pw-form"), what="the change-password screen")
    browser.find_element(By.ID, "pw-old").send_keys("First-Pass-123")
    browser.find_element(By.ID, "pw-new").send_keys("Second-Pass-456")
    browser.find_element(By.ID, "pw-again").send_keys("Second-Pass-456")
    browser.find_element(By.ID, "pw-submit").click()
    wait_for(browser, lambda: browser.find_elements(By.ID, "home-cards"), what="the home page after the change")
    assert "user/shell-pw-user" in browser.find_element(By.ID, "whoami").text
    assert iam.get_login_profile(UserName="shell-pw-user")["LoginProfile"]["PasswordResetRequired"] is False
