"""Gateway benchmark: a GET through an API Gateway REST API (Lambda proxy) and through a function URL
to a warm hello-world function, beside a direct raw-HTTP Invoke of the same function (signed once;
the signature stays valid for the run) and a bare ASGI hello-world on the same uvicorn configuration,
all in the same run, at concurrency 1 and 32.

Run: .venv/bin/python benchmarks/gateway.py   (needs wrk: apt-get install wrk)
"""

from __future__ import annotations

import sys

from _common import ACCESS_KEY, SECRET_KEY, code_zip, have_wrk, signed_headers, start_bare, start_nimbus, stop, wrk

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent / "src"))

HELLO = """import json

def lambda_handler(event, context):
    return {"statusCode": 200, "body": json.dumps("Hello from Lambda!")}
"""



def _client(service: str, port: int) -> object:
    import boto3
    from botocore.config import Config

    return boto3.client(service, region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id=ACCESS_KEY,
                        aws_secret_access_key=SECRET_KEY, config=Config(retries={"max_attempts": 1}))


def main() -> int:
    if not have_wrk():
        print("wrk is not installed (apt-get install wrk); skipping")
        return 0
    from nimbus.cli.trigger import create_http_trigger, invoke_urls

    bare, bport, bdir = start_bare()
    nim, port, ndir, _ = start_nimbus()
    try:
        lam, apigw = _client("lambda", port), _client("apigateway", port)
        lam.create_function(FunctionName="hello", Runtime="python3.8", Role="arn:aws:iam::000000000000:role/r",  # type: ignore[attr-defined]
                            Handler="lambda_function.lambda_handler", Code={"ZipFile": code_zip(HELLO, "lambda_function.py")})
        lam.get_waiter("function_active_v2").wait(FunctionName="hello", WaiterConfig={"Delay": 0.2})  # type: ignore[attr-defined]
        trig = create_http_trigger(lam, apigw, "hello", security="open", stage="default")
        gw_url, _ = invoke_urls(f"http://127.0.0.1:{port}", trig["restApiId"], "default", "/hello")
        cfg = lam.create_function_url_config(FunctionName="hello", AuthType="NONE")  # type: ignore[attr-defined]
        lam.add_permission(FunctionName="hello", StatementId="url", Action="lambda:InvokeFunctionUrl", Principal="*",  # type: ignore[attr-defined]
                           FunctionUrlAuthType="NONE")
        url_id = cfg["FunctionUrl"].split("//", 1)[1].split(".", 1)[0]
        fn_url = f"http://127.0.0.1:{port}/_aws/lambda-url/{url_id}/"
        invoke_url = f"http://127.0.0.1:{port}/2015-03-31/functions/hello/invocations"
        body = b"{}"
        inv_headers = signed_headers("lambda", "us-east-1", invoke_url, body, content_type="application/json")
        # warm up: environments started, caches filled
        for c in (1, 32):
            wrk(gw_url, connections=c, seconds=1)
        print("\n| measurement | API Gateway GET | function URL GET | direct Invoke | bare ASGI hello | gateway/Invoke | target |")
        print("|---|---|---|---|---|---|---|")
        for c in (1, 32):
            g = wrk(gw_url, connections=c, seconds=5)
            u = wrk(fn_url, connections=c, seconds=5)
            i = wrk(invoke_url, connections=c, seconds=5, method="POST", headers=inv_headers, body=body)
            b = wrk(f"http://127.0.0.1:{bport}/", connections=c, seconds=5)
            for name, r in (("gateway", g), ("function URL", u), ("invoke", i)):
                if r["errors"]:
                    print(f"warning: {r['errors']:.0f} non-2xx responses from {name}", file=sys.stderr)
            tgt = ">= 3000 req/s" if c == 32 else ""
            print(f"| req/s c={c} | {g['rps']:.0f} | {u['rps']:.0f} | {i['rps']:.0f} | {b['rps']:.0f} | {g['rps'] / i['rps']:.2f} | {tgt} |")
            tgt = "<= 0.5 ms" if c == 1 else ""
            print(f"| p50 ms c={c} | {g['p50_ms']:.3f} | {u['p50_ms']:.3f} | {i['p50_ms']:.3f} | {b['p50_ms']:.3f} | {g['p50_ms'] / i['p50_ms']:.2f} | {tgt} |")
            print(f"| p99 ms c={c} | {g['p99_ms']:.3f} | {u['p99_ms']:.3f} | {i['p99_ms']:.3f} | {b['p99_ms']:.3f} | {g['p99_ms'] / i['p99_ms']:.2f} | |")
    finally:
        stop(bare, bdir)
        stop(nim, ndir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
