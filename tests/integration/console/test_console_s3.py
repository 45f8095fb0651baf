"""The console's S3 pages in a real headless Chromium against a real server: buckets (create with the server's
naming error, delete a non-empty one, empty it), objects (upload through the file input, browse odd keys,
download by the presigned link, folders, delete), an object's tags, copy and delete, a bucket's Lambda event
notification, policy and CORS. What the browser does is checked with boto3."""

from __future__ import annotations

import json
import os
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

By = pytest.importorskip("selenium.webdriver.common.by", reason="selenium is a test dependency").By

from botocore.exceptions import ClientError  # noqa: E402

from tests.conftest import NimbusProcess  # noqa: E402
from tests.integration.console.conftest import CONSOLE, page_text, sign_in, wait_for  # noqa: E402
from tests.integration.lambda_.functions import create as create_function  # noqa: E402


@pytest.fixture(scope="module")
def ui(browser: Any, nimbus_server: NimbusProcess) -> Any:
    sign_in(browser, nimbus_server)
    return browser


@pytest.fixture(autouse=True)
def no_script_errors(ui: Any) -> Any:
    """No uncaught JavaScript error on the pages a test drove."""
    ui.get_log("browser")  # what came before
    yield
    errors = [e["message"] for e in ui.get_log("browser") if e.get("source") == "javascript"]
    assert not errors, errors


def open_page(browser: Any, server: NimbusProcess, hash_: str) -> None:
    """A fresh load of a console page (no dialog or state left from an earlier step)."""
    browser.get("about:blank")
    browser.get(server.endpoint + CONSOLE + "/" + hash_)


def q(value: str) -> str:
    return urllib.request.quote(value, safe="")


def click(browser: Any, element_id: str) -> None:
    def ready() -> Any:
        el = browser.find_element(By.ID, element_id)
        return el if el.is_displayed() and el.is_enabled() else None
    wait_for(browser, ready, what=element_id).click()


def confirm(browser: Any) -> None:
    wait_for(browser, lambda: browser.find_elements(By.ID, "confirm-ok"), what="the confirmation dialog")
    browser.find_element(By.ID, "confirm-ok").click()


def row_link(browser: Any, cls: str, key: str) -> Any:
    """The link of the folder (``s3-folder``) or object (``s3-object``) row with this key."""
    def find() -> Any:
        for a in browser.find_elements(By.CSS_SELECTOR, f"#s3-objects a.{cls}"):
            if a.get_attribute("data-key") == key:
                return a
        return None
    return wait_for(browser, find, what=f"the {cls} row {key!r}")


def shown_keys(browser: Any) -> list[str]:
    return [a.get_attribute("data-key") for a in browser.find_elements(By.CSS_SELECTOR, "#s3-objects a.s3-object, #s3-objects a.s3-folder")]


def fetch(url: str) -> tuple[bytes, dict[str, str]]:
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read(), {k.lower(): v for k, v in r.headers.items()}


def downloads_to(browser: Any, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)})


def downloaded(browser: Any, path: Path) -> bytes:
    """The bytes of a file the browser downloaded, once it is complete."""
    wait_for(browser, lambda: path.exists() and not list(path.parent.glob("*.crdownload")), what=f"the download {path.name}")
    return path.read_bytes()


def test_create_bucket_shows_the_naming_error_then_creates(ui: Any, nimbus_server: NimbusProcess) -> None:
    open_page(ui, nimbus_server, "#/s3")
    click(ui, "s3-create-bucket")
    name = wait_for(ui, lambda: ui.find_element(By.ID, "s3-bucket-name"))
    name.send_keys("Bad_Name")
    click(ui, "s3-bucket-submit")
    wait_for(ui, lambda: "InvalidBucketName" in page_text(ui), what="the server's naming error")
    name.clear()
    name.send_keys("console-made")
    click(ui, "s3-bucket-submit")
    wait_for(ui, lambda: "console-made" in ui.find_element(By.ID, "s3-buckets").text, what="the new bucket listed")
    nimbus_server.client("s3").head_bucket(Bucket="console-made")
    wait_for(ui, lambda: "us-east-1" in ui.find_element(By.ID, "s3-buckets").text, what="its region")
    # the filter narrows the list by name
    nimbus_server.client("s3").create_bucket(Bucket="console-other")
    open_page(ui, nimbus_server, "#/s3")
    wait_for(ui, lambda: "console-other" in ui.find_element(By.ID, "s3-buckets").text)
    ui.find_element(By.ID, "s3-bucket-filter").send_keys("made")
    wait_for(ui, lambda: "console-other" not in ui.find_element(By.ID, "s3-buckets").text, what="the filter")
    assert "console-made" in ui.find_element(By.ID, "s3-buckets").text


