"""The console's Lambda pages in a real headless Chromium against a real server: list, create (with a new
role), test (Invoke with the log tail), edit and deploy code, configuration, function URL, API Gateway
trigger, versions, logs, delete; what the page did is checked with boto3 and plain HTTP, never mocked."""

from __future__ import annotations

import io
import json
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

By = pytest.importorskip("selenium.webdriver.common.by", reason="selenium is a test dependency").By
from selenium.webdriver.support.select import Select  # noqa: E402

from tests.conftest import NimbusProcess
from tests.integration.console.conftest import CONSOLE, page_text, sign_in, wait_for
from tests.integration.console.conftest import go as _go

FN = "console-fn-ui"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})

NEW_CODE = """import json

def lambda_handler(event, context):
    print("handling", json.dumps(event))
    if event.get("fail"):
        raise ValueError("boom from the console test")
    return {"statusCode": 200, "body": json.dumps({"echo": event, "version": 2})}
"""


def by_id(browser: Any, id_: str) -> Any:
    return wait_for(browser, lambda: browser.find_element(By.ID, id_), what=f"#{id_}")


def press(browser: Any, el: Any) -> None:
    """A real click, with the element scrolled to the middle (away from the toasts in the corner)."""
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
    el.click()


def click(browser: Any, id_: str) -> None:
    press(browser, wait_for(browser, lambda: browser.find_element(By.ID, id_).is_enabled() and browser.find_element(By.ID, id_), what=f"#{id_}"))


def go(browser: Any, server: NimbusProcess, hash_: str) -> None:
    """Open a page, rendered afresh even when the browser shows that page already (same URL, no hashchange)."""
    if browser.current_url == server.endpoint + CONSOLE + "/" + hash_:
        browser.refresh()
    else:
        _go(browser, server, hash_)


def mark_page(browser: Any) -> None:
    """Mark the rendered page, so wait_rerendered can tell the page an action re-renders from this one."""
    browser.execute_script("const v = document.querySelector('#view > div'); if (v) v.dataset.stale = '1';")


def wait_rerendered(browser: Any) -> None:
    wait_for(browser, lambda: browser.execute_script("return !!document.querySelector('#view > div:not([data-stale])')"), what="the page rendered again")


def text_of(browser: Any, id_: str) -> str:
    els = browser.find_elements(By.ID, id_)
    return str(els[0].text) if els else ""


