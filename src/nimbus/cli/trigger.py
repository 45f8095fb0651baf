"""``nimbus trigger http FUNCTION``: what the console's "Add trigger → API Gateway" creates, over the AWS API.

A REST API named ``<function>-API`` with a ``/<function>`` resource, method ANY, a Lambda proxy
integration, a deployment to the stage (``default``), the invoke permission (lambda AddPermission),
and for ``--security api-key`` an API key in a usage plan. Prints the invoke URL (and the key).
"""

from __future__ import annotations

import argparse
import json
import uuid
from typing import Any
from urllib.parse import urlsplit

from nimbus.cli.client import client, endpoint_url


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", choices=["http"], help="trigger kind (http: an API Gateway REST API)")
    p.add_argument("function", help="function name or ARN")
    p.add_argument("--security", choices=["open", "api-key", "iam"], default="open", help="who may call the URL (default open)")
    p.add_argument("--stage", default="default", help="stage name (default: default)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def invoke_urls(endpoint: str, api_id: str, stage: str, path: str) -> tuple[str, str]:
    """(path form, host form) of a REST API invoke URL on a Nimbus endpoint."""
    parts = urlsplit(endpoint)
    port = f":{parts.port}" if parts.port else ""
    return (
        f"{parts.scheme}://{parts.netloc}/_aws/execute-api/{api_id}/{stage}{path}",
        f"{parts.scheme}://{api_id}.execute-api.localhost{port}/{stage}{path}",
    )


def create_http_trigger(lam: Any, apigw: Any, function: str, *, security: str, stage: str) -> dict[str, Any]:
    fn = lam.get_function(FunctionName=function)["Configuration"]
    name, fn_arn = fn["FunctionName"], fn["FunctionArn"]
    _, _, _, region, account, _ = fn_arn.split(":", 5)
    api = apigw.create_rest_api(
        name=f"{name}-API",
        description="Created by nimbus trigger http",
        endpointConfiguration={"types": ["REGIONAL"]},
    )
    api_id = api["id"]
    resource = apigw.create_resource(restApiId=api_id, parentId=api["rootResourceId"], pathPart=name)
    apigw.put_method(
        restApiId=api_id,
        resourceId=resource["id"],
        httpMethod="ANY",
        authorizationType="AWS_IAM" if security == "iam" else "NONE",
        apiKeyRequired=security == "api-key",
    )
    apigw.put_integration(
        restApiId=api_id,
        resourceId=resource["id"],
        httpMethod="ANY",
        type="AWS_PROXY",
        integrationHttpMethod="POST",
        uri=f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{fn_arn}/invocations",
    )
    apigw.create_deployment(restApiId=api_id, stageName=stage)
    lam.add_permission(
        FunctionName=fn_arn,
        StatementId=f"nimbus-trigger-{api_id}-{uuid.uuid4().hex[:8]}",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:{region}:{account}:{api_id}/*/*/{name}",
    )
    out: dict[str, Any] = {"function": name, "restApiId": api_id, "stage": stage, "security": security, "resource": f"/{name}"}
    if security == "api-key":
        key = apigw.create_api_key(name=f"{name}-key", enabled=True)
        plan = apigw.create_usage_plan(name=f"{name}-UsagePlan", apiStages=[{"apiId": api_id, "stage": stage}])
        apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
        out.update(apiKey=key["value"], apiKeyId=key["id"], usagePlanId=plan["id"])
    return out


def run(args: argparse.Namespace) -> int:
    """AWS errors, missing credentials and an unreachable server are reported by ``nimbus.cli.main``."""
    out = create_http_trigger(client("lambda", args), client("apigateway", args), args.function,
                              security=args.security, stage=args.stage)
    url, host_url = invoke_urls(endpoint_url(args.endpoint_url), out["restApiId"], out["stage"], out["resource"])
    out.update(url=url, hostUrl=host_url)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"API Gateway trigger for {out['function']}: REST API {out['restApiId']}, stage {out['stage']}, security {out['security']}")
    print(f"  URL:      {url}")
    print(f"  also:     {host_url}   (where *.localhost resolves to 127.0.0.1)")
    if "apiKey" in out:
        print(f"  API key:  {out['apiKey']}   (send it in the x-api-key header)")
    if out["security"] == "iam":
        print("  callers sign requests with SigV4, service execute-api")
    return 0