def test_upload_text_and_binary_files_then_download_them(ui: Any, nimbus_server: NimbusProcess, tmp_path: Path) -> None:
    s3 = nimbus_server.client("s3")
    s3.create_bucket(Bucket="console-up")
    s3.put_object(Bucket="console-up", Key="in/", Body=b"")
    text = tmp_path / "hello wörld.txt"
    text.write_text("hello, console\nsecond line ✓\n", encoding="utf-8")
    binary = tmp_path / "blob.bin"
    payload = bytes(range(256)) * 512 + os.urandom(70_001)
    binary.write_bytes(payload)
    open_page(ui, nimbus_server, "#/s3/buckets/console-up?prefix=in%2F")
    wait_for(ui, lambda: ui.find_elements(By.ID, "s3-objects"))
    click(ui, "s3-upload")
    wait_for(ui, lambda: ui.find_elements(By.ID, "s3-upload-input"))[0].send_keys(f"{text}\n{binary}")
    wait_for(ui, lambda: "blob.bin" in ui.find_element(By.ID, "s3-upload-list").text, what="the chosen files listed")
    click(ui, "s3-upload-submit")
    wait_for(ui, lambda: {"in/hello wörld.txt", "in/blob.bin"} <= set(shown_keys(ui)), what="the uploaded objects listed")
    got = s3.get_object(Bucket="console-up", Key="in/hello wörld.txt")
    assert got["Body"].read() == text.read_bytes()
    assert got["ContentType"] == "text/plain"
    got = s3.get_object(Bucket="console-up", Key="in/blob.bin")
    assert got["Body"].read() == payload
    assert "in/" not in shown_keys(ui)  # the folder's own marker object is not listed inside it
    downloads_to(ui, tmp_path / "downloads")
    row = row_link(ui, "s3-object", "in/blob.bin").find_element(By.XPATH, "ancestor::tr")
    row.find_element(By.CSS_SELECTOR, "button.s3-download").click()
    assert downloaded(ui, tmp_path / "downloads" / "blob.bin") == payload

    # the object page: properties, a text preview, and a presigned download link
    row_link(ui, "s3-object", "in/hello wörld.txt").click()
    wait_for(ui, lambda: ui.find_elements(By.ID, "obj-preview-text"), what="the text preview")
    assert "second line ✓" in ui.find_element(By.ID, "obj-preview-text").text
    props = ui.find_element(By.ID, "obj-properties").text
    assert "text/plain" in props and "STANDARD" in props
    body, headers = fetch(ui.find_element(By.ID, "obj-download").get_attribute("href"))
    assert body == text.read_bytes()
    assert headers["content-disposition"].startswith("attachment;") and "hello%20w%C3%B6rld.txt" in headers["content-disposition"]
    open_page(ui, nimbus_server, "#/s3/buckets/console-up/object?key=" + q("in/blob.bin"))
    wait_for(ui, lambda: "not text" in ui.find_element(By.ID, "obj-preview").text, what="no preview of a binary")
    body, _ = fetch(ui.find_element(By.ID, "obj-download").get_attribute("href"))
    assert body == payload
    assert s3.head_object(Bucket="console-up", Key="in/blob.bin")["ETag"] in ui.find_element(By.ID, "obj-properties").text


def test_a_large_file_goes_up_as_a_multipart_upload(ui: Any, nimbus_server: NimbusProcess, tmp_path: Path) -> None:
    s3 = nimbus_server.client("s3")
    s3.create_bucket(Bucket="console-big")
    big = tmp_path / "big.bin"
    payload = os.urandom(1024 * 1024) * 19 + os.urandom(12_345)  # > 16 MB: three parts of 8 MB (the last short)
    big.write_bytes(payload)
    open_page(ui, nimbus_server, "#/s3/buckets/console-big")
    wait_for(ui, lambda: ui.find_elements(By.ID, "s3-objects"))
    click(ui, "s3-upload")
    wait_for(ui, lambda: ui.find_elements(By.ID, "s3-upload-input"))[0].send_keys(str(big))
    wait_for(ui, lambda: "big.bin" in ui.find_element(By.ID, "s3-upload-list").text, what="the file listed")
    click(ui, "s3-upload-submit")
    wait_for(ui, lambda: "big.bin" in shown_keys(ui), timeout=60, what="the uploaded object listed")
    head = s3.head_object(Bucket="console-big", Key="big.bin")
    assert head["ETag"].strip('"').endswith("-3")  # a multipart upload's ETag: the MD5 of the parts' MD5s, -3
    assert head["ContentLength"] == len(payload)
    assert s3.get_object(Bucket="console-big", Key="big.bin")["Body"].read() == payload
    assert not s3.list_multipart_uploads(Bucket="console-big").get("Uploads")