def http_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def zip_of(files: dict[str, str], binary: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in [*files.items(), *(binary or {}).items()]:
            z.writestr(name, data)
    return buf.getvalue()


@pytest.fixture(scope="module")
def signed_in(browser: Any, nimbus_server: NimbusProcess) -> Iterator[Any]:
    sign_in(browser, nimbus_server)
    yield browser


@pytest.fixture(scope="module")
def ui_function(signed_in: Any, nimbus_server: NimbusProcess) -> str:
    """A function created through "Create function" (author from scratch, a new basic-execution role)."""
    browser = signed_in
    go(browser, nimbus_server, "#/lambda")
    click(browser, "create-function")
    by_id(browser, "fn-name").send_keys(FN)
    assert by_id(browser, "fn-runtime").get_attribute("value") == "python3.12"  # AWS's default
    assert browser.find_element(By.ID, "role-new").is_selected()
    click(browser, "fn-create-submit")
    wait_for(browser, lambda: browser.current_url.endswith(f"#/lambda/functions/{FN}?tab=code"), what="the new function's page")
    wait_for(browser, lambda: "Hello from Lambda!" in by_id(browser, "code-editor").get_attribute("value"), what="the default code")
    return FN


def test_create_function_makes_a_role_and_the_default_code(ui_function: str, nimbus_server: NimbusProcess, signed_in: Any) -> None:
    cfg = nimbus_server.client("lambda").get_function_configuration(FunctionName=ui_function)
    assert cfg["Runtime"] == "python3.12" and cfg["Handler"] == "lambda_function.lambda_handler"
    assert cfg["Architectures"] == ["x86_64"]
    role_name = cfg["Role"].rsplit("/", 1)[1]
    assert role_name.startswith(f"{ui_function}-role-") and "/service-role/" in cfg["Role"]
    iam = nimbus_server.client("iam")
    attached = iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]
    assert "lambda.amazonaws.com" in json.dumps(iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"])
    assert by_id(signed_in, "code-file").get_attribute("value") == "lambda_function.py"


def test_test_tab_invokes_and_shows_payload_and_log_tail(ui_function: str, nimbus_server: NimbusProcess, signed_in: Any) -> None:
    browser = signed_in
    go(browser, nimbus_server, f"#/lambda/functions/{ui_function}?tab=test")
    assert '"key1": "value1"' in by_id(browser, "test-event").get_attribute("value")
    click(browser, "test-run")
    wait_for(browser, lambda: "succeeded" in text_of(browser, "test-status"), timeout=60, what="the invocation")
    payload = json.loads(text_of(browser, "test-payload"))
    assert payload == {"statusCode": 200, "body": '"Hello from Lambda!"'}
    logs = text_of(browser, "test-logs")
    assert "START RequestId" in logs and "REPORT RequestId" in logs
    # an event that is not JSON is refused on the page
    ev = browser.find_element(By.ID, "test-event")
    ev.clear()
    ev.send_keys("{not json")
    click(browser, "test-run")
    wait_for(browser, lambda: "InvalidEventJSON" in text_of(browser, "test-result"), what="the JSON error")


def test_edit_code_deploy_and_see_the_new_answer(ui_function: str, nimbus_server: NimbusProcess, signed_in: Any) -> None:
    browser = signed_in
    go(browser, nimbus_server, f"#/lambda/functions/{ui_function}?tab=code")
    editor = by_id(browser, "code-editor")
    editor.clear()
    editor.send_keys(NEW_CODE)
    wait_for(browser, lambda: browser.find_element(By.ID, "code-dirty").is_displayed(), what="the not-deployed mark")
    click(browser, "code-to-test")  # asks first: the test would run the deployed code
    click(browser, "modal-cancel")
    assert browser.current_url.endswith("?tab=code") and browser.find_element(By.ID, "code-editor").get_attribute("value") == NEW_CODE
    click(browser, "deploy")
    wait_for(browser, lambda: "Successfully updated" in text_of(browser, "deploy-status"), timeout=30, what="the deploy")
    assert not browser.find_element(By.ID, "code-dirty").is_displayed()
    # the SDK sees the new code
    out = nimbus_server.client("lambda").invoke(FunctionName=ui_function, Payload=b'{"a": 1}')
    answer = json.loads(out["Payload"].read())
    assert answer["statusCode"] == 200 and json.loads(answer["body"]) == {"echo": {"a": 1}, "version": 2}
    # and the Test tab shows the answer, the function's print in the log tail, then a function error
    go(browser, nimbus_server, f"#/lambda/functions/{ui_function}?tab=test")
    ev = by_id(browser, "test-event")
    ev.clear()
    ev.send_keys('{"from": "console"}')
    click(browser, "test-run")
    wait_for(browser, lambda: "succeeded" in text_of(browser, "test-status"), timeout=60, what="the invocation")
    shown = json.loads(text_of(browser, "test-payload"))
    assert json.loads(shown["body"]) == {"echo": {"from": "console"}, "version": 2}
    assert 'handling {"from": "console"}' in text_of(browser, "test-logs")
    ev = browser.find_element(By.ID, "test-event")
    ev.clear()
    ev.send_keys('{"fail": true}')
    click(browser, "test-run")
    wait_for(browser, lambda: "failed" in text_of(browser, "test-status"), timeout=60, what="the failed invocation")
    assert text_of(browser, "test-function-error") == "Unhandled"
    error = json.loads(text_of(browser, "test-payload"))
    assert error["errorType"] == "ValueError" and error["errorMessage"] == "boom from the console test"
    assert "boom from the console test" in text_of(browser, "test-logs")


def test_configuration_memory_timeout_and_environment(ui_function: str, nimbus_server: NimbusProcess, signed_in: Any) -> None:
    browser = signed_in
    lam = nimbus_server.client("lambda")
    go(browser, nimbus_server, f"#/lambda/functions/{ui_function}?tab=configuration")
    for id_, value in (("cfg-memory", "256"), ("cfg-timeout", "61"), ("cfg-description", "made in the console")):
        el = by_id(browser, id_)
        el.clear()
        el.send_keys(value)
    mark_page(browser)
    click(browser, "cfg-save")
    wait_rerendered(browser)
    wait_for(browser, lambda: lam.get_function_configuration(FunctionName=ui_function)["MemorySize"] == 256, what="memory saved")
    cfg = lam.get_function_configuration(FunctionName=ui_function)
    assert cfg["Timeout"] == 61 and cfg["Description"] == "made in the console"
    # the page re-renders with the saved values; add two variables
    assert browser.find_element(By.ID, "cfg-memory").get_attribute("value") == "256"
    for key, value in (("GREETING", "hello"), ("STAGE", "dev")):
        click(browser, "env-add")
        browser.find_elements(By.CSS_SELECTOR, "#env-rows .env-key")[-1].send_keys(key)
        browser.find_elements(By.CSS_SELECTOR, "#env-rows .env-value")[-1].send_keys(value)
    mark_page(browser)
    click(browser, "env-save")
    wait_rerendered(browser)
    wait_for(browser, lambda: (lam.get_function_configuration(FunctionName=ui_function).get("Environment") or {}).get("Variables") == {"GREETING": "hello", "STAGE": "dev"},
             what="variables saved")
    # remove one; the other stays
    wait_for(browser, lambda: len(browser.find_elements(By.CSS_SELECTOR, "#env-rows .env-row")) == 2, what="two rows")
    row = [r for r in browser.find_elements(By.CSS_SELECTOR, "#env-rows .env-row") if r.find_element(By.CSS_SELECTOR, ".env-key").get_attribute("value") == "STAGE"][0]
    press(browser, row.find_element(By.TAG_NAME, "button"))
    mark_page(browser)
    click(browser, "env-save")
    wait_rerendered(browser)
    wait_for(browser, lambda: lam.get_function_configuration(FunctionName=ui_function)["Environment"]["Variables"] == {"GREETING": "hello"}, what="variable removed")
    assert f"{ui_function}-role-" in text_of(browser, "cfg-role")
    # another execution role
    other = nimbus_server.client("iam").create_role(RoleName="console-other-role", AssumeRolePolicyDocument=TRUST)["Role"]
    first_role = lam.get_function_configuration(FunctionName=ui_function)["Role"]
    click(browser, "cfg-role-edit")
    Select(by_id(browser, "cfg-role-select")).select_by_value(other["Arn"])
    mark_page(browser)
    click(browser, "cfg-role-save")
    wait_rerendered(browser)
    assert lam.get_function_configuration(FunctionName=ui_function)["Role"] == other["Arn"]
    click(browser, "cfg-role-edit")
    Select(by_id(browser, "cfg-role-select")).select_by_value(first_role)
    mark_page(browser)
    click(browser, "cfg-role-save")
    wait_rerendered(browser)
    assert lam.get_function_configuration(FunctionName=ui_function)["Role"] == first_role
    # a value out of range is refused on the page, before any call
    el = by_id(browser, "cfg-memory")
    el.clear()
    el.send_keys("64")
    click(browser, "cfg-save")
    wait_for(browser, lambda: "128" in text_of(browser, "cfg-status"), what="the memory error")


def test_configuration_concurrency_async_layers_and_tags(ui_function: str, nimbus_server: NimbusProcess, signed_in: Any) -> None:
    browser = signed_in
    lam = nimbus_server.client("lambda")
    layer = lam.publish_layer_version(LayerName="console-layer", Content={"ZipFile": zip_of({"python/helper_mod.py": "X = 1\n"})},
                                      CompatibleRuntimes=["python3.12"])
    target = lam.create_function(FunctionName="console-fn-dest", Runtime="python3.12", Role=lam.get_function_configuration(FunctionName=ui_function)["Role"],
                                 Handler="index.handler", Code={"ZipFile": zip_of({"index.py": "def handler(e, c):\n    return e\n"})})["FunctionArn"]
    go(browser, nimbus_server, f"#/lambda/functions/{ui_function}?tab=configuration")
    # reserved concurrency, then back to unreserved
    el = by_id(browser, "conc-reserved")
    el.clear()
    el.send_keys("7")
    mark_page(browser)
    click(browser, "conc-save")
    wait_rerendered(browser)
    assert lam.get_function_concurrency(FunctionName=ui_function)["ReservedConcurrentExecutions"] == 7
    assert by_id(browser, "conc-reserved").get_attribute("value") == "7"
    by_id(browser, "conc-reserved").clear()
    mark_page(browser)
    click(browser, "conc-save")
    wait_rerendered(browser)
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=ui_function)
    # asynchronous invocation: retries, age, an on-failure destination
    Select(by_id(browser, "async-retries")).select_by_value("1")
    age = by_id(browser, "async-age")
    age.clear()
    age.send_keys("3600")
    by_id(browser, "async-on-failure").send_keys(target)
    mark_page(browser)
    click(browser, "async-save")
    wait_rerendered(browser)
    got = lam.get_function_event_invoke_config(FunctionName=ui_function)
    assert got["MaximumRetryAttempts"] == 1 and got["MaximumEventAgeInSeconds"] == 3600
    assert got["DestinationConfig"]["OnFailure"]["Destination"] == target
    mark_page(browser)
    click(browser, "async-reset")
    wait_rerendered(browser)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_event_invoke_config(FunctionName=ui_function)
    # a layer from the account's list, then removed
    Select(by_id(browser, "layer-select")).select_by_value(layer["LayerVersionArn"])
    mark_page(browser)
    click(browser, "layer-add")
    wait_rerendered(browser)
    assert [x["Arn"] for x in lam.get_function_configuration(FunctionName=ui_function)["Layers"]] == [layer["LayerVersionArn"]]
    assert layer["LayerVersionArn"] in text_of(browser, "fn-layers")
    mark_page(browser)
    click(browser, "layer-remove-0")
    wait_rerendered(browser)
    assert not lam.get_function_configuration(FunctionName=ui_function).get("Layers")
    # tags
    by_id(browser, "tag-key").send_keys("team")
    by_id(browser, "tag-value").send_keys("streaming")
    mark_page(browser)
    click(browser, "tag-add")
    wait_rerendered(browser)
    fn_arn = lam.get_function_configuration(FunctionName=ui_function)["FunctionArn"]
    assert lam.list_tags(Resource=fn_arn)["Tags"] == {"team": "streaming"}
    assert "streaming" in text_of(browser, "fn-tags")
    mark_page(browser)
    click(browser, "tag-remove-team")
    wait_rerendered(browser)
    assert lam.list_tags(Resource=fn_arn)["Tags"] == {}
    lam.delete_function(FunctionName="console-fn-dest")


