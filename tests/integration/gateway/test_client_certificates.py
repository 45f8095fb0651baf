"""Client certificates (GenerateClientCertificate & co., recorded only) on a real server: a real
self-signed certificate, tags, a stage naming it, the AWS CLI and a kill -9."""

from __future__ import annotations

import json
import ssl
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError


def _code(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return str(e.value.response["Error"]["Code"])


def test_client_certificates(nimbus_server: Any, tmp_path: Path) -> None:
    apigw = nimbus_server.client("apigateway")
    cert = apigw.generate_client_certificate(description="backend", tags={"k": "v"})
    cid = cert["clientCertificateId"]
    assert cert["description"] == "backend" and cert["tags"] == {"k": "v"}
    assert cert["expirationDate"] - cert["createdDate"] == timedelta(days=365)
    pem = tmp_path / "cert.pem"
    pem.write_text(cert["pemEncodedCertificate"])
    decoded = ssl._ssl._test_decode_cert(str(pem))  # type: ignore[attr-defined]  # CPython's own X.509 parser
    assert ("commonName", f"ApiGateway {cid}") in [rdn[0] for rdn in decoded["subject"]]
    apigw.tag_resource(resourceArn=f"arn:aws:apigateway:us-east-1::/clientcertificates/{cid}", tags={"k2": "v2"})
    out = apigw.update_client_certificate(clientCertificateId=cid, patchOperations=[{"op": "replace", "path": "/description", "value": "d2"}])
    assert out["description"] == "d2" and out["tags"] == {"k": "v", "k2": "v2"}
    assert _code(apigw.update_client_certificate, clientCertificateId=cid,
                 patchOperations=[{"op": "replace", "path": "/pemEncodedCertificate", "value": "x"}]) == "BadRequestException"
    assert _code(apigw.get_client_certificate, clientCertificateId="nope") == "NotFoundException"
    # a stage names it (recorded: no HTTP backend sees it)
    api = apigw.create_rest_api(name="mtls")
    apigw.put_method(restApiId=api["id"], resourceId=api["rootResourceId"], httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=api["id"], resourceId=api["rootResourceId"], httpMethod="GET", type="MOCK")
    apigw.create_deployment(restApiId=api["id"], stageName="prod")
    stage = apigw.update_stage(restApiId=api["id"], stageName="prod",
                               patchOperations=[{"op": "replace", "path": "/clientCertificateId", "value": cid}])
    assert stage["clientCertificateId"] == cid
    assert _code(apigw.update_stage, restApiId=api["id"], stageName="prod",
                 patchOperations=[{"op": "replace", "path": "/clientCertificateId", "value": "nope"}]) == "NotFoundException"
    spare = apigw.generate_client_certificate()["clientCertificateId"]
    apigw.delete_client_certificate(clientCertificateId=spare)
    cli = json.loads(nimbus_server.aws("apigateway", "get-client-certificates").stdout)
    assert [c["clientCertificateId"] for c in cli["items"]] == [cid]
    nimbus_server.kill9()
    nimbus_server.start()
    apigw = nimbus_server.client("apigateway")
    again = apigw.get_client_certificate(clientCertificateId=cid)
    assert again["pemEncodedCertificate"] == cert["pemEncodedCertificate"] and again["description"] == "d2"
    assert _code(apigw.get_client_certificate, clientCertificateId=spare) == "NotFoundException"
