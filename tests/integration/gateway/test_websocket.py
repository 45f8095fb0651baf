"""API Gateway WebSocket APIs end to end: the apigatewayv2 control plane and the apigatewaymanagementapi
through boto3, a real WebSocket client (the ``websockets`` library's sync client) against a real server,
and a Python function that handles every route (and calls back to its own connection)."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

try:
    from websockets.exceptions import ConnectionClosed, InvalidStatus
    from websockets.sync.client import connect
except ImportError:  # pragma: no cover
    pytest.skip("the websockets library is not installed", allow_module_level=True)

BUCKET = "ws-events"

HANDLER = '''import base64, json, os
import boto3

def lambda_handler(event, context):
    if event.get("type") == "REQUEST":  # the $connect authorizer of the "secured" API
        token = (event.get("queryStringParameters") or {}).get("token")
        assert event["requestContext"]["routeKey"] == "$connect" and event["methodArn"].endswith("/$connect")
        effect = "Allow" if token == "good" else "Deny"
        return {"principalId": "ann", "context": {"user": "ann"},
                "policyDocument": {"Version": "2012-10-17",
                                   "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}]}}
    rc = event["requestContext"]
    key = rc["routeKey"]
    if key == "$connect":
        q = event.get("queryStringParameters") or {}
        if q.get("deny"):
            return {"statusCode": 401}
        if q.get("fail"):
            raise RuntimeError("refused by raising")
        return {"statusCode": 200}
    if key == "$disconnect":
        boto3.client("s3").put_object(Bucket=os.environ["BUCKET"], Key="disconnect/" + rc["connectionId"],
                                      Body=json.dumps(event).encode())
        return {"statusCode": 200}
    if key == "callback":
        # the callback URL as AWS's examples build it (http here: Nimbus serves plain HTTP)
        api = boto3.client("apigatewaymanagementapi", endpoint_url="http://" + rc["domainName"] + "/" + rc["stage"])
        info = api.get_connection(ConnectionId=rc["connectionId"])
        api.post_to_connection(ConnectionId=rc["connectionId"],
                               Data=json.dumps({"pushed": True, "sourceIp": info["Identity"]["SourceIp"]}).encode())
        return {"statusCode": 200, "body": "not sent: no route response"}
    if key == "boom":
        raise RuntimeError("boom")
    return {"statusCode": 200, "body": json.dumps({"routeKey": key, "event": event})}
'''


def _zip(source: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("lambda_function.py", source)
    return buf.getvalue()


@pytest.fixture(scope="module")
def env(nimbus_server: Any) -> Iterator[dict[str, Any]]:
    server = nimbus_server
    lam = server.client("lambda")
    v2 = server.client("apigatewayv2")
    s3 = server.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    fn = lam.create_function(FunctionName="ws-handler", Runtime="python3.12", Role="arn:aws:iam::000000000000:role/lambda-role",
                             Handler="lambda_function.lambda_handler", Code={"ZipFile": _zip(HANDLER)}, Timeout=30,
                             Environment={"Variables": {"BUCKET": BUCKET}})["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName="ws-handler", WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
    api = v2.create_api(Name="chat", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action")
    api_id = api["ApiId"]
    uri = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{fn}/invocations"
    integ = v2.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=uri)
    target = f"integrations/{integ['IntegrationId']}"
    routes = {}
    for key in ("$connect", "$disconnect", "$default", "ping", "callback", "boom"):
        routes[key] = v2.create_route(ApiId=api_id, RouteKey=key, Target=target)
    for key in ("$default", "ping", "boom"):  # two-way routes
        v2.create_route_response(ApiId=api_id, RouteId=routes[key]["RouteId"], RouteResponseKey="$default")
    v2.create_stage(ApiId=api_id, StageName="prod", AutoDeploy=True)
    lam.add_permission(FunctionName="ws-handler", StatementId="ws", Action="lambda:InvokeFunction",
                       Principal="apigateway.amazonaws.com", SourceArn=f"arn:aws:execute-api:us-east-1:000000000000:{api_id}/*")
    yield {"server": server, "v2": v2, "s3": s3, "api": api, "api_id": api_id, "routes": routes, "integration_uri": uri,
           "url": f"ws://127.0.0.1:{server.port}/_aws/execute-api/{api_id}/prod",
           "callback": f"{server.endpoint}/_aws/execute-api/{api_id}/prod"}


def _mgmt(endpoint: str) -> Any:
    """A management API client for a stage's callback URL (the SDK takes it as endpoint_url)."""
    import boto3
    from botocore.config import Config

    from tests.conftest import ACCESS_KEY, SECRET_KEY

    return boto3.client("apigatewaymanagementapi", region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id=ACCESS_KEY,
                        aws_secret_access_key=SECRET_KEY, config=Config(retries={"max_attempts": 1, "mode": "standard"}))