def test_function_url_answers_over_http(ui_function: str, nimbus_server: NimbusProcess, signed_in: Any) -> None:
    browser = signed_in
    go(browser, nimbus_server, f"#/lambda/functions/{ui_function}?tab=triggers")
    assert by_id(browser, "url-auth").get_attribute("value") == "NONE"
    click(browser, "url-cors")
    click(browser, "url-create")
    link = by_id(browser, "url-link").get_attribute("href")
    assert ".lambda-url.us-east-1.localhost" in link
    path_form = by_id(browser, "url-path-link").get_attribute("href")
    assert path_form.startswith(nimbus_server.endpoint + "/_aws/lambda-url/")
    status, body = http_get(path_form + "?x=1")
    assert status == 200, body
    answer = json.loads(body)
    assert answer["version"] == 2 and answer["echo"]["rawQueryString"] == "x=1"
    config = nimbus_server.client("lambda").get_function_url_config(FunctionName=ui_function)
    assert config["AuthType"] == "NONE" and config["Cors"]["AllowOrigins"] == ["*"]
    click(browser, "url-delete")
    click(browser, "confirm-ok")
    wait_for(browser, lambda: browser.find_elements(By.ID, "url-create"), what="the URL gone")
    assert http_get(path_form)[0] in (403, 404)


