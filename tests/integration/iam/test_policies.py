"""IAM managed and inline policies end to end: lifecycle, versions, attachments and their counts, the
built-in AWS-managed policies, document checks and quotas, paging, and documents URL-encoded on the wire."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from botocore.exceptions import ClientError

from tests.integration.iam.conftest import BASIC, S3_READ, TRUST, doc, error

ACCOUNT = "000000000000"


def test_managed_policy_lifecycle(iam: Any) -> None:
    created = iam.create_policy(
        PolicyName="Reader", Path="/team/", PolicyDocument=doc(S3_READ), Description="reads", Tags=[{"Key": "a", "Value": "b"}]
    )["Policy"]
    arn = created["Arn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:policy/team/Reader"
    assert created["PolicyId"].startswith("ANPA") and len(created["PolicyId"]) == 21
    assert (created["DefaultVersionId"], created["AttachmentCount"], created["IsAttachable"]) == ("v1", 0, True)
    assert "Description" not in created and created["Tags"] == [{"Key": "a", "Value": "b"}]
    got = iam.get_policy(PolicyArn=arn)["Policy"]
    assert got["Description"] == "reads" and got["Tags"] == [{"Key": "a", "Value": "b"}]

    v2 = dict(S3_READ, Statement=[dict(S3_READ["Statement"][0], Action="s3:*")])
    assert iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc(v2), SetAsDefault=True)["PolicyVersion"]["VersionId"] == "v2"
    assert iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc(S3_READ))["PolicyVersion"] == {
        "VersionId": "v3", "IsDefaultVersion": False, "CreateDate": iam.get_policy_version(PolicyArn=arn, VersionId="v3")["PolicyVersion"]["CreateDate"]
    }
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v2"
    version = iam.get_policy_version(PolicyArn=arn, VersionId="v2")["PolicyVersion"]
    assert version["Document"] == v2 and version["IsDefaultVersion"] is True
    listed = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in listed] == [("v3", False), ("v2", True), ("v1", False)]
    assert "Document" not in listed[0]
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
    with pytest.raises(ClientError) as e:
        iam.delete_policy_version(PolicyArn=arn, VersionId="v1")
    assert error(e) == ("DeleteConflict", "Cannot delete the default version of a policy.", 409)
    with pytest.raises(ClientError) as e:
        iam.delete_policy(PolicyArn=arn)
    assert error(e)[0:3:2] == ("DeleteConflict", 409) and "must delete the policy's versions" in error(e)[1]
    for v in ("v2", "v3"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=v)

    iam.tag_policy(PolicyArn=arn, Tags=[{"Key": "A", "Value": "upper"}])  # policy tag keys are case-sensitive
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == [{"Key": "A", "Value": "upper"}, {"Key": "a", "Value": "b"}]
    iam.untag_policy(PolicyArn=arn, TagKeys=["a"])
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == [{"Key": "A", "Value": "upper"}]
    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(ClientError) as e:
        iam.get_policy(PolicyArn=arn)
    assert error(e) == ("NoSuchEntity", f"Policy {arn} was not found.", 404)


def test_policy_errors(iam: Any) -> None:
    arn = iam.create_policy(PolicyName="Once", PolicyDocument=doc(S3_READ))["Policy"]["Arn"]
    with pytest.raises(ClientError) as e:
        iam.create_policy(PolicyName="ONCE", PolicyDocument=doc(S3_READ), Path="/elsewhere/")
    assert error(e) == ("EntityAlreadyExists", "A policy called ONCE already exists. Duplicate names are not allowed.", 409)
    malformed = [
        ("[]", "Syntax errors in policy."),
        ("not json", "Syntax errors in policy."),
        (doc({"Version": "2012-10-17"}), "Syntax errors in policy."),
        (doc({"Version": "2013-10-17", "Statement": S3_READ["Statement"]}), "Syntax errors in policy."),
        (doc({"Version": "2008-10-17", "Statement": S3_READ["Statement"]}), "Policy document must be version 2012-10-17 or greater."),
        (doc({**S3_READ, "Statement": [{**S3_READ["Statement"][0], "Principal": "*"}]}), "Policy document should not specify a principal."),
    ]
    for text, message in malformed:
        with pytest.raises(ClientError) as e:
            iam.create_policy(PolicyName="Malformed", PolicyDocument=text)
        assert error(e) == ("MalformedPolicyDocument", message, 400)
        with pytest.raises(ClientError) as e:
            iam.create_policy_version(PolicyArn=arn, PolicyDocument=text)
        assert error(e) == ("MalformedPolicyDocument", message, 400)
    huge = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [f"s3:Get{i:05d}" for i in range(600)], "Resource": "*"}]}
    with pytest.raises(ClientError) as e:
        iam.create_policy(PolicyName="Huge", PolicyDocument=doc(huge))
    assert error(e) == ("LimitExceeded", "Cannot exceed quota for PolicySize: 6144", 409)
    for expected in ("v2", "v3", "v4", "v5"):
        assert iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc(S3_READ))["PolicyVersion"]["VersionId"] == expected
    with pytest.raises(ClientError) as e:
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc(S3_READ))
    assert error(e)[0:3:2] == ("LimitExceeded", 409) and "up to 5 versions" in error(e)[1]
    with pytest.raises(ClientError) as e:
        iam.get_policy_version(PolicyArn=arn, VersionId="v9")
    assert error(e) == ("NoSuchEntity", f"Policy {arn} version v9 does not exist or is not attachable.", 404)
    with pytest.raises(ClientError) as e:
        iam.get_policy(PolicyArn="not-a-policy-arn-at-all")
    assert error(e) == ("ValidationError", "ARN not-a-policy-arn-at-all is not valid.", 400)
    with pytest.raises(ClientError) as e:
        iam.delete_policy(PolicyArn=BASIC)
    assert error(e)[0] == "AccessDenied" and error(e)[2] == 403


def test_attachments_and_inline_policies(iam: Any) -> None:
    iam.create_role(RoleName="Holder", AssumeRolePolicyDocument=doc(TRUST))
    arn = iam.create_policy(PolicyName="Attached", Path="/team/", PolicyDocument=doc(S3_READ))["Policy"]["Arn"]
    unknown_aws = "arn:aws:iam::aws:policy/SomePolicyNimbusDoesNotShip"
    for policy in (arn, BASIC, unknown_aws, arn):  # attaching twice is not an error
        iam.attach_role_policy(RoleName="Holder", PolicyArn=policy)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    assert iam.get_policy(PolicyArn=BASIC)["Policy"]["AttachmentCount"] == 1
    names = [p["PolicyName"] for p in iam.list_attached_role_policies(RoleName="Holder")["AttachedPolicies"]]
    assert names == ["Attached", "AWSLambdaBasicExecutionRole", "SomePolicyNimbusDoesNotShip"]
    assert iam.list_attached_role_policies(RoleName="Holder", PathPrefix="/team/")["AttachedPolicies"] == [{"PolicyName": "Attached", "PolicyArn": arn}]
    page = iam.list_attached_role_policies(RoleName="Holder", MaxItems=2)
    assert page["IsTruncated"] and len(iam.list_attached_role_policies(RoleName="Holder", Marker=page["Marker"])["AttachedPolicies"]) == 1
    role_id = iam.get_role(RoleName="Holder")["Role"]["RoleId"]
    entities = iam.list_entities_for_policy(PolicyArn=arn)
    assert entities["PolicyRoles"] == [{"RoleName": "Holder", "RoleId": role_id}] and entities["PolicyUsers"] == []
    assert iam.list_entities_for_policy(PolicyArn=unknown_aws, EntityFilter="Role")["PolicyRoles"][0]["RoleName"] == "Holder"
    assert arn in [p["Arn"] for p in iam.list_policies(Scope="Local", OnlyAttached=True)["Policies"]]
    with pytest.raises(ClientError) as e:
        iam.attach_role_policy(RoleName="Holder", PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/nonexistent-policy")
    assert error(e) == ("NoSuchEntity", f"Policy arn:aws:iam::{ACCOUNT}:policy/nonexistent-policy does not exist or is not attachable.", 404)
    with pytest.raises(ClientError) as e:
        iam.attach_role_policy(RoleName="Holder", PolicyArn="longpolicynamebutnoarn")
    assert error(e) == ("ValidationError", "ARN longpolicynamebutnoarn is not valid.", 400)
    with pytest.raises(ClientError) as e:
        iam.attach_role_policy(RoleName="Holder", PolicyArn="arn:aws:iam::aws:policy/aws-service-role/AWSLambdaReplicator")
    assert error(e)[0] == "PolicyNotAttachable"
    with pytest.raises(ClientError) as e:
        iam.delete_policy(PolicyArn=arn)
    assert error(e) == ("DeleteConflict", "Cannot delete a policy attached to entities.", 409)
    for policy in (arn, BASIC, unknown_aws):
        iam.detach_role_policy(RoleName="Holder", PolicyArn=policy)
    with pytest.raises(ClientError) as e:
        iam.detach_role_policy(RoleName="Holder", PolicyArn=arn)
    assert error(e) == ("NoSuchEntity", f"Policy {arn} was not found.", 404)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 0
    for i in range(10):
        iam.attach_role_policy(RoleName="Holder", PolicyArn=f"arn:aws:iam::aws:policy/Filler{i}")
    with pytest.raises(ClientError) as e:
        iam.attach_role_policy(RoleName="Holder", PolicyArn=arn)
    assert error(e) == ("LimitExceeded", "Cannot exceed quota for PoliciesPerRole: 10", 409)

    iam.put_role_policy(RoleName="Holder", PolicyName="b-inline", PolicyDocument=doc(S3_READ))
    iam.put_role_policy(RoleName="Holder", PolicyName="a-inline", PolicyDocument=doc({"Statement": S3_READ["Statement"]}))
    assert iam.list_role_policies(RoleName="Holder")["PolicyNames"] == ["a-inline", "b-inline"]
    got = iam.get_role_policy(RoleName="holder", PolicyName="b-inline")
    assert (got["RoleName"], got["PolicyName"], got["PolicyDocument"]) == ("Holder", "b-inline", S3_READ)
    page = iam.list_role_policies(RoleName="Holder", MaxItems=1)
    assert page["PolicyNames"] == ["a-inline"] and iam.list_role_policies(RoleName="Holder", Marker=page["Marker"])["PolicyNames"] == ["b-inline"]
    big = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [f"s3:Get{i:05d}" for i in range(500)], "Resource": "*"}]}
    iam.put_role_policy(RoleName="Holder", PolicyName="big-1", PolicyDocument=doc(big))
    with pytest.raises(ClientError) as e:
        iam.put_role_policy(RoleName="Holder", PolicyName="big-2", PolicyDocument=doc(big))
    assert error(e) == ("LimitExceeded", "Maximum policy size of 10240 bytes exceeded for role Holder", 409)
    with pytest.raises(ClientError) as e:
        iam.put_role_policy(RoleName="Holder", PolicyName="bad", PolicyDocument=doc({"Statement": [{"Effect": "Allow", "Action": "s3:*"}]}))
    assert error(e) == ("MalformedPolicyDocument", "Policy statement must contain resources.", 400)
    iam.delete_role_policy(RoleName="Holder", PolicyName="a-inline")
    with pytest.raises(ClientError) as e:
        iam.get_role_policy(RoleName="Holder", PolicyName="a-inline")
    assert error(e) == ("NoSuchEntity", "The role policy with name a-inline cannot be found.", 404)


def test_aws_managed_policies(iam: Any) -> None:
    policy = iam.get_policy(PolicyArn=BASIC)["Policy"]
    assert (policy["PolicyName"], policy["Path"], policy["DefaultVersionId"]) == ("AWSLambdaBasicExecutionRole", "/service-role/", "v1")
    assert policy["Description"] == "Provides write permissions to CloudWatch Logs." and policy["PolicyId"].startswith("ANPA")
    version = iam.get_policy_version(PolicyArn=BASIC, VersionId=policy["DefaultVersionId"])["PolicyVersion"]
    assert version["Document"]["Statement"][0]["Action"] == ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    kinesis = iam.get_policy_version(PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaKinesisExecutionRole", VersionId="v1")
    assert "kinesis:GetRecords" in kinesis["PolicyVersion"]["Document"]["Statement"][0]["Action"]
    with pytest.raises(ClientError) as e:
        iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/AmazonEC2FullAccess")
    assert error(e) == ("NoSuchEntity", "Policy arn:aws:iam::aws:policy/AmazonEC2FullAccess was not found.", 404)
    names = {p["PolicyName"] for p in iam.list_policies(Scope="AWS")["Policies"]}
    assert names == {
        "AWSLambdaBasicExecutionRole", "AWSLambdaKinesisExecutionRole", "AWSLambdaRole", "AWSLambdaExecute", "AmazonS3FullAccess",
        "AmazonS3ReadOnlyAccess", "AmazonKinesisFullAccess", "AmazonKinesisFirehoseFullAccess", "CloudWatchLogsFullAccess",
        "AdministratorAccess", "AWSLambda_FullAccess",
    }
    for p in iam.list_policies(Scope="AWS")["Policies"]:  # each answers its document
        assert iam.get_policy_version(PolicyArn=p["Arn"], VersionId=p["DefaultVersionId"])["PolicyVersion"]["Document"]["Statement"]
    assert [p["PolicyName"] for p in iam.list_policies(Scope="AWS", PathPrefix="/service-role/")["Policies"]] == [
        "AWSLambdaBasicExecutionRole", "AWSLambdaKinesisExecutionRole", "AWSLambdaRole"
    ]


def test_list_policies_pages(iam: Any) -> None:
    for i in range(5):
        iam.create_policy(PolicyName=f"paged-{i}", Path="/paged/", PolicyDocument=doc(S3_READ))
    first = iam.list_policies(Scope="Local", PathPrefix="/paged/", MaxItems=2)
    assert first["IsTruncated"] and [p["PolicyName"] for p in first["Policies"]] == ["paged-0", "paged-1"]
    assert not {"Tags", "Description"} & set(first["Policies"][0])
    everything = [p["PolicyName"] for page in iam.get_paginator("list_policies").paginate(Scope="Local", PathPrefix="/paged/", PaginationConfig={"PageSize": 2}) for p in page["Policies"]]
    assert everything == [f"paged-{i}" for i in range(5)]
    assert len(iam.list_policies()["Policies"]) >= 16  # Scope All: the built-in AWS ones and the local ones


def test_documents_are_url_encoded_on_the_wire(iam: Any) -> None:
    """AWS sends policy documents percent-encoded; botocore decodes them into dicts (json_decode_policies)."""
    tricky = {"Version": "2012-10-17", "Statement": [{"Sid": "AmpLtPctE9", "Effect": "Allow", "Action": "s3:GetObject",
                                                         "Resource": "arn:aws:s3:::b/a&b<c>%d é+ x"}]}
    trust_text = json.dumps(TRUST, indent=2)
    policy_text = json.dumps(tricky, indent=2)
    bodies: list[str] = []
    iam.meta.events.register("after-call.iam", lambda http_response, **_: bodies.append(http_response.text))
    try:
        iam.create_role(RoleName="Encoded", AssumeRolePolicyDocument=trust_text)
        iam.put_role_policy(RoleName="Encoded", PolicyName="tricky", PolicyDocument=policy_text)
        arn = iam.create_policy(PolicyName="Encoded", PolicyDocument=policy_text)["Policy"]["Arn"]
        role = iam.get_role(RoleName="Encoded")["Role"]
        inline = iam.get_role_policy(RoleName="Encoded", PolicyName="tricky")
        version = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    finally:
        iam.meta.events.unregister("after-call.iam")
    assert role["AssumeRolePolicyDocument"] == TRUST and inline["PolicyDocument"] == tricky and version["Document"] == tricky
    encoded_trust, encoded_policy = quote(trust_text, safe=""), quote(policy_text, safe="")
    assert encoded_trust.startswith("%7B%0A%20%20%22Version%22")  # the text as sent, percent-encoded
    assert f"<AssumeRolePolicyDocument>{encoded_trust}</AssumeRolePolicyDocument>" in bodies[0]
    assert f"<AssumeRolePolicyDocument>{encoded_trust}</AssumeRolePolicyDocument>" in bodies[3]
    assert f"<PolicyDocument>{encoded_policy}</PolicyDocument>" in bodies[4]
    assert f"<Document>{encoded_policy}</Document>" in bodies[5]