def _recv_json(ws: Any) -> Any:
    return json.loads(ws.recv(timeout=60))


def test_control_plane(env: dict[str, Any]) -> None:
    v2, api_id = env["v2"], env["api_id"]
    api = v2.get_api(ApiId=api_id)
    assert api["ProtocolType"] == "WEBSOCKET"
    assert api["RouteSelectionExpression"] == "$request.body.action"
    assert api["ApiEndpoint"] == f"ws://{api_id}.execute-api.localhost:{env['server'].port}"
    assert api_id in [a["ApiId"] for a in v2.get_apis()["Items"]]
    keys = {r["RouteKey"] for r in v2.get_routes(ApiId=api_id)["Items"]}
    assert keys == {"$connect", "$disconnect", "$default", "ping", "callback", "boom"}
    rr = v2.get_route_responses(ApiId=api_id, RouteId=env["routes"]["ping"]["RouteId"])["Items"]
    assert [r["RouteResponseKey"] for r in rr] == ["$default"]
    stage = v2.get_stage(ApiId=api_id, StageName="prod")
    assert stage["AutoDeploy"] and stage["DeploymentId"]
    with pytest.raises(v2.exceptions.BadRequestException):
        v2.create_api(Name="x", ProtocolType="WEBSOCKET")  # no RouteSelectionExpression
    with pytest.raises(v2.exceptions.BadRequestException):
        v2.create_route(ApiId=api_id, RouteKey="$other")


def test_messages_routes_and_events(env: dict[str, Any]) -> None:
    with connect(env["url"] + "?user=ann", open_timeout=60) as ws:
        ws.send(json.dumps({"action": "ping", "n": 1}))
        got = _recv_json(ws)
        assert got["routeKey"] == "ping"
        ev = got["event"]
        rc = ev["requestContext"]
        assert rc["eventType"] == "MESSAGE" and rc["stage"] == "prod" and rc["apiId"] == env["api_id"]
        assert rc["messageId"] and rc["requestId"] and rc["connectionId"] and isinstance(rc["connectedAt"], int)
        assert rc["identity"]["sourceIp"] == "127.0.0.1"
        assert json.loads(ev["body"]) == {"action": "ping", "n": 1} and ev["isBase64Encoded"] is False
        ws.send("not json")  # -> $default
        got = _recv_json(ws)
        assert got["routeKey"] == "$default" and got["event"]["body"] == "not json"
        ws.send(json.dumps({"action": "nothing-like-it"}))  # unknown key -> $default
        assert _recv_json(ws)["routeKey"] == "$default"
        ws.send(b"\x00\x01binary")
        ev = _recv_json(ws)["event"]
        assert ev["isBase64Encoded"] is True and ev["body"] == "AAFiaW5hcnk="
        ws.send(json.dumps({"action": "boom"}))
        err = _recv_json(ws)
        assert err["message"] == "Internal server error" and err["connectionId"] == rc["connectionId"] and err["requestId"]


def test_connect_refused(env: dict[str, Any]) -> None:
    with pytest.raises(InvalidStatus) as denied:
        connect(env["url"] + "?deny=1", open_timeout=60)
    assert denied.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as failed:
        connect(env["url"] + "?fail=1", open_timeout=60)
    assert failed.value.response.status_code == 500
    with pytest.raises(InvalidStatus) as unknown:
        connect(f"ws://127.0.0.1:{env['server'].port}/_aws/execute-api/{env['api_id']}/nostage", open_timeout=60)
    assert unknown.value.response.status_code == 403