def test_api_gateway_trigger_answers_over_http(ui_function: str, nimbus_server: NimbusProcess, signed_in: Any) -> None:
    browser = signed_in
    go(browser, nimbus_server, f"#/lambda/functions/{ui_function}?tab=triggers")
    click(browser, "apigw-add")
    assert by_id(browser, "apigw-security").get_attribute("value") == "open"
    click(browser, "apigw-submit")
    url = by_id(browser, "apigw-url").get_attribute("href")
    assert url.startswith(nimbus_server.endpoint + "/_aws/execute-api/") and url.endswith(f"/default/{ui_function}")
    status, body = http_get(url + "?q=2")
    assert status == 200, body
    answer = json.loads(body)
    assert answer["version"] == 2 and answer["echo"]["resource"] == f"/{ui_function}" and answer["echo"]["queryStringParameters"] == {"q": "2"}
    apis = nimbus_server.client("apigateway").get_rest_apis()["items"]
    assert [a["name"] for a in apis if a["name"] == f"{ui_function}-API"]
    # the trigger is listed from the function's policy when the page is opened again
    go(browser, nimbus_server, f"#/lambda/functions/{ui_function}?tab=triggers")
    wait_for(browser, lambda: any(a.get_attribute("href") == url for a in browser.find_elements(By.CSS_SELECTOR, "#apigw-triggers a.apigw-link")),
             what="the listed trigger")
    assert f"{ui_function}-API" in text_of(browser, "apigw-triggers")