def test_browse_folders_with_odd_keys(ui: Any, nimbus_server: NimbusProcess, tmp_path: Path) -> None:
    s3 = nimbus_server.client("s3")
    s3.create_bucket(Bucket="console-browse")
    keys = {"dir one/ü ñ/x.txt": b"unicode", "dir one/../escape.txt": b"dot dot", "a%41/b+c&d=e?.txt": b"percent",
            "top.txt": b"top", "z1.txt": b"1", "z2.txt": b"2", "z3.txt": b"3"}
    for k, v in keys.items():
        s3.put_object(Bucket="console-browse", Key=k, Body=v)
    open_page(ui, nimbus_server, "#/s3/buckets/console-browse")
    row_link(ui, "s3-folder", "dir one/").click()
    row_link(ui, "s3-folder", "dir one/ü ñ/")
    row_link(ui, "s3-folder", "dir one/../").click()
    row_link(ui, "s3-object", "dir one/../escape.txt").click()
    wait_for(ui, lambda: ui.find_element(By.ID, "obj-key").text == "dir one/../escape.txt", what="the object's exact key")
    wait_for(ui, lambda: "dot dot" in ui.find_element(By.ID, "obj-preview").text, what="its preview")
    # the link's own URL (a browser resolves its ".." itself, so a click downloads through the API instead)
    body, _ = fetch(ui.find_element(By.ID, "obj-download").get_dom_attribute("href"))
    assert body == b"dot dot"
    downloads_to(ui, tmp_path / "downloads")
    ui.find_element(By.ID, "obj-download").click()
    assert downloaded(ui, tmp_path / "downloads" / "escape.txt") == b"dot dot"
    # an upload into a ".." folder (a browser cannot PUT to such a URL: it goes through the API)
    ui.find_element(By.LINK_TEXT, "../").click()
    click(ui, "s3-upload")
    (tmp_path / "up.txt").write_bytes(b"into dot dot")
    wait_for(ui, lambda: ui.find_elements(By.ID, "s3-upload-input"))[0].send_keys(str(tmp_path / "up.txt"))
    click(ui, "s3-upload-submit")
    row_link(ui, "s3-object", "dir one/../up.txt")
    assert s3.get_object(Bucket="console-browse", Key="dir one/../up.txt")["Body"].read() == b"into dot dot"
    # breadcrumbs lead back along the prefix
    ui.find_element(By.LINK_TEXT, "dir one/").click()
    row_link(ui, "s3-folder", "dir one/ü ñ/").click()
    row_link(ui, "s3-object", "dir one/ü ñ/x.txt").click()
    wait_for(ui, lambda: "unicode" in ui.find_element(By.ID, "obj-preview").text)
    # "%", "+", "&", "=" and "?" in a key survive the page's address
    open_page(ui, nimbus_server, "#/s3/buckets/console-browse")
    row_link(ui, "s3-folder", "a%41/").click()
    row_link(ui, "s3-object", "a%41/b+c&d=e?.txt").click()
    wait_for(ui, lambda: ui.find_element(By.ID, "obj-key").text == "a%41/b+c&d=e?.txt")
    wait_for(ui, lambda: "percent" in ui.find_element(By.ID, "obj-preview").text)

    # pages of 2 with "Load more", and the filter on the loaded names
    open_page(ui, nimbus_server, "#/s3/buckets/console-browse?max=2")
    wait_for(ui, lambda: len(shown_keys(ui)) == 2, what="the first page")
    while ui.find_element(By.ID, "s3-load-more").is_displayed():
        before = len(shown_keys(ui))
        click(ui, "s3-load-more")
        wait_for(ui, lambda: len(shown_keys(ui)) > before, what="the next page")
    assert shown_keys(ui) == ["a%41/", "dir one/", "top.txt", "z1.txt", "z2.txt", "z3.txt"]
    ui.find_element(By.ID, "s3-filter").send_keys("Z")
    wait_for(ui, lambda: shown_keys(ui) == ["z1.txt", "z2.txt", "z3.txt"], what="the filtered rows")