def test_callback_management_api_and_disconnect(env: dict[str, Any]) -> None:
    server = env["server"]
    mgmt = _mgmt(env["callback"])
    with connect(env["url"], open_timeout=60) as ws:
        ws.send(json.dumps({"action": "ping"}))
        conn_id = _recv_json(ws)["event"]["requestContext"]["connectionId"]
        ws.send(json.dumps({"action": "callback"}))  # the function posts back through Nimbus
        assert _recv_json(ws) == {"pushed": True, "sourceIp": "127.0.0.1"}
        info = mgmt.get_connection(ConnectionId=conn_id)
        assert info["Identity"]["SourceIp"] == "127.0.0.1" and info["ConnectedAt"] <= info["LastActiveAt"]
        mgmt.post_to_connection(ConnectionId=conn_id, Data=b"from outside")
        assert ws.recv(timeout=60) == "from outside"
        # host form of the callback URL (a Host header; *.localhost need not resolve)
        host_form = _mgmt(f"{server.endpoint}/prod")
        host_form.meta.events.register("before-sign.*.*", lambda request, **_: request.headers.__setitem__(
            "Host", f"{env['api_id']}.execute-api.localhost:{server.port}"))
        host_form.post_to_connection(ConnectionId=conn_id, Data=b"via host")
        assert ws.recv(timeout=60) == "via host"
        ws.close(code=4001, reason="bye")
    with pytest.raises(mgmt.exceptions.GoneException):
        mgmt.post_to_connection(ConnectionId=conn_id, Data=b"too late")
    with pytest.raises(mgmt.exceptions.GoneException):
        mgmt.get_connection(ConnectionId=conn_id)
    event = _wait_object(env["s3"], f"disconnect/{conn_id}")
    rc = event["requestContext"]
    assert rc["eventType"] == "DISCONNECT" and rc["routeKey"] == "$disconnect"
    assert rc["disconnectStatusCode"] == 4001 and rc["disconnectReason"] == "bye"


def test_delete_connection(env: dict[str, Any]) -> None:
    mgmt = _mgmt(env["callback"])
    with connect(env["url"], open_timeout=60) as ws:
        ws.send(json.dumps({"action": "ping"}))
        conn_id = _recv_json(ws)["event"]["requestContext"]["connectionId"]
        mgmt.delete_connection(ConnectionId=conn_id)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=60)
    _wait_object(env["s3"], f"disconnect/{conn_id}")
    with pytest.raises(mgmt.exceptions.GoneException):
        mgmt.delete_connection(ConnectionId=conn_id)


def test_no_default_route_and_mock(env: dict[str, Any]) -> None:
    v2 = env["v2"]
    api_id = v2.create_api(Name="mocked", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action")["ApiId"]
    integ = v2.create_integration(ApiId=api_id, IntegrationType="MOCK")
    v2.create_route(ApiId=api_id, RouteKey="only", Target=f"integrations/{integ['IntegrationId']}")
    v2.create_stage(ApiId=api_id, StageName="dev", AutoDeploy=True)
    with connect(f"ws://127.0.0.1:{env['server'].port}/_aws/execute-api/{api_id}/dev", open_timeout=60) as ws:
        ws.send(json.dumps({"action": "other"}))
        err = _recv_json(ws)
        assert err["message"] == "Forbidden" and err["connectionId"] and err["requestId"]
        ws.send(b"x" * (128 * 1024 + 1))  # over the message limit: closed with 1009
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=60)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def test_host_form(env: dict[str, Any]) -> None:
    """ws://{api}.execute-api.localhost:{port}/{stage}, the ApiEndpoint's form (connected to loopback)."""
    import socket

    port = env["server"].port
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    with connect(f"ws://{env['api_id']}.execute-api.localhost:{port}/prod", sock=sock, open_timeout=60) as ws:
        ws.send(json.dumps({"action": "ping"}))
        rc = _recv_json(ws)["event"]["requestContext"]
        assert rc["routeKey"] == "ping"
        assert rc["domainName"] == f"127.0.0.1:{port}/_aws/execute-api/{env['api_id']}"


def test_idle_timeout(tmp_path: Any) -> None:
    """An idle connection is closed with 1001 Going away (the 10-minute timeout, set to 1 s here)."""
    from tests.conftest import NimbusProcess

    server = NimbusProcess(tmp_path / "data", env={"NIMBUS_WEBSOCKET_IDLE_TIMEOUT_S": "1"}).start()
    try:
        v2 = server.client("apigatewayv2")
        api_id = v2.create_api(Name="idle", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action")["ApiId"]
        v2.create_stage(ApiId=api_id, StageName="s", AutoDeploy=True)
        with connect(f"ws://127.0.0.1:{server.port}/_aws/execute-api/{api_id}/s", open_timeout=60) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=60)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    finally:
        server.stop()