def test_monitor_versions_and_delete(ui_function: str, nimbus_server: NimbusProcess, signed_in: Any) -> None:
    browser = signed_in
    go(browser, nimbus_server, f"#/lambda/functions/{ui_function}?tab=monitor")
    assert by_id(browser, "logs-link").get_attribute("href").endswith(f"#/logs/groups/%2Faws%2Flambda%2F{ui_function}")

    def logged() -> bool:
        if "handling" in text_of(browser, "log-events"):
            return True
        click(browser, "logs-refresh")
        time.sleep(0.5)
        return False

    wait_for(browser, logged, timeout=30, what="the function's log events")
    go(browser, nimbus_server, f"#/lambda/functions/{ui_function}?tab=versions")
    click(browser, "publish-version")
    by_id(browser, "publish-description").send_keys("first")
    click(browser, "publish-submit")
    wait_for(browser, lambda: "first" in text_of(browser, "versions"), what="version 1")
    assert [v["Version"] for v in nimbus_server.client("lambda").list_versions_by_function(FunctionName=ui_function)["Versions"]] == ["$LATEST", "1"]
    click(browser, "alias-create")
    by_id(browser, "alias-name").send_keys("live")
    click(browser, "alias-submit")
    wait_for(browser, lambda: "live" in text_of(browser, "aliases"), what="the alias")
    assert nimbus_server.client("lambda").get_alias(FunctionName=ui_function, Name="live")["FunctionVersion"] == "1"
    click(browser, "fn-delete")
    click(browser, "confirm-ok")
    wait_for(browser, lambda: browser.current_url.endswith("#/lambda"), what="back to the list")
    with pytest.raises(nimbus_server.client("lambda").exceptions.ResourceNotFoundException):
        nimbus_server.client("lambda").get_function(FunctionName=ui_function)


