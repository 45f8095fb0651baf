"""Console fixtures: a signed-in HTTP client for the console's API, and a real headless Chromium
(Debian's chromium and chromium-driver, which `make test` installs) driven by Selenium.

The browser tests skip, saying why, only where no Chromium can be installed; `make test` installs it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.cookiejar import CookieJar
from typing import Any

import pytest

from tests.conftest import ACCESS_KEY, SECRET_KEY, NimbusProcess

CONSOLE = "/_nimbus/console"


class ConsoleClient:
    """The console's JSON API as the page's JavaScript calls it (cookie session, X-Nimbus-Console header)."""

    def __init__(self, server: NimbusProcess) -> None:
        self.server = server
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def post(self, name: str, doc: dict[str, Any], *, header: bool = True) -> tuple[int, Any]:
        req = urllib.request.Request(self.server.endpoint + f"{CONSOLE}/api/{name}", data=json.dumps(doc).encode(), method="POST")
        req.add_header("content-type", "application/json")
        if header:
            req.add_header("x-nimbus-console", "1")
        try:
            with self.opener.open(req, timeout=60) as r:
                return r.status, json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def get(self, path: str) -> tuple[int, bytes, dict[str, str]]:
        try:
            with self.opener.open(self.server.endpoint + path, timeout=30) as r:
                return r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read(), dict(e.headers)

    def login(self, key: str = ACCESS_KEY, secret: str = SECRET_KEY) -> "ConsoleClient":
        status, doc = self.post("login", {"accessKeyId": key, "secretAccessKey": secret})
        assert status == 200, doc
        return self

    def call(self, service: str, operation: str, params: dict[str, Any] | None = None, region: str = "us-east-1") -> Any:
        status, doc = self.post("call", {"service": service, "operation": operation, "params": params or {}, "region": region})
        if status != 200:
            raise ConsoleError(status, doc)
        return doc["data"]


class ConsoleError(Exception):
    def __init__(self, status: int, doc: Any) -> None:
        super().__init__(f"{status} {doc}")
        self.status = status
        self.code = (doc.get("error") or {}).get("code")
        self.doc = doc


@pytest.fixture()
def console(nimbus_server: NimbusProcess) -> ConsoleClient:
    return ConsoleClient(nimbus_server).login()


def _chromium() -> tuple[str, str] | None:
    binary = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    return (binary, driver) if binary and driver else None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium (one per test module), or a skip naming what is missing."""
    found = _chromium()
    if found is None:
        pytest.skip("Chromium and chromedriver are not installed (make test installs Debian's chromium chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed (a test dependency)")
    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager try to download a driver
    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(found[1]))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def sign_in(browser: Any, server: NimbusProcess, region: str = "us-east-1") -> None:
    """Sign the browser in with the test keys through the console's own form."""
    from selenium.webdriver.common.by import By

    browser.delete_all_cookies()
    browser.get(server.endpoint + CONSOLE + "/")
    browser.execute_script("localStorage.setItem('nimbus.region', arguments[0])", region)
    wait_for(browser, lambda: browser.find_elements(By.ID, "login-form") or browser.find_element(By.ID, "whoami").text)
    if browser.find_elements(By.ID, "login-form"):
        browser.find_element(By.ID, "login-mode-key").click()  # the access-key tab (the form opens on "IAM user")
        browser.find_element(By.ID, "login-key").send_keys(ACCESS_KEY)
        browser.find_element(By.ID, "login-secret").send_keys(SECRET_KEY)
        browser.find_element(By.ID, "login-submit").click()
    wait_for(browser, lambda: browser.find_element(By.ID, "whoami").text, what="signed in")


def wait_for(browser: Any, condition: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
    """Poll ``condition`` until it returns something truthy; fail with the page's text and console log."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            found = condition()
            if found:
                return found
        except Exception as e:  # noqa: BLE001 - stale elements while the page re-renders
            last_error = e
        time.sleep(0.1)
    try:
        text = browser.find_element("tag name", "body").text
    except Exception:  # noqa: BLE001
        text = "?"
    raise AssertionError(f"timed out waiting for {what or condition}: last error {last_error!r}; page text:\n{text[:3000]}")


def go(browser: Any, server: NimbusProcess, hash_: str) -> None:
    """Open a console page by its hash route, e.g. ``#/lambda`` (rendered afresh even when it is the page
    already shown: the same URL fires no hashchange)."""
    url = server.endpoint + CONSOLE + "/" + hash_
    if browser.current_url == url:
        browser.refresh()
    else:
        browser.get(url)


def page_text(browser: Any) -> str:
    return str(browser.find_element("tag name", "body").text)
