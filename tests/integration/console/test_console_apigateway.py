"""The console's API Gateway pages in a real headless Chromium against a real server: a REST API built with
boto3 (resource, method, Lambda proxy integration, deployment) shows its resources and its stage's invoke
URL, which answers; Deploy API creates a stage; an HTTP API shows its routes; deletes."""

from __future__ import annotations

import io
import json
import urllib.request
import zipfile
from typing import Any

import pytest

By = pytest.importorskip("selenium.webdriver.common.by", reason="selenium is a test dependency").By

from tests.conftest import NimbusProcess
from tests.integration.console.conftest import go, sign_in, wait_for

HELLO = "import json\n\ndef lambda_handler(event, context):\n    return {'statusCode': 200, 'body': json.dumps({'hello': event.get('path') or event.get('rawPath')})}\n"


def _el(browser: Any, element_id: str) -> Any:
    return wait_for(browser, lambda: [e for e in browser.find_elements(By.ID, element_id) if e.is_displayed() and e.is_enabled()],
                    what=element_id)[0]


@pytest.fixture(scope="module")
def function_arn(nimbus_server: NimbusProcess) -> str:
    lam = nimbus_server.client("lambda")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("lambda_function.py", HELLO)
    fn = lam.create_function(FunctionName="console-apigw-fn", Runtime="python3.12", Role="arn:aws:iam::000000000000:role/r",
                             Handler="lambda_function.lambda_handler", Code={"ZipFile": buf.getvalue()})
    lam.get_waiter("function_active_v2").wait(FunctionName="console-apigw-fn", WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
    lam.add_permission(FunctionName="console-apigw-fn", StatementId="apigw", Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com")
    return str(fn["FunctionArn"])


def test_rest_api_resources_stage_url_answers_and_deploy(browser: Any, nimbus_server: NimbusProcess, function_arn: str) -> None:
    apigw = nimbus_server.client("apigateway")
    api = apigw.create_rest_api(name="console-rest")
    api_id = api["id"]
    root = [r for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/"][0]
    res = apigw.create_resource(restApiId=api_id, parentId=root["id"], pathPart="hello")
    apigw.put_method(restApiId=api_id, resourceId=res["id"], httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=api_id, resourceId=res["id"], httpMethod="GET", type="AWS_PROXY", integrationHttpMethod="POST",
                          uri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{function_arn}/invocations")
    apigw.create_deployment(restApiId=api_id, stageName="dev", description="first")

    sign_in(browser, nimbus_server)
    go(browser, nimbus_server, "#/apigateway")
    table = wait_for(browser, lambda: browser.find_elements(By.ID, "apigw-apis"), what="APIs table")[0]
    wait_for(browser, lambda: "console-rest" in table.text, what="the REST API listed")
    row = [r for r in table.find_elements(By.CSS_SELECTOR, "tbody tr") if "console-rest" in r.text][0]
    assert "REST" in row.text and api_id in row.text
    row.find_element(By.CSS_SELECTOR, "a.apigw-api-link").click()
    resources = wait_for(browser, lambda: browser.find_elements(By.ID, "apigw-resources"), what="resources")[0]
    wait_for(browser, lambda: "/hello" in resources.text)
    method_row = browser.find_element(By.CSS_SELECTOR, '#apigw-resources tr[data-path="/hello"][data-method="GET"]')
    assert "AWS_PROXY" in method_row.text and "console-apigw-fn" in method_row.text
    url = browser.find_element(By.CSS_SELECTOR, '#apigw-stages tr[data-stage="dev"] a.apigw-invoke-url').text
    assert url == f"{nimbus_server.endpoint}/_aws/execute-api/{api_id}/dev/"
    with urllib.request.urlopen(url + "hello", timeout=60) as r:
        assert r.status == 200
        assert json.loads(r.read()) == {"hello": "/hello"}
    assert "first" in browser.find_element(By.ID, "apigw-deployments").text

    # Deploy API to a new stage
    from selenium.webdriver.support.ui import Select

    _el(browser, "apigw-deploy").click()
    Select(_el(browser, "apigw-deploy-stage")).select_by_value("")
    _el(browser, "apigw-deploy-new-stage").send_keys("prod")
    _el(browser, "apigw-deploy-submit").click()
    wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, '#apigw-stages tr[data-stage="prod"]'), what="the prod stage")
    assert {s["stageName"] for s in apigw.get_stages(restApiId=api_id)["item"]} == {"dev", "prod"}
    with urllib.request.urlopen(f"{nimbus_server.endpoint}/_aws/execute-api/{api_id}/prod/hello", timeout=60) as r:
        assert r.status == 200

    _el(browser, "apigw-delete").click()
    _el(browser, "confirm-ok").click()
    wait_for(browser, lambda: browser.find_elements(By.ID, "apigw-apis") and "console-rest" not in browser.find_element(By.ID, "apigw-apis").text,
             what="the API gone from the list")
    assert all(a["id"] != api_id for a in apigw.get_rest_apis()["items"])


def test_http_api_routes_integrations_and_stage(browser: Any, nimbus_server: NimbusProcess, function_arn: str) -> None:
    v2 = nimbus_server.client("apigatewayv2")
    api = v2.create_api(Name="console-http", ProtocolType="HTTP")
    api_id = api["ApiId"]
    integ = v2.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=function_arn, PayloadFormatVersion="2.0")
    v2.create_route(ApiId=api_id, RouteKey="GET /items", Target=f"integrations/{integ['IntegrationId']}")
    v2.create_route(ApiId=api_id, RouteKey="POST /items", Target=f"integrations/{integ['IntegrationId']}")
    v2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)

    sign_in(browser, nimbus_server)
    go(browser, nimbus_server, "#/apigateway")
    table = wait_for(browser, lambda: browser.find_elements(By.ID, "apigw-apis"), what="APIs table")[0]
    wait_for(browser, lambda: "console-http" in table.text, what="the HTTP API listed")
    row = [r for r in table.find_elements(By.CSS_SELECTOR, "tbody tr") if "console-http" in r.text][0]
    assert "HTTP" in row.text and api_id in row.text
    row.find_element(By.CSS_SELECTOR, "a.apigw-api-link").click()
    routes = wait_for(browser, lambda: browser.find_elements(By.ID, "apigw-routes"), what="routes")[0]
    wait_for(browser, lambda: "GET /items" in routes.text and "POST /items" in routes.text)
    assert "AWS_PROXY → Lambda console-apigw-fn" in routes.text
    assert integ["IntegrationId"] in browser.find_element(By.ID, "apigw-integrations").text
    url = browser.find_element(By.CSS_SELECTOR, "#apigw-stages a.apigw-invoke-url").text
    assert url == f"{nimbus_server.endpoint}/_aws/execute-api/{api_id}/"
    with urllib.request.urlopen(url + "items", timeout=60) as r:
        assert r.status == 200
        assert json.loads(r.read()) == {"hello": "/items"}

    _el(browser, "apigw-delete").click()
    _el(browser, "confirm-ok").click()
    wait_for(browser, lambda: browser.find_elements(By.ID, "apigw-apis") and "console-http" not in browser.find_element(By.ID, "apigw-apis").text,
             what="the API gone from the list")
    assert all(a["ApiId"] != api_id for a in v2.get_apis()["Items"])