def test_sdk_function_is_listed_uploaded_and_deleted(nimbus_server: NimbusProcess, signed_in: Any, tmp_path: Path) -> None:
    browser = signed_in
    lam = nimbus_server.client("lambda")
    lam.create_function(FunctionName="console-sdk-fn", Runtime="python3.12", Role="arn:aws:iam::000000000000:role/whatever",
                        Handler="app.handler", Code={"ZipFile": zip_of({"app.py": "def handler(e, c):\n    return 'sdk'\n"})}, MemorySize=192)
    go(browser, nimbus_server, "#/lambda")
    table = by_id(browser, "functions")
    wait_for(browser, lambda: "console-sdk-fn" in browser.find_element(By.ID, "functions").text, what="the SDK's function")
    row = [r for r in table.find_elements(By.CSS_SELECTOR, "tbody tr") if "console-sdk-fn" in r.text][0]
    assert "python3.12" in row.text and "192" in row.text
    by_id(browser, "fn-filter").send_keys("no-such-function")
    wait_for(browser, lambda: "console-sdk-fn" not in browser.find_element(By.ID, "functions").text, what="filtered out")
    # its code opens in the editor (the handler's file)
    go(browser, nimbus_server, "#/lambda/functions/console-sdk-fn")
    wait_for(browser, lambda: "return 'sdk'" in by_id(browser, "code-editor").get_attribute("value"), what="the SDK's code")
    # a package with a binary file cannot be edited inline: upload one as a .zip file
    package = tmp_path / "package.zip"
    package.write_bytes(zip_of({"app.py": "def handler(e, c):\n    return 'uploaded'\n"}, {"data.bin": b"\xff\x00\xfe"}))
    by_id(browser, "code-upload-file").send_keys(str(package))
    mark_page(browser)
    click(browser, "code-upload")
    wait_rerendered(browser)
    wait_for(browser, lambda: "Inline editing unavailable" in text_of(browser, "code-unavailable"), what="the unavailable editor")
    assert json.loads(lam.invoke(FunctionName="console-sdk-fn")["Payload"].read()) == "uploaded"
    # delete from the list; a cancelled confirmation changes nothing and leaves the button usable
    go(browser, nimbus_server, "#/lambda")
    click(browser, "delete-console-sdk-fn")
    click(browser, "modal-cancel")
    wait_for(browser, lambda: not browser.find_elements(By.CSS_SELECTOR, ".modal-back"), what="the dialog closed")
    assert lam.get_function(FunctionName="console-sdk-fn")
    click(browser, "delete-console-sdk-fn")
    click(browser, "confirm-ok")
    wait_for(browser, lambda: "console-sdk-fn" not in browser.find_element(By.ID, "functions").text, what="deleted")
    assert "console-sdk-fn" not in [f["FunctionName"] for f in lam.list_functions()["Functions"]]


def test_create_with_an_existing_role_and_node(nimbus_server: NimbusProcess, signed_in: Any) -> None:
    browser = signed_in
    iam = nimbus_server.client("iam")
    role = iam.create_role(RoleName="console-existing-role", AssumeRolePolicyDocument=TRUST)["Role"]
    before = {r["RoleName"] for r in iam.list_roles()["Roles"]}
    go(browser, nimbus_server, "#/lambda/create")
    by_id(browser, "fn-name").send_keys("console-node-fn")
    Select(by_id(browser, "fn-runtime")).select_by_value("nodejs20.x")
    Select(by_id(browser, "fn-arch")).select_by_value("arm64")
    click(browser, "role-existing")
    Select(by_id(browser, "fn-role")).select_by_value(role["Arn"])
    click(browser, "fn-create-submit")
    wait_for(browser, lambda: "export const handler" in by_id(browser, "code-editor").get_attribute("value"), what="the Node default code")
    assert by_id(browser, "code-file").get_attribute("value") == "index.mjs"
    cfg = nimbus_server.client("lambda").get_function_configuration(FunctionName="console-node-fn")
    assert (cfg["Role"], cfg["Runtime"], cfg["Handler"], cfg["Architectures"]) == (role["Arn"], "nodejs20.x", "index.handler", ["arm64"])
    assert {r["RoleName"] for r in iam.list_roles()["Roles"]} == before  # no new role
    nimbus_server.client("lambda").delete_function(FunctionName="console-node-fn")


