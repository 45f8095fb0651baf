"""What IAM records survives a restart, and a role from CreateRole is what Lambda's CreateFunction takes."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import NimbusProcess
from tests.integration.iam.conftest import BASIC, S3_READ, TRUST, doc
from tests.integration.lambda_.functions import ECHO, py_zip


def test_roles_and_policies_survive_a_restart_and_serve_lambda(tmp_path: Path) -> None:
    server = NimbusProcess(tmp_path / "data").start()
    try:
        iam = server.client("iam")
        role = iam.create_role(RoleName="fn-role", Path="/service-role/", AssumeRolePolicyDocument=doc(TRUST), Tags=[{"Key": "k", "Value": "v"}])["Role"]
        iam.attach_role_policy(RoleName="fn-role", PolicyArn=BASIC)
        arn = iam.create_policy(PolicyName="fn-read", PolicyDocument=doc(S3_READ))["Policy"]["Arn"]
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc(S3_READ), SetAsDefault=True)
        iam.attach_role_policy(RoleName="fn-role", PolicyArn=arn)
        iam.put_role_policy(RoleName="fn-role", PolicyName="inline", PolicyDocument=doc(S3_READ))
        iam.put_role_permissions_boundary(RoleName="fn-role", PermissionsBoundary=arn)

        lam = server.client("lambda")
        fn = lam.create_function(FunctionName="uses-iam-role", Runtime="python3.12", Role=role["Arn"], Handler="app.handler", Code={"ZipFile": py_zip(ECHO)})
        assert fn["Role"] == role["Arn"] == "arn:aws:iam::000000000000:role/service-role/fn-role"

        server.restart()
        iam = server.client("iam", "eu-central-1")
        again = iam.get_role(RoleName="fn-role")["Role"]
        assert (again["RoleId"], again["CreateDate"], again["AssumeRolePolicyDocument"]) == (role["RoleId"], role["CreateDate"], TRUST)
        assert again["Tags"] == [{"Key": "k", "Value": "v"}] and again["PermissionsBoundary"]["PermissionsBoundaryArn"] == arn
        assert {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName="fn-role")["AttachedPolicies"]} == {BASIC, arn}
        policy = iam.get_policy(PolicyArn=arn)["Policy"]
        assert (policy["DefaultVersionId"], policy["AttachmentCount"], policy["PermissionsBoundaryUsageCount"]) == ("v2", 1, 1)
        assert iam.get_role_policy(RoleName="fn-role", PolicyName="inline")["PolicyDocument"] == S3_READ
        assert iam.get_policy(PolicyArn=BASIC)["Policy"]["AttachmentCount"] == 1
        assert server.client("lambda").get_function(FunctionName="uses-iam-role")["Configuration"]["Role"] == role["Arn"]
    finally:
        server.stop()
