"""ImportApiKeys (CSV, AWS's API key file format) and GetUsagePlanKey on a real server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError


def _code(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return str(e.value.response["Error"]["Code"])


def test_import_api_keys_and_usage_plan_key(nimbus_server: Any, tmp_path: Path) -> None:
    apigw = nimbus_server.client("apigateway")
    p1 = apigw.create_usage_plan(name="p1")["id"]
    p2 = apigw.create_usage_plan(name="p2")["id"]
    csv = (f'Name,key,description,Enabled,usageplanIds,ignored\n'
           f'first,apikey1234abcdefghij0123456789,An imported key,TRUE,{p1},x\n'
           f'second,apikey1234abcdefghij0123456780,,false,"{p1},{p2}",y\n')
    out = apigw.import_api_keys(body=csv.encode(), format="csv")
    assert len(out["ids"]) == 2 and "warnings" not in out
    first = apigw.get_api_key(apiKey=out["ids"][0], includeValue=True)
    assert (first["name"], first["value"], first["description"], first["enabled"]) == \
        ("first", "apikey1234abcdefghij0123456789", "An imported key", True)
    assert apigw.get_api_key(apiKey=out["ids"][1])["enabled"] is False
    assert {k["id"] for k in apigw.get_usage_plan_keys(usagePlanId=p1)["items"]} == set(out["ids"])
    got = apigw.get_usage_plan_key(usagePlanId=p2, keyId=out["ids"][1])
    assert (got["id"], got["type"], got["name"]) == (out["ids"][1], "API_KEY", "second")
    assert _code(apigw.get_usage_plan_key, usagePlanId=p2, keyId=out["ids"][0]) == "NotFoundException"
    assert _code(apigw.get_usage_plan_key, usagePlanId="nope", keyId=out["ids"][0]) == "NotFoundException"
    # the same key value again overwrites it (same id); bad rows are warnings, or refuse the whole file
    again = "key,name,enabled\napikey1234abcdefghij0123456789,renamed,false\nshort,bad,true\n"
    assert _code(apigw.import_api_keys, body=again.encode(), format="csv", failOnWarnings=True) == "BadRequestException"
    assert apigw.get_api_key(apiKey=out["ids"][0])["name"] == "first"
    path = tmp_path / "keys.csv"
    path.write_text(again)
    cli = json.loads(nimbus_server.aws("apigateway", "import-api-keys", "--format", "csv", "--body", f"fileb://{path}").stdout)
    assert cli["ids"] == [out["ids"][0]] and len(cli["warnings"]) == 1
    renamed = apigw.get_api_key(apiKey=out["ids"][0])
    assert (renamed["name"], renamed["enabled"]) == ("renamed", False) and "description" not in renamed
    # errors: no Key column, another format, an unknown plan
    assert _code(apigw.import_api_keys, body=b"name,value\na,b\n", format="csv") == "BadRequestException"
    assert _code(apigw.import_api_keys, body=csv.encode(), format="json") == "BadRequestException"
    out = apigw.import_api_keys(body=b"name,key,usageplanids\nz,apikey1234abcdefghij01234567zz,nope\n", format="csv")
    assert out["ids"] == [] and len(out["warnings"]) == 1
    assert len(apigw.get_api_keys()["items"]) == 2