def _method_row(browser: Any, path: str, verb: str) -> Any:
    return wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, f'#apigw-resources tr[data-path="{path}"][data-method="{verb}"]'),
                    what=f"{verb} {path}")[0]


def test_build_a_rest_api_in_the_console(browser: Any, nimbus_server: NimbusProcess, function_arn: str) -> None:
    from selenium.webdriver.support.ui import Select

    apigw, lam = nimbus_server.client("apigateway"), nimbus_server.client("lambda")
    sign_in(browser, nimbus_server)
    go(browser, nimbus_server, "#/apigateway")
    _el(browser, "apigw-create").click()
    _el(browser, "apigw-new-name").send_keys("console-built")
    _el(browser, "apigw-new-submit").click()
    wait_for(browser, lambda: "console-built" in browser.find_element(By.ID, "apigw-title").text, what="the new API's page")
    api = [a for a in apigw.get_rest_apis()["items"] if a["name"] == "console-built"][0]
    api_id = api["id"]

    # /orders with GET -> the Lambda function (proxy)
    _el(browser, "apigw-resource-create").click()
    _el(browser, "apigw-resource-part").send_keys("orders")
    _el(browser, "apigw-resource-submit").click()
    wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, '#apigw-resources tr[data-path="/orders"]'), what="/orders")
    _el(browser, "apigw-method-create").click()
    Select(_el(browser, "apigw-method-resource")).select_by_visible_text("/orders")
    Select(_el(browser, "apigw-method-verb")).select_by_value("GET")
    Select(_el(browser, "apigw-method-kind")).select_by_value("lambda")
    Select(_el(browser, "apigw-method-function")).select_by_visible_text("console-apigw-fn")
    _el(browser, "apigw-method-submit").click()
    assert "AWS_PROXY" in _method_row(browser, "/orders", "GET").text

    # /orders/{id} with GET -> a mock
    _el(browser, "apigw-resource-create").click()
    Select(_el(browser, "apigw-resource-parent")).select_by_visible_text("/orders")
    _el(browser, "apigw-resource-part").send_keys("{id}")
    _el(browser, "apigw-resource-submit").click()
    wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, '#apigw-resources tr[data-path="/orders/{id}"]'), what="/orders/{id}")
    _el(browser, "apigw-method-create").click()
    Select(_el(browser, "apigw-method-resource")).select_by_visible_text("/orders/{id}")
    Select(_el(browser, "apigw-method-kind")).select_by_value("mock")
    body = _el(browser, "apigw-method-mock-body")
    body.clear()
    body.send_keys('{"order": "from the mock"}')
    _el(browser, "apigw-method-submit").click()
    assert "MOCK" in _method_row(browser, "/orders/{id}", "GET").text

    # the function's policy lets this API call it (as AWS's console adds)
    policy = json.loads(lam.get_policy(FunctionName="console-apigw-fn")["Policy"])
    arns = [s["Condition"]["ArnLike"]["AWS:SourceArn"] for s in policy["Statement"] if "Condition" in s]
    assert f"arn:aws:execute-api:us-east-1:000000000000:{api_id}/*/GET/orders" in arns

    # deploy to a new stage; both methods answer
    _el(browser, "apigw-deploy").click()
    Select(_el(browser, "apigw-deploy-stage")).select_by_value("")
    _el(browser, "apigw-deploy-new-stage").send_keys("v1")
    _el(browser, "apigw-deploy-submit").click()
    wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, '#apigw-stages tr[data-stage="v1"]'), what="the v1 stage")
    base = f"{nimbus_server.endpoint}/_aws/execute-api/{api_id}/v1"
    with urllib.request.urlopen(base + "/orders", timeout=60) as r:
        assert json.loads(r.read()) == {"hello": "/orders"}
    with urllib.request.urlopen(base + "/orders/42", timeout=60) as r:
        assert json.loads(r.read()) == {"order": "from the mock"}

    # delete the mock method, then the /orders/{id} resource
    _el(browser, "apigw-method-delete-GET-/orders/{id}").click()
    _el(browser, "confirm-ok").click()
    wait_for(browser, lambda: not browser.find_elements(By.CSS_SELECTOR, '#apigw-resources tr[data-path="/orders/{id}"][data-method="GET"]'),
             what="the method gone")
    _el(browser, "apigw-resource-delete-/orders/{id}").click()
    _el(browser, "confirm-ok").click()
    wait_for(browser, lambda: not browser.find_elements(By.CSS_SELECTOR, '#apigw-resources tr[data-path="/orders/{id}"]'), what="the resource gone")
    assert sorted(r["path"] for r in apigw.get_resources(restApiId=api_id)["items"]) == ["/", "/orders"]
    apigw.delete_rest_api(restApiId=api_id)


