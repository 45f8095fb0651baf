"""OpenID Connect and SAML identity providers: recorded as IAM keeps them (Terraform creates, reads, updates,
tags and deletes them), with IAM's errors, through boto3 and the AWS CLI, and kept across a kill -9."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess

THUMB = "6938fd4d98bab03faadb97b34396831e3780aea1"
METADATA = ('<?xml version="1.0"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
            'entityID="https://idp.example.com" validUntil="2030-01-01T00:00:00Z"><md:IDPSSODescriptor '
            'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/></md:EntityDescriptor>') + " " * 1000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusProcess]:
    base: Path = tmp_path_factory.mktemp("idp")
    proc = NimbusProcess(base / "data").start()
    try:
        yield proc
    finally:
        proc.stop()


def code_of(e: pytest.ExceptionInfo[ClientError]) -> str:
    return str(e.value.response["Error"]["Code"])


def test_openid_connect_providers(server: NimbusProcess) -> None:
    iam = server.client("iam")
    unchecked = server.client("iam", config=Config(parameter_validation=False, retries={"max_attempts": 1}))
    arn = iam.create_open_id_connect_provider(Url="https://token.actions.githubusercontent.com", ClientIDList=["sts.amazonaws.com"],
                                              ThumbprintList=[THUMB], Tags=[{"Key": "ci", "Value": "github"}])["OpenIDConnectProviderArn"]
    assert arn == "arn:aws:iam::000000000000:oidc-provider/token.actions.githubusercontent.com"
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["Url"] == "token.actions.githubusercontent.com" and got["ClientIDList"] == ["sts.amazonaws.com"]
    assert got["ThumbprintList"] == [THUMB] and got["Tags"] == [{"Key": "ci", "Value": "github"}]
    with pytest.raises(ClientError) as e:
        iam.create_open_id_connect_provider(Url="https://token.actions.githubusercontent.com", ClientIDList=["x"])
    assert code_of(e) == "EntityAlreadyExists"
    for bad, code in (({"Url": "http://plain.example.com"}, "InvalidInput"),
                      ({"Url": "https://a.example.com", "ThumbprintList": ["g" * 40]}, "InvalidInput"),
                      ({"Url": "https://b.example.com", "ThumbprintList": [THUMB] * 6}, "LimitExceeded")):
        with pytest.raises(ClientError) as e:
            unchecked.create_open_id_connect_provider(**bad)
        assert code_of(e) == code, bad
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="my-app")
    iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="sts.amazonaws.com")
    iam.update_open_id_connect_provider_thumbprint(OpenIDConnectProviderArn=arn, ThumbprintList=[THUMB.upper()])
    iam.tag_open_id_connect_provider(OpenIDConnectProviderArn=arn, Tags=[{"Key": "env", "Value": "dev"}])
    iam.untag_open_id_connect_provider(OpenIDConnectProviderArn=arn, TagKeys=["ci"])
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["ClientIDList"] == ["my-app"] and got["ThumbprintList"] == [THUMB]
    assert iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]
    assert [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]] == [arn]
    server.kill9()
    server.start()
    iam = server.client("iam")
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ClientIDList"] == ["my-app"]
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    with pytest.raises(ClientError) as e:
        iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert code_of(e) == "NoSuchEntity"
    assert iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == []


def test_saml_providers_and_the_cli(server: NimbusProcess, tmp_path: Path) -> None:
    iam = server.client("iam")
    arn = iam.create_saml_provider(Name="corp-idp", SAMLMetadataDocument=METADATA)["SAMLProviderArn"]
    assert arn == "arn:aws:iam::000000000000:saml-provider/corp-idp"
    got = iam.get_saml_provider(SAMLProviderArn=arn)
    assert got["SAMLMetadataDocument"] == METADATA and got["ValidUntil"].year == 2030
    with pytest.raises(ClientError) as e:
        iam.create_saml_provider(Name="corp-idp", SAMLMetadataDocument=METADATA)
    assert code_of(e) == "EntityAlreadyExists"
    with pytest.raises(ClientError) as e:
        iam.create_saml_provider(Name="bad-doc", SAMLMetadataDocument="x" * 1000)
    assert code_of(e) == "InvalidInput"
    updated = METADATA.replace("2030-01-01", "2031-06-01")
    assert iam.update_saml_provider(SAMLProviderArn=arn, SAMLMetadataDocument=updated)["SAMLProviderArn"] == arn
    listed = iam.list_saml_providers()["SAMLProviderList"]
    assert [(p["Arn"], p["ValidUntil"].year) for p in listed] == [(arn, 2031)]
    doc = tmp_path / "metadata.xml"
    doc.write_text(METADATA)
    out = json.loads(server.aws("iam", "create-saml-provider", "--name", "cli-idp", "--saml-metadata-document", f"file://{doc}").stdout)
    assert out["SAMLProviderArn"].endswith(":saml-provider/cli-idp")
    server.aws("iam", "delete-saml-provider", "--saml-provider-arn", out["SAMLProviderArn"])
    iam.delete_saml_provider(SAMLProviderArn=arn)
    assert iam.list_saml_providers()["SAMLProviderList"] == []