def test_create_folder_and_delete_selected(ui: Any, nimbus_server: NimbusProcess) -> None:
    s3 = nimbus_server.client("s3")
    s3.create_bucket(Bucket="console-del")
    for k in ("keep.txt", "gone.txt", "old/a.txt", "old/deeper/b.txt"):
        s3.put_object(Bucket="console-del", Key=k, Body=b"x")
    open_page(ui, nimbus_server, "#/s3/buckets/console-del")
    wait_for(ui, lambda: "gone.txt" in shown_keys(ui))
    click(ui, "s3-create-folder")
    wait_for(ui, lambda: ui.find_element(By.ID, "s3-folder-name")).send_keys("new folder\n")  # Enter submits
    row_link(ui, "s3-folder", "new folder/")
    assert s3.head_object(Bucket="console-del", Key="new folder/")["ContentLength"] == 0

    def box(key: str) -> Any:
        return next(b for b in ui.find_elements(By.CSS_SELECTOR, "#s3-objects input.s3-select") if b.get_attribute("data-key") == key)

    box("gone.txt").click()
    box("old/").click()
    click(ui, "s3-delete-selected")
    confirm(ui)
    wait_for(ui, lambda: "gone.txt" not in shown_keys(ui) and "keep.txt" in shown_keys(ui), what="the listing after the delete")
    left = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="console-del").get("Contents", []))
    assert left == ["keep.txt", "new folder/"]


def test_object_tags_copy_and_delete(ui: Any, nimbus_server: NimbusProcess) -> None:
    s3 = nimbus_server.client("s3")
    s3.create_bucket(Bucket="console-obj")
    s3.put_object(Bucket="console-obj", Key="docs/report.json", Body=b'{"a": 1}', ContentType="application/json",
                  Metadata={"owner": "ana"}, Tagging="stage=draft")
    open_page(ui, nimbus_server, "#/s3/buckets/console-obj/object?key=" + q("docs/report.json"))
    wait_for(ui, lambda: ui.find_elements(By.ID, "obj-tags"))
    assert "x-amz-meta-owner" in ui.find_element(By.ID, "obj-metadata").text and "ana" in ui.find_element(By.ID, "obj-metadata").text
    assert [v.get_attribute("value") for v in ui.find_elements(By.CSS_SELECTOR, "#obj-tags .s3-tag-key")] == ["stage"]
    value = ui.find_element(By.CSS_SELECTOR, "#obj-tags .s3-tag-value")
    value.clear()
    value.send_keys("final")
    click(ui, "obj-tags-add")
    ui.find_elements(By.CSS_SELECTOR, "#obj-tags .s3-tag-key")[-1].send_keys("team")
    ui.find_elements(By.CSS_SELECTOR, "#obj-tags .s3-tag-value")[-1].send_keys("data")
    click(ui, "obj-tags-save")
    want = [{"Key": "stage", "Value": "final"}, {"Key": "team", "Value": "data"}]
    wait_for(ui, lambda: sorted(s3.get_object_tagging(Bucket="console-obj", Key="docs/report.json")["TagSet"], key=lambda t: t["Key"]) == want,
             what="the tags saved")

    # edit metadata: CopyObject onto itself with MetadataDirective REPLACE; the tags stay
    click(ui, "obj-meta-edit")
    ctype = wait_for(ui, lambda: ui.find_element(By.ID, "obj-meta-content-type"))
    ctype.clear()
    ctype.send_keys("text/plain")
    ui.find_element(By.ID, "obj-meta-cache-control").send_keys("max-age=60")
    click(ui, "obj-meta-add")
    ui.find_elements(By.CSS_SELECTOR, "#obj-meta-user .s3-tag-key")[-1].send_keys("reviewer")
    ui.find_elements(By.CSS_SELECTOR, "#obj-meta-user .s3-tag-value")[-1].send_keys("bo")
    click(ui, "obj-meta-submit")
    wait_for(ui, lambda: s3.head_object(Bucket="console-obj", Key="docs/report.json")["ContentType"] == "text/plain", what="the metadata saved")
    head = s3.head_object(Bucket="console-obj", Key="docs/report.json")
    assert head["Metadata"] == {"owner": "ana", "reviewer": "bo"} and head["CacheControl"] == "max-age=60"
    assert len(s3.get_object_tagging(Bucket="console-obj", Key="docs/report.json")["TagSet"]) == 2
    wait_for(ui, lambda: "x-amz-meta-reviewer" in ui.find_element(By.ID, "obj-metadata").text, what="the page showing it")

    # a presigned URL to share, for a chosen time
    click(ui, "obj-share")
    minutes = wait_for(ui, lambda: ui.find_element(By.ID, "obj-share-minutes"))
    minutes.clear()
    minutes.send_keys("5")
    click(ui, "obj-share-create")
    url = wait_for(ui, lambda: ui.find_element(By.ID, "obj-share-url").get_attribute("value"), what="the shared URL")
    assert "X-Amz-Expires=300" in url and fetch(url)[0] == b'{"a": 1}'
    click(ui, "modal-cancel")

    click(ui, "obj-copy")
    dest = wait_for(ui, lambda: ui.find_element(By.ID, "obj-copy-key"))
    dest.clear()
    dest.send_keys("archive/report copy.json")
    click(ui, "obj-copy-submit")
    wait_for(ui, lambda: ui.find_element(By.ID, "obj-key").text == "archive/report copy.json", what="the copy's page")
    copied = s3.get_object(Bucket="console-obj", Key="archive/report copy.json")
    assert copied["Body"].read() == b'{"a": 1}' and copied["Metadata"] == {"owner": "ana", "reviewer": "bo"}

    click(ui, "obj-delete")
    confirm(ui)
    wait_for(ui, lambda: ui.find_elements(By.ID, "s3-objects"), what="the folder after the delete")
    with pytest.raises(ClientError):
        s3.head_object(Bucket="console-obj", Key="archive/report copy.json")
    s3.head_object(Bucket="console-obj", Key="docs/report.json")