def test_create_an_http_api_for_a_function(browser: Any, nimbus_server: NimbusProcess, function_arn: str) -> None:
    from selenium.webdriver.support.ui import Select

    v2 = nimbus_server.client("apigatewayv2")
    sign_in(browser, nimbus_server)
    go(browser, nimbus_server, "#/apigateway")
    _el(browser, "apigw-create-http").click()
    _el(browser, "apigw-http-name").send_keys("console-quick")
    Select(_el(browser, "apigw-http-function")).select_by_visible_text("console-apigw-fn")
    _el(browser, "apigw-http-submit").click()
    wait_for(browser, lambda: "console-quick" in browser.find_element(By.ID, "apigw-title").text, what="the new API's page")
    routes = wait_for(browser, lambda: browser.find_elements(By.ID, "apigw-routes"), what="routes")[0]
    assert "$default" in routes.text and "console-apigw-fn" in routes.text
    url = wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "#apigw-stages a.apigw-invoke-url"), what="the invoke URL")[0].text
    api_id = [a for a in v2.get_apis()["Items"] if a["Name"] == "console-quick"][0]["ApiId"]
    assert url == f"{nimbus_server.endpoint}/_aws/execute-api/{api_id}/"
    with urllib.request.urlopen(url + "any/path", timeout=60) as r:
        assert json.loads(r.read()) == {"hello": "/any/path"}
    policy = json.loads(nimbus_server.client("lambda").get_policy(FunctionName="console-apigw-fn")["Policy"])
    arns = [s["Condition"]["ArnLike"]["AWS:SourceArn"] for s in policy["Statement"] if "Condition" in s]
    assert f"arn:aws:execute-api:us-east-1:000000000000:{api_id}/*" in arns
    v2.delete_api(ApiId=api_id)
