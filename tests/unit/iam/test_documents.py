"""Policy document checks: what IAM refuses, in its wording, for trust, inline and managed policies."""

from __future__ import annotations

import json

import pytest

from nimbus.services.iam import documents
from nimbus.services.iam.documents import Kind
from nimbus.services.iam.errors import LimitExceededException, MalformedPolicyDocumentException

TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
IDENTITY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}


def refusal(doc: object, kind: Kind) -> str:
    text = doc if isinstance(doc, str) else json.dumps(doc)
    with pytest.raises(MalformedPolicyDocumentException) as e:
        documents.check(text, kind)
    return e.value.message


def test_valid_documents_pass() -> None:
    documents.check(json.dumps(TRUST), Kind.TRUST)
    documents.check(json.dumps({**TRUST, "Version": "2008-10-17"}), Kind.TRUST)
    documents.check(json.dumps(IDENTITY), Kind.MANAGED)
    documents.check(json.dumps({"Statement": IDENTITY["Statement"][0]}), Kind.INLINE)  # Version optional inline
    documents.check(json.dumps({**IDENTITY, "Version": "2008-10-17"}), Kind.INLINE)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("not json", "Syntax errors in policy."),
        ("null", "Syntax errors in policy."),
        ([IDENTITY], "Syntax errors in policy."),
        ({"Version": "2012-10-17"}, "Syntax errors in policy."),
        ({"Version": "2013-10-17", "Statement": IDENTITY["Statement"]}, "Syntax errors in policy."),
        ({"Version": "2012-10-17", "Statement": ["afd"]}, "Syntax errors in policy."),
        ({**IDENTITY, "Extra": 1}, "Syntax errors in policy."),
        ({"Statement": IDENTITY["Statement"]}, "Policy document must be version 2012-10-17 or greater."),
        ({**IDENTITY, "Version": "2008-10-17"}, "Policy document must be version 2012-10-17 or greater."),
        ({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*"}]}, "Policy statement must contain resources."),
        ({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*"}]}, "Policy statement must contain actions."),
        ({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3", "Resource": "*"}]},
         "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."),
        ({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "a:b:c", "Resource": "*"}]},
         "Actions/Condition can contain only one colon."),
        ({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "a a:b", "Resource": "*"}]}, "Vendor a a is not valid"),
        ({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "bucket"}]},
         'Resource bucket must be in ARN format or "*".'),
        ({"Version": "2012-10-17", "Statement": [{"Effect": "allow", "Action": "s3:*", "Resource": "*"}]}, "The policy failed legacy parsing"),
        ({"Version": "2012-10-17", "Statement": [{**IDENTITY["Statement"][0], "Principal": "*"}]},
         "Policy document should not specify a principal."),
    ],
)
def test_managed_refusals(doc: object, message: str) -> None:
    assert refusal(doc, Kind.MANAGED) == message


def test_trust_refusals() -> None:
    assert refusal("{not json", Kind.TRUST) == "This policy contains invalid Json"
    assert refusal({"Version": "2012-10-17"}, Kind.TRUST) == "Syntax errors in policy."
    stmt = TRUST["Statement"][0]
    assert refusal({"Statement": [{**stmt, "Resource": "*"}]}, Kind.TRUST) == "Has prohibited field Resource"
    assert refusal({"Statement": [{**stmt, "Action": "s3:GetObject"}]}, Kind.TRUST) == "AssumeRole policy may only specify STS AssumeRole actions."
    no_principal = {k: v for k, v in stmt.items() if k != "Principal"}
    assert refusal({"Statement": [no_principal]}, Kind.TRUST) == "Missing required field Principal"


def test_sizes_exclude_whitespace() -> None:
    padded = json.dumps(TRUST, indent=100)  # far over 2048 characters, mostly white space
    assert len(padded) > documents.MAX_TRUST_POLICY_CHARS
    documents.check(padded, Kind.TRUST)
    big = {**TRUST, "Statement": [{**TRUST["Statement"][0], "Sid": "x" * 2100}]}
    with pytest.raises(LimitExceededException, match="ACLSizePerRole: 2048"):
        documents.check(json.dumps(big), Kind.TRUST)
    many = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [f"s3:Get{i:05d}" for i in range(600)], "Resource": "*"}]}
    with pytest.raises(LimitExceededException, match="PolicySize: 6144"):
        documents.check(json.dumps(many), Kind.MANAGED)
    documents.check(json.dumps(many), Kind.INLINE)  # inline policies are limited per role, not per document
