"""The account's alias (one, replaced by a new name, as IAM does) and GetAccountSummary's counts."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess
from tests.integration.iam.conftest import S3_READ, TRUST, doc, error


def test_account_alias(iam: Any, unchecked_iam: Any, nimbus_server: NimbusProcess) -> None:
    assert iam.list_account_aliases()["AccountAliases"] == []
    iam.create_account_alias(AccountAlias="team-dev")
    assert iam.list_account_aliases()["AccountAliases"] == ["team-dev"]
    with pytest.raises(ClientError) as e:
        iam.create_account_alias(AccountAlias="team-dev")
    assert error(e) == ("EntityAlreadyExists", "The account alias team-dev already exists.", 409)
    iam.create_account_alias(AccountAlias="team-prod")  # one alias: a new name replaces the old
    assert iam.list_account_aliases()["AccountAliases"] == ["team-prod"]
    with pytest.raises(ClientError) as e:
        iam.delete_account_alias(AccountAlias="team-dev")  # not the current one
    assert error(e)[0] == "NoSuchEntity"
    for bad in ("Team", "-dev", "dev-", "a--b", "ab"):
        with pytest.raises(ClientError) as e:
            unchecked_iam.create_account_alias(AccountAlias=bad)
        assert error(e)[0] == "ValidationError", bad
    assert nimbus_server.aws("iam", "list-account-aliases", "--query", "AccountAliases[0]", "--output", "text").stdout.strip() == "team-prod"
    iam.delete_account_alias(AccountAlias="team-prod")
    assert iam.list_account_aliases()["AccountAliases"] == []


def test_account_summary_counts(iam: Any) -> None:
    before = iam.get_account_summary()["SummaryMap"]
    assert (before["AccessKeysPerUserQuota"], before["RolesQuota"], before["VersionsPerPolicyQuota"]) == (2, 1000, 5)
    iam.create_role(RoleName="summary-role", AssumeRolePolicyDocument=doc(TRUST))
    iam.create_user(UserName="summary-user")
    iam.create_group(GroupName="summary-group")
    arn = iam.create_policy(PolicyName="summary-policy", PolicyDocument=doc(S3_READ))["Policy"]["Arn"]
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc(S3_READ))
    after = iam.get_account_summary()["SummaryMap"]
    assert {k: after[k] - before[k] for k in ("Roles", "Users", "Groups", "Policies", "PolicyVersionsInUse")} == {
        "Roles": 1, "Users": 1, "Groups": 1, "Policies": 1, "PolicyVersionsInUse": 2}