def test_bucket_properties_lambda_notification_tags_policy_cors(ui: Any, nimbus_server: NimbusProcess) -> None:
    s3 = nimbus_server.client("s3")
    lam = nimbus_server.client("lambda")
    s3.create_bucket(Bucket="console-props")
    arn = create_function(lam, "console-s3-target")["FunctionArn"]
    open_page(ui, nimbus_server, "#/s3/buckets/console-props?tab=properties")
    wait_for(ui, lambda: ui.find_element(By.ID, "s3-versioning-status").text == "Disabled", what="versioning status")
    click(ui, "s3-versioning-toggle")
    wait_for(ui, lambda: ui.find_element(By.ID, "s3-versioning-status").text == "Enabled", what="versioning enabled")
    assert s3.get_bucket_versioning(Bucket="console-props")["Status"] == "Enabled"
    click(ui, "s3-notification-create")
    wait_for(ui, lambda: ui.find_element(By.ID, "s3-notif-name")).send_keys("uploads")
    ui.find_element(By.ID, "s3-notif-prefix").send_keys("in/")
    ui.find_element(By.ID, "s3-notif-suffix").send_keys(".csv")
    ui.find_element(By.ID, "s3-notif-created").click()
    from selenium.webdriver.support.ui import Select

    Select(ui.find_element(By.ID, "s3-notif-function")).select_by_visible_text("console-s3-target")
    click(ui, "s3-notif-submit")
    wait_for(ui, lambda: "uploads" in ui.find_element(By.ID, "s3-notifications-table").text, what="the notification listed")
    config = s3.get_bucket_notification_configuration(Bucket="console-props")["LambdaFunctionConfigurations"]
    assert len(config) == 1 and config[0]["Id"] == "uploads" and config[0]["LambdaFunctionArn"] == arn
    assert config[0]["Events"] == ["s3:ObjectCreated:*"]
    assert config[0]["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": "in/"}, {"Name": "suffix", "Value": ".csv"}]
    statements = json.loads(lam.get_policy(FunctionName="console-s3-target")["Policy"])["Statement"]
    assert any(s["Principal"] == {"Service": "s3.amazonaws.com"} and "arn:aws:s3:::console-props" in json.dumps(s["Condition"]) for s in statements)

    # bucket tags
    click(ui, "bucket-tags-add")
    ui.find_element(By.CSS_SELECTOR, "#bucket-tags .s3-tag-key").send_keys("env")
    ui.find_element(By.CSS_SELECTOR, "#bucket-tags .s3-tag-value").send_keys("dev")
    click(ui, "bucket-tags-save")
    wait_for(ui, lambda: s3.get_bucket_tagging(Bucket="console-props")["TagSet"] == [{"Key": "env", "Value": "dev"}], what="bucket tags")

    # static website hosting, then served at the path-style website endpoint
    s3.put_object(Bucket="console-props", Key="home.html", Body=b"<h1>site</h1>", ContentType="text/html")
    click(ui, "s3-website-edit")
    from selenium.webdriver.support.ui import Select as _Select

    _Select(wait_for(ui, lambda: ui.find_element(By.ID, "s3-website-mode"))).select_by_value("host")
    index = ui.find_element(By.ID, "s3-website-index")
    index.clear()
    index.send_keys("home.html")
    click(ui, "s3-website-submit")
    wait_for(ui, lambda: ui.find_element(By.ID, "s3-website-status").text == "Enabled", what="website enabled")
    assert s3.get_bucket_website(Bucket="console-props")["IndexDocument"] == {"Suffix": "home.html"}
    assert fetch(ui.find_element(By.ID, "s3-website-url").get_attribute("href"))[0] == b"<h1>site</h1>"

    # removing the notification puts the configuration back without it
    ui.find_element(By.CSS_SELECTOR, "#s3-notifications-table .s3-notification-delete").click()
    confirm(ui)
    wait_for(ui, lambda: not s3.get_bucket_notification_configuration(Bucket="console-props").get("LambdaFunctionConfigurations"),
             what="the notification removed")

    # permissions: a bucket policy and CORS rules, as JSON
    open_page(ui, nimbus_server, "#/s3/buckets/console-props?tab=permissions")
    policy = {"Version": "2012-10-17", "Statement": [{"Sid": "read", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                                      "Resource": "arn:aws:s3:::console-props/*"}]}
    box = wait_for(ui, lambda: ui.find_element(By.ID, "s3-policy"))
    box.send_keys("{not json")
    click(ui, "s3-policy-save")
    wait_for(ui, lambda: "InvalidJSON" in page_text(ui), what="the JSON error")
    box.clear()
    box.send_keys(json.dumps(policy))
    click(ui, "s3-policy-save")
    wait_for(ui, lambda: _policy(s3, "console-props") == policy, what="the policy saved")
    rules = [{"AllowedMethods": ["GET", "PUT"], "AllowedOrigins": ["http://localhost:3000"], "AllowedHeaders": ["*"], "MaxAgeSeconds": 60}]
    cors = ui.find_element(By.ID, "s3-cors")
    cors.send_keys(json.dumps(rules))
    click(ui, "s3-cors-save")
    wait_for(ui, lambda: _cors(s3, "console-props") == rules, what="the CORS rules saved")
    open_page(ui, nimbus_server, "#/s3/buckets/console-props?tab=permissions")
    wait_for(ui, lambda: '"s3:GetObject"' in ui.find_element(By.ID, "s3-policy").get_attribute("value"), what="the policy shown")
    click(ui, "s3-policy-delete")
    confirm(ui)
    wait_for(ui, lambda: _policy(s3, "console-props") is None, what="the policy deleted")


