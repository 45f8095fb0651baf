"""The AWS-managed policies Nimbus knows by content: the few used with Lambda, Kinesis, Firehose, S3 and
CloudWatch Logs, with the documents and descriptions of AWS's managed-policy reference (pure data).

Nimbus cannot ship AWS's catalogue of over a thousand policies. Attaching any well-formed
``arn:aws:iam::aws:policy/...`` ARN succeeds (policies are recorded, not evaluated); GetPolicy,
GetPolicyVersion and ListPolicies(Scope=AWS) answer for the policies below, each with a single
version ``v1`` holding AWS's current document, and NoSuchEntity for any other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from nimbus.services.iam.names import AWS_ACCOUNT, POLICY_ID_PREFIX, policy_arn, stable_id

VERSION_ID = "v1"


@dataclass(slots=True, frozen=True)
class AwsPolicy:
    name: str
    path: str
    description: str
    created: float  # epoch seconds (AWS's "Creation time")
    document: str

    @property
    def arn(self) -> str:
        return policy_arn(AWS_ACCOUNT, self.path, self.name)

    @property
    def policy_id(self) -> str:
        return stable_id(POLICY_ID_PREFIX, self.arn)


def _at(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc).timestamp()


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, indent=4)


def _allow(actions: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resource, **extra}


_LOGS_WRITE = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]

CATALOGUE: tuple[AwsPolicy, ...] = (
    AwsPolicy(
        "AWSLambdaBasicExecutionRole", "/service-role/", "Provides write permissions to CloudWatch Logs.",
        _at("2015-04-09 15:03"), _doc(_allow(_LOGS_WRITE)),
    ),
    AwsPolicy(
        "AWSLambdaKinesisExecutionRole", "/service-role/",
        "Provides list and read access to Kinesis streams and write permissions to CloudWatch logs.",
        _at("2015-04-09 15:14"),
        _doc(_allow([
            "kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords", "kinesis:GetShardIterator",
            "kinesis:ListShards", "kinesis:ListStreams", "kinesis:SubscribeToShard", *_LOGS_WRITE,
        ])),
    ),
    AwsPolicy(
        "AWSLambdaRole", "/service-role/", "Default policy for AWS Lambda service role.",
        _at("2015-02-06 18:41"), _doc(_allow(["lambda:InvokeFunction"], ["*"])),
    ),
    AwsPolicy(
        "AWSLambdaExecute", "/", "Provides Put, Get access to S3 and full access to CloudWatch Logs.",
        _at("2015-02-06 18:40"),
        _doc(_allow(["logs:*"], "arn:aws:logs:*:*:*"), _allow(["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::*")),
    ),
    AwsPolicy(
        "AWSLambda_FullAccess", "/",
        "Grants full access to AWS Lambda service, AWS Lambda console features, and other related AWS services.",
        _at("2020-11-17 21:14"),
        _doc(
            _allow([
                "cloudformation:DescribeStacks", "cloudformation:ListStackResources", "cloudwatch:ListMetrics",
                "cloudwatch:GetMetricData", "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs",
                "kms:ListAliases", "iam:GetPolicy", "iam:GetPolicyVersion", "iam:GetRole", "iam:GetRolePolicy",
                "iam:ListAttachedRolePolicies", "iam:ListRolePolicies", "iam:ListRoles", "lambda:*",
                "logs:DescribeLogGroups", "states:DescribeStateMachine", "states:ListStateMachines", "tag:GetResources",
                "xray:GetTraceSummaries", "xray:BatchGetTraces",
            ]),
            _allow("iam:PassRole", Condition={"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}),
            _allow(
                ["logs:DescribeLogStreams", "logs:GetLogEvents", "logs:FilterLogEvents", "logs:StartLiveTail", "logs:StopLiveTail"],
                "arn:aws:logs:*:*:log-group:/aws/lambda/*",
            ),
        ),
    ),
    AwsPolicy(
        "AmazonS3FullAccess", "/", "Provides full access to all buckets via the AWS Management Console.",
        _at("2015-02-06 18:40"), _doc(_allow(["s3:*", "s3-object-lambda:*"])),
    ),
    AwsPolicy(
        "AmazonS3ReadOnlyAccess", "/", "Provides read only access to all buckets via the AWS Management Console.",
        _at("2015-02-06 18:40"),
        _doc(_allow(["s3:Get*", "s3:List*", "s3:Describe*", "s3-object-lambda:Get*", "s3-object-lambda:List*"])),
    ),
    AwsPolicy(
        "AmazonKinesisFullAccess", "/", "Provides full access to all streams via the AWS Management Console.",
        _at("2015-02-06 18:40"), _doc(_allow("kinesis:*")),
    ),
    AwsPolicy(
        "AmazonKinesisFirehoseFullAccess", "/", "Provides full access to all Amazon Kinesis Firehose Delivery Streams.",
        _at("2015-10-07 18:45"), _doc({"Action": ["firehose:*"], "Effect": "Allow", "Resource": "*"}),
    ),
    AwsPolicy(
        "CloudWatchLogsFullAccess", "/", "Provides full access to CloudWatch Logs",
        _at("2015-02-06 18:40"),
        _doc({
            "Sid": "CloudWatchLogsFullAccess", "Effect": "Allow",
            "Action": [
                "logs:*", "cloudwatch:GenerateQuery", "cloudwatch:GenerateQueryResultsSummary",
                "observabilityadmin:GetS3TableIntegration", "observabilityadmin:ListS3TableIntegrations",
                "observabilityadmin:ListTelemetryPipelines",
            ],
            "Resource": "*",
        }),
    ),
    AwsPolicy(
        "AdministratorAccess", "/", "Provides full access to AWS services and resources.",
        _at("2015-02-06 18:39"), _doc(_allow("*")),
    ),
)

_BY_ARN = {p.arn.lower(): p for p in CATALOGUE}


def lookup(arn: str) -> AwsPolicy | None:
    """The built-in policy with this ARN (IAM names are case-insensitive), or None."""
    return _BY_ARN.get(arn.lower())