def test_firehose_blueprint_and_test_templates(nimbus_server: NimbusProcess, signed_in: Any) -> None:
    """The tutorial's transform function: a blueprint with a 1-minute timeout, tested with a Firehose event."""
    browser = signed_in
    go(browser, nimbus_server, "#/lambda/create")
    by_id(browser, "fn-name").send_keys("console-fh-transform")
    click(browser, "mode-blueprint")
    assert by_id(browser, "fn-blueprint").get_attribute("value") == "firehose-process-record-python"
    click(browser, "fn-create-submit")
    wait_for(browser, lambda: "event['records']" in by_id(browser, "code-editor").get_attribute("value"), what="the blueprint's code")
    cfg = nimbus_server.client("lambda").get_function_configuration(FunctionName="console-fh-transform")
    assert cfg["Timeout"] == 60 and cfg["Runtime"] == "python3.12"
    go(browser, nimbus_server, "#/lambda/functions/console-fh-transform?tab=test")
    event = json.loads(by_id(browser, "test-event").get_attribute("value"))
    assert event["records"][0]["recordId"]  # the Firehose template, chosen with the blueprint
    click(browser, "test-run")
    wait_for(browser, lambda: "succeeded" in text_of(browser, "test-status"), timeout=60, what="the invocation")
    out = json.loads(text_of(browser, "test-payload"))
    assert out["records"] == [{"recordId": event["records"][0]["recordId"], "result": "Ok", "data": event["records"][0]["data"]}]
    assert "Successfully processed 1 records." in text_of(browser, "test-logs")
    Select(by_id(browser, "test-template")).select_by_value("apigateway-aws-proxy")
    assert json.loads(browser.find_element(By.ID, "test-event").get_attribute("value"))["httpMethod"] == "GET"
    nimbus_server.client("lambda").delete_function(FunctionName="console-fh-transform")


def test_errors_are_shown_on_the_page(nimbus_server: NimbusProcess, signed_in: Any) -> None:
    browser = signed_in
    iam = nimbus_server.client("iam")
    role = iam.create_role(RoleName="console-errors-role", AssumeRolePolicyDocument=TRUST)["Role"]
    before = {r["RoleName"] for r in iam.list_roles()["Roles"]}
    go(browser, nimbus_server, "#/lambda/create")
    by_id(browser, "fn-name").send_keys("bad name!")
    # a new role is named after the function: the name is checked before anything is created
    click(browser, "fn-create-submit")
    wait_for(browser, lambda: "Function name must be" in text_of(browser, "create-error"), what="the name error")
    assert {r["RoleName"] for r in iam.list_roles()["Roles"]} == before  # no role left behind
    # with an existing role, Lambda's own refusal is shown as it answered
    click(browser, "role-existing")
    Select(by_id(browser, "fn-role")).select_by_value(role["Arn"])
    mark = text_of(browser, "create-error")
    click(browser, "fn-create-submit")
    wait_for(browser, lambda: text_of(browser, "create-error") not in ("", mark), what="Lambda's error")
    shown = text_of(browser, "create-error")
    assert "ValidationException" in shown or "InvalidParameterValueException" in shown, shown
    assert browser.current_url.endswith("#/lambda/create")
    # a function that does not exist
    go(browser, nimbus_server, "#/lambda/functions/no-such-function-here")
    wait_for(browser, lambda: "ResourceNotFoundException" in page_text(browser), what="the not-found error")