def test_lifecycle_rules(ui: Any, nimbus_server: NimbusProcess) -> None:
    s3 = nimbus_server.client("s3")
    s3.create_bucket(Bucket="console-lc")
    open_page(ui, nimbus_server, "#/s3/buckets/console-lc?tab=management")
    click(ui, "s3-lc-create")
    wait_for(ui, lambda: ui.find_element(By.ID, "s3-lc-id")).send_keys("expire-logs")
    ui.find_element(By.ID, "s3-lc-prefix").send_keys("logs/")
    ui.find_element(By.ID, "s3-lc-expire-days").send_keys("30")
    ui.find_element(By.ID, "s3-lc-abort-days").send_keys("7")
    click(ui, "s3-lc-submit")
    wait_for(ui, lambda: "expire-logs" in ui.find_element(By.ID, "s3-lifecycle-table").text, what="the rule listed")
    rule = s3.get_bucket_lifecycle_configuration(Bucket="console-lc")["Rules"][0]
    assert rule["ID"] == "expire-logs" and rule["Status"] == "Enabled" and rule["Filter"] == {"Prefix": "logs/"}
    assert rule["Expiration"] == {"Days": 30} and rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    ui.find_element(By.CSS_SELECTOR, "#s3-lifecycle-table .s3-lc-edit").click()
    days = wait_for(ui, lambda: ui.find_element(By.ID, "s3-lc-expire-days"))
    days.clear()
    days.send_keys("10")
    click(ui, "s3-lc-submit")
    wait_for(ui, lambda: s3.get_bucket_lifecycle_configuration(Bucket="console-lc")["Rules"][0]["Expiration"] == {"Days": 10},
             what="the rule edited")
    wait_for(ui, lambda: "after 10 days" in ui.find_element(By.ID, "s3-lifecycle-table").text)
    ui.find_element(By.CSS_SELECTOR, "#s3-lifecycle-table .s3-lc-delete").click()
    confirm(ui)
    wait_for(ui, lambda: "No lifecycle rules" in ui.find_element(By.ID, "s3-lifecycle-table").text, what="the rule deleted")
    with pytest.raises(ClientError):
        s3.get_bucket_lifecycle_configuration(Bucket="console-lc")