def test_connect_authorizer(env: dict[str, Any]) -> None:
    v2, server = env["v2"], env["server"]
    api_id = v2.create_api(Name="secured", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action")["ApiId"]
    uri = env["integration_uri"]
    authz = v2.create_authorizer(ApiId=api_id, Name="tok", AuthorizerType="REQUEST", AuthorizerUri=uri,
                                 IdentitySource=["route.request.querystring.token"])
    integ = v2.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=uri)
    target = f"integrations/{integ['IntegrationId']}"
    v2.create_route(ApiId=api_id, RouteKey="$connect", Target=target, AuthorizationType="CUSTOM", AuthorizerId=authz["AuthorizerId"])
    default = v2.create_route(ApiId=api_id, RouteKey="$default", Target=target)
    v2.create_route_response(ApiId=api_id, RouteId=default["RouteId"], RouteResponseKey="$default")
    v2.create_stage(ApiId=api_id, StageName="v1", AutoDeploy=True)
    server.client("lambda").add_permission(FunctionName="ws-handler", StatementId=f"ws-{api_id}", Action="lambda:InvokeFunction",
                                           Principal="apigateway.amazonaws.com",
                                           SourceArn=f"arn:aws:execute-api:us-east-1:000000000000:{api_id}/*")
    url = f"ws://127.0.0.1:{server.port}/_aws/execute-api/{api_id}/v1"
    with pytest.raises(InvalidStatus) as missing:
        connect(url, open_timeout=60)
    assert missing.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as denied:
        connect(url + "?token=bad", open_timeout=60)
    assert denied.value.response.status_code == 403
    with connect(url + "?token=good", open_timeout=60) as ws:
        ws.send("hi")
        rc = _recv_json(ws)["event"]["requestContext"]
        assert rc["authorizer"]["principalId"] == "ann" and rc["authorizer"]["user"] == "ann"


def test_connect_iam(env: dict[str, Any]) -> None:
    """AuthorizationType AWS_IAM on $connect: the upgrade must be signed (here presigned) as execute-api."""
    from botocore.auth import SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from tests.conftest import ACCESS_KEY, SECRET_KEY

    v2, server = env["v2"], env["server"]
    api_id = v2.create_api(Name="iam", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action")["ApiId"]
    integ = v2.create_integration(ApiId=api_id, IntegrationType="MOCK")
    v2.create_route(ApiId=api_id, RouteKey="$connect", Target=f"integrations/{integ['IntegrationId']}", AuthorizationType="AWS_IAM")
    v2.create_stage(ApiId=api_id, StageName="s", AutoDeploy=True)
    http_url = f"{server.endpoint}/_aws/execute-api/{api_id}/s"
    with pytest.raises(InvalidStatus) as unsigned:
        connect("ws" + http_url[4:], open_timeout=60)
    assert unsigned.value.response.status_code == 403
    request = AWSRequest(method="GET", url=http_url)
    SigV4QueryAuth(Credentials(ACCESS_KEY, SECRET_KEY), "execute-api", "us-east-1", expires=60).add_auth(request)
    with connect("ws" + request.url[4:], open_timeout=60) as ws:
        ws.send(json.dumps({"action": "none"}))
        assert _recv_json(ws)["message"] == "Forbidden"  # connected; no route for the message


def _wait_object(s3: Any, key: str) -> Any:
    for _ in range(300):
        try:
            return json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        except s3.exceptions.NoSuchKey:
            time.sleep(0.1)
    raise AssertionError(f"no object {key}")


def test_restart_keeps_api(env: dict[str, Any]) -> None:
    """Last in the module: restarts the module's server."""
    env["server"].restart()
    api = env["v2"].get_api(ApiId=env["api_id"])
    assert api["ProtocolType"] == "WEBSOCKET"
    with connect(env["url"], open_timeout=60) as ws:
        ws.send(json.dumps({"action": "ping"}))
        assert _recv_json(ws)["routeKey"] == "ping"
