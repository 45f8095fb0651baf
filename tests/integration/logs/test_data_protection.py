"""Data protection policies (recorded, masking not applied): put/get/delete by name or ARN, errors, and a
group created again does not inherit its predecessor's policy."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.logs.helpers import code

POLICY = json.dumps({
    "Name": "p", "Version": "2021-06-01",
    "Statement": [
        {"Sid": "audit", "DataIdentifier": ["arn:aws:dataprotection::aws:data-identifier/EmailAddress"],
         "Operation": {"Audit": {"FindingsDestination": {}}}},
        {"Sid": "redact", "DataIdentifier": ["arn:aws:dataprotection::aws:data-identifier/EmailAddress"],
         "Operation": {"Deidentify": {"MaskConfig": {}}}},
    ],
})


def test_data_protection_policy_round_trip(logs: Any) -> None:
    logs.create_log_group(logGroupName="dp-group")
    arn = logs.describe_log_groups(logGroupNamePrefix="dp-group")["logGroups"][0]["arn"].removesuffix(":*")
    assert "policyDocument" not in logs.get_data_protection_policy(logGroupIdentifier="dp-group")
    put = logs.put_data_protection_policy(logGroupIdentifier="dp-group", policyDocument=POLICY)
    assert put["policyDocument"] == POLICY and put["lastUpdatedTime"] > 0
    got = logs.get_data_protection_policy(logGroupIdentifier=arn)
    assert got["policyDocument"] == POLICY and got["logGroupIdentifier"] == arn

    for bad in ("not json", "[]", "{}"):
        with pytest.raises(ClientError) as e:
            logs.put_data_protection_policy(logGroupIdentifier="dp-group", policyDocument=bad)
        assert code(e) == "InvalidParameterException"
    assert logs.get_data_protection_policy(logGroupIdentifier="dp-group")["policyDocument"] == POLICY
    with pytest.raises(ClientError) as e:
        logs.put_data_protection_policy(logGroupIdentifier="dp-missing", policyDocument=POLICY)
    assert code(e) == "ResourceNotFoundException"

    logs.delete_log_group(logGroupName="dp-group")
    logs.create_log_group(logGroupName="dp-group")
    assert "policyDocument" not in logs.get_data_protection_policy(logGroupIdentifier="dp-group")
    logs.put_data_protection_policy(logGroupIdentifier="dp-group", policyDocument=POLICY)
    logs.delete_data_protection_policy(logGroupIdentifier="dp-group")
    with pytest.raises(ClientError) as e:
        logs.delete_data_protection_policy(logGroupIdentifier="dp-group")
    assert code(e) == "ResourceNotFoundException"


def test_account_policies(logs: Any) -> None:
    logs.put_account_policy(policyName="dp1", policyDocument=POLICY, policyType="DATA_PROTECTION_POLICY", scope="ALL")
    # one data protection policy per account: a second name replaces the first
    logs.put_account_policy(policyName="dp2", policyDocument=POLICY, policyType="DATA_PROTECTION_POLICY")
    found = logs.describe_account_policies(policyType="DATA_PROTECTION_POLICY")["accountPolicies"]
    assert [(p["policyName"], p["scope"], p["accountId"]) for p in found] == [("dp2", "ALL", "000000000000")]
    sub = json.dumps({"DestinationArn": "arn:aws:lambda:us-east-1:000000000000:function:f", "FilterPattern": ""})
    logs.put_account_policy(policyName="subs", policyDocument=sub, policyType="SUBSCRIPTION_FILTER_POLICY",
                            selectionCriteria='LogGroupName NOT IN ["x"]')
    (p,) = logs.describe_account_policies(policyType="SUBSCRIPTION_FILTER_POLICY", policyName="subs")["accountPolicies"]
    assert p["selectionCriteria"] == 'LogGroupName NOT IN ["x"]' and p["policyDocument"] == sub
    logs.put_account_policy(policyName="dry", policyDocument=sub, policyType="SUBSCRIPTION_FILTER_POLICY", dryRun=True)
    assert len(logs.describe_account_policies(policyType="SUBSCRIPTION_FILTER_POLICY")["accountPolicies"]) == 1

    with pytest.raises(ClientError) as e:
        logs.put_account_policy(policyName="bad", policyDocument="nope", policyType="FIELD_INDEX_POLICY")
    assert code(e) == "InvalidParameterException"
    assert logs.describe_account_policies(policyType="FIELD_INDEX_POLICY")["accountPolicies"] == []
    with pytest.raises(ClientError) as e:
        logs.delete_account_policy(policyName="dp1", policyType="DATA_PROTECTION_POLICY")
    assert code(e) == "ResourceNotFoundException"
    logs.delete_account_policy(policyName="dp2", policyType="DATA_PROTECTION_POLICY")
    assert logs.describe_account_policies(policyType="DATA_PROTECTION_POLICY")["accountPolicies"] == []