def _policy(s3: Any, bucket: str) -> Any:
    try:
        return json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError:
        return None


def _cors(s3: Any, bucket: str) -> Any:
    try:
        return s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    except ClientError:
        return None


def test_delete_non_empty_bucket_shows_the_error_then_empty_and_delete(ui: Any, nimbus_server: NimbusProcess) -> None:
    s3 = nimbus_server.client("s3")
    s3.create_bucket(Bucket="console-full")
    with ThreadPoolExecutor(8) as pool:  # more than one DeleteObjects batch of 1000
        list(pool.map(lambda i: s3.put_object(Bucket="console-full", Key=f"k/{i:05d}", Body=b""), range(1003)))
    s3.create_multipart_upload(Bucket="console-full", Key="unfinished")  # also keeps the bucket from being deleted
    open_page(ui, nimbus_server, "#/s3")
    click(ui, "s3-bucket-delete-console-full")
    wait_for(ui, lambda: ui.find_elements(By.ID, "confirm-ok"))
    click(ui, "modal-cancel")  # cancelled: nothing happens, and the button works again
    wait_for(ui, lambda: ui.find_element(By.ID, "s3-bucket-delete-console-full").is_enabled(), what="the button enabled again")
    click(ui, "s3-bucket-delete-console-full")
    confirm(ui)
    error = wait_for(ui, lambda: ui.find_element(By.ID, "s3-delete-error"), what="the delete error")
    assert "BucketNotEmpty" in error.text
    click(ui, "s3-empty-bucket")
    confirm(ui)
    wait_for(ui, lambda: "Emptied console-full: 1003 objects deleted" in ui.find_element(By.ID, "s3-empty-status").text, timeout=60,
             what="the bucket emptied")
    assert s3.list_objects_v2(Bucket="console-full")["KeyCount"] == 0
    assert not s3.list_multipart_uploads(Bucket="console-full").get("Uploads")
    click(ui, "s3-bucket-delete-console-full")
    confirm(ui)
    wait_for(ui, lambda: "console-full" not in ui.find_element(By.ID, "s3-buckets").text, what="the bucket gone from the list")
    assert "console-full" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_versions_show_restore_delete_and_empty(ui: Any, nimbus_server: NimbusProcess) -> None:
    s3 = nimbus_server.client("s3")
    s3.create_bucket(Bucket="console-ver")
    s3.put_bucket_versioning(Bucket="console-ver", VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket="console-ver", Key="doc.txt", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket="console-ver", Key="doc.txt", Body=b"two")["VersionId"]
    s3.put_object(Bucket="console-ver", Key="other.txt", Body=b"other")
    marker = s3.delete_object(Bucket="console-ver", Key="doc.txt")["VersionId"]
    open_page(ui, nimbus_server, "#/s3/buckets/console-ver")
    wait_for(ui, lambda: shown_keys(ui) == ["other.txt"], what="only the current objects")
    ui.find_element(By.ID, "s3-show-versions").click()

    def versions() -> list[tuple[str, str]]:
        return [(e.get_attribute("data-key"), e.get_attribute("data-version"))
                for e in ui.find_elements(By.CSS_SELECTOR, "#s3-objects input.s3-select")]
    wait_for(ui, lambda: len(versions()) == 4, what="every version and the delete marker")
    assert versions()[:3] == [("doc.txt", marker), ("doc.txt", v2), ("doc.txt", v1)]
    assert "Delete marker" in ui.find_element(By.ID, "s3-objects").text
    # an old version's page, and copying it onto its key restores it
    next(a for a in ui.find_elements(By.CSS_SELECTOR, "#s3-objects a.s3-version") if a.get_attribute("data-version") == v1).click()
    wait_for(ui, lambda: ui.find_element(By.ID, "obj-version").text == v1, what="the version's page")
    wait_for(ui, lambda: "one" in ui.find_element(By.ID, "obj-preview").text)
    assert len(ui.find_elements(By.CSS_SELECTOR, "#obj-versions tbody tr")) == 3
    click(ui, "obj-copy")
    assert wait_for(ui, lambda: ui.find_element(By.ID, "obj-copy-key")).get_attribute("value") == "doc.txt"
    click(ui, "obj-copy-submit")
    wait_for(ui, lambda: s3.list_object_versions(Bucket="console-ver", Prefix="doc.txt").get("Versions", [{}])[0].get("IsLatest")
             and len(s3.list_object_versions(Bucket="console-ver", Prefix="doc.txt")["Versions"]) == 3, what="the restored version")
    assert s3.get_object(Bucket="console-ver", Key="doc.txt")["Body"].read() == b"one"
    # permanently delete one version by its checkbox
    open_page(ui, nimbus_server, "#/s3/buckets/console-ver?versions=1")
    box = wait_for(ui, lambda: next((b for b in ui.find_elements(By.CSS_SELECTOR, "#s3-objects input.s3-select")
                                     if b.get_attribute("data-version") == v2), None), what="version 2's row")
    box.click()
    click(ui, "s3-delete-selected")
    confirm(ui)
    wait_for(ui, lambda: v2 not in [v for _, v in versions()] and versions(), what="version 2 gone")
    left = {v["VersionId"] for v in s3.list_object_versions(Bucket="console-ver").get("Versions", [])}
    assert v2 not in left and v1 in left
    # Empty deletes every version and delete marker, so the bucket can go
    open_page(ui, nimbus_server, "#/s3")
    click(ui, "s3-bucket-empty-console-ver")
    confirm(ui)
    wait_for(ui, lambda: "Emptied console-ver" in ui.find_element(By.ID, "s3-empty-status").text, what="emptied")
    click(ui, "s3-delete-after-empty")
    confirm(ui)
    wait_for(ui, lambda: "console-ver" not in ui.find_element(By.ID, "s3-buckets").text, what="the versioned bucket deleted")


def test_object_lock_bucket_default_retention_and_an_object_locked(ui: Any, nimbus_server: NimbusProcess) -> None:
    s3 = nimbus_server.client("s3")
    open_page(ui, nimbus_server, "#/s3")
    click(ui, "s3-create-bucket")
    wait_for(ui, lambda: ui.find_element(By.ID, "s3-bucket-name")).send_keys("console-locked")
    click(ui, "s3-bucket-object-lock")
    click(ui, "s3-bucket-submit")
    wait_for(ui, lambda: "console-locked" in ui.find_element(By.ID, "s3-buckets").text, what="the new bucket listed")
    assert s3.get_object_lock_configuration(Bucket="console-locked")["ObjectLockConfiguration"] == {"ObjectLockEnabled": "Enabled"}
    assert s3.get_bucket_versioning(Bucket="console-locked")["Status"] == "Enabled"
    open_page(ui, nimbus_server, "#/s3/buckets/console-locked?tab=properties")
    wait_for(ui, lambda: ui.find_element(By.ID, "s3-object-lock-status").text == "Enabled", what="Object Lock shown")
    assert "cannot be suspended" in ui.find_element(By.ID, "s3-versioning").text
    ui.find_element(By.ID, "s3-lock-days").clear()
    ui.find_element(By.ID, "s3-lock-days").send_keys("3")
    click(ui, "s3-lock-save")
    wait_for(ui, lambda: "GOVERNANCE, 3 days" in ui.find_element(By.ID, "s3-object-lock").text, what="the default retention")
    assert s3.get_object_lock_configuration(Bucket="console-locked")["ObjectLockConfiguration"]["Rule"] == {
        "DefaultRetention": {"Mode": "GOVERNANCE", "Days": 3}}
    s3.put_object(Bucket="console-locked", Key="kept.txt", Body=b"kept", ObjectLockLegalHoldStatus="ON")
    open_page(ui, nimbus_server, "#/s3/buckets/console-locked/object?key=kept.txt")
    wait_for(ui, lambda: ui.find_element(By.ID, "obj-lock-retention").text.startswith("GOVERNANCE until"), what="the retention")
    assert ui.find_element(By.ID, "obj-lock-hold").text == "ON"
