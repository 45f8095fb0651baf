"""Which IAM action and resources an API request needs, as AWS's Service Authorization Reference names
them, for the services Nimbus serves (pure).

Most operations are their own action, ``<service prefix>:<OperationName>``; the exceptions are listed
(S3's above all: ``ListObjectsV2`` is ``s3:ListBucket``, ``HeadObject`` is ``s3:GetObject``, multipart
uploads are ``s3:PutObject``...). API Gateway's management API authorizes by HTTP method
(``apigateway:GET`` on ``arn:aws:apigateway:<region>::/restapis/...``). Resources come from the
request's parameters (a bucket and key, a function name or ARN, a stream name...); an operation on no
particular resource (a List*) needs ``*``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PREFIX = {"logs": "logs", "lambda": "lambda", "s3": "s3", "firehose": "firehose", "kinesis": "kinesis", "iam": "iam",
          "sts": "sts", "apigateway": "apigateway", "apigatewayv2": "apigateway", "cloudwatch": "cloudwatch"}

# operations every caller may call whatever its policies say (AWS: no permission is needed). ChangePassword
# changes only the caller's own password: the account password policy's AllowUsersToChangePassword (or a
# required reset) decides it, as AWS's setting grants iam:ChangePassword (passwords.py checks both)
ALWAYS_ALLOWED = frozenset({("sts", "GetCallerIdentity"), ("iam", "ChangePassword")})

S3_ACTIONS = {
    "ListBuckets": "ListAllMyBuckets", "HeadBucket": "ListBucket", "ListObjects": "ListBucket", "ListObjectsV2": "ListBucket",
    "HeadObject": "GetObject", "CreateMultipartUpload": "PutObject", "UploadPart": "PutObject", "UploadPartCopy": "PutObject",
    "CompleteMultipartUpload": "PutObject", "CopyObject": "PutObject", "ListParts": "ListMultipartUploadParts",
    "ListMultipartUploads": "ListBucketMultipartUploads", "DeleteObjects": "DeleteObject",
    "GetBucketNotificationConfiguration": "GetBucketNotification", "PutBucketNotificationConfiguration": "PutBucketNotification",
    "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration", "PutBucketLifecycleConfiguration": "PutLifecycleConfiguration",
    "DeleteBucketLifecycle": "PutLifecycleConfiguration", "GetBucketLifecycle": "GetLifecycleConfiguration",
    "GetBucketCors": "GetBucketCORS", "PutBucketCors": "PutBucketCORS", "DeleteBucketCors": "PutBucketCORS",
    "GetBucketEncryption": "GetEncryptionConfiguration", "PutBucketEncryption": "PutEncryptionConfiguration",
    "DeleteBucketEncryption": "PutEncryptionConfiguration", "GetPublicAccessBlock": "GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "PutBucketPublicAccessBlock", "DeletePublicAccessBlock": "PutBucketPublicAccessBlock",
    "DeleteBucketOwnershipControls": "PutBucketOwnershipControls", "DeleteBucketTagging": "PutBucketTagging",
    "GetBucketAccelerateConfiguration": "GetAccelerateConfiguration", "PutBucketAccelerateConfiguration": "PutAccelerateConfiguration",
    "GetBucketReplication": "GetReplicationConfiguration", "PutBucketReplication": "PutReplicationConfiguration",
    "DeleteBucketReplication": "PutReplicationConfiguration", "GetObjectLockConfiguration": "GetBucketObjectLockConfiguration",
    "PutObjectLockConfiguration": "PutBucketObjectLockConfiguration", "GetObjectAttributes": "GetObjectAttributes",
    "DeleteBucketWebsite": "DeleteBucketWebsite", "GetBucketPolicyStatus": "GetBucketPolicyStatus",
    "PutBucketLogging": "PutBucketLogging", "GetBucketLogging": "GetBucketLogging",
    "PutBucketInventoryConfiguration": "PutInventoryConfiguration", "DeleteBucketInventoryConfiguration": "PutInventoryConfiguration",
    "GetBucketInventoryConfiguration": "GetInventoryConfiguration", "ListBucketInventoryConfigurations": "GetInventoryConfiguration",
    "PutBucketMetricsConfiguration": "PutMetricsConfiguration", "DeleteBucketMetricsConfiguration": "PutMetricsConfiguration",
    "GetBucketMetricsConfiguration": "GetMetricsConfiguration", "ListBucketMetricsConfigurations": "GetMetricsConfiguration",
    "PutBucketAnalyticsConfiguration": "PutAnalyticsConfiguration", "DeleteBucketAnalyticsConfiguration": "PutAnalyticsConfiguration",
    "GetBucketAnalyticsConfiguration": "GetAnalyticsConfiguration", "ListBucketAnalyticsConfigurations": "GetAnalyticsConfiguration",
    "PutBucketIntelligentTieringConfiguration": "PutIntelligentTieringConfiguration",
    "DeleteBucketIntelligentTieringConfiguration": "PutIntelligentTieringConfiguration",
    "GetBucketIntelligentTieringConfiguration": "GetIntelligentTieringConfiguration",
    "ListBucketIntelligentTieringConfigurations": "GetIntelligentTieringConfiguration",
}
LAMBDA_ACTIONS = {"Invoke": "InvokeFunction", "InvokeWithResponseStream": "InvokeFunction", "InvokeAsync": "InvokeFunction",
                  "ListTags": "ListTags", "GetFunctionConfiguration": "GetFunctionConfiguration"}


def action_for(service: str, operation: str, method: str = "") -> str:
    prefix = PREFIX.get(service, service)
    if service == "s3":
        return f"s3:{S3_ACTIONS.get(operation, operation)}"
    if service == "lambda":
        return f"lambda:{LAMBDA_ACTIONS.get(operation, operation)}"
    if service in ("apigateway", "apigatewayv2"):
        return f"apigateway:{method.upper() or 'GET'}"
    return f"{prefix}:{operation}"


def resources_for(service: str, operation: str, params: Mapping[str, Any], *, region: str, account: str, path: str = "") -> list[str]:
    """The ARNs the request acts on (``["*"]`` when it names none)."""
    p = params
    if service == "s3":
        bucket = p.get("Bucket")
        if not bucket:
            return ["*"]
        if operation == "DeleteObjects":
            keys = [o.get("Key", "") for o in ((p.get("Delete") or {}).get("Objects") or [])]
            return [f"arn:aws:s3:::{bucket}/{k}" for k in keys] or [f"arn:aws:s3:::{bucket}"]
        key = p.get("Key")
        if key is not None and operation not in ("ListObjects", "ListObjectsV2", "ListMultipartUploads"):
            return [f"arn:aws:s3:::{bucket}/{key}"]
        return [f"arn:aws:s3:::{bucket}"]
    if service == "lambda":
        name = p.get("FunctionName")
        if name:
            return [_function_arn(str(name), p.get("Qualifier"), region, account)]
        if p.get("LayerName"):
            layer = str(p["LayerName"])
            return [layer if layer.startswith("arn:") else f"arn:aws:lambda:{region}:{account}:layer:{layer}"]
        if p.get("UUID"):
            return [f"arn:aws:lambda:{region}:{account}:event-source-mapping:{p['UUID']}"]
        if p.get("Resource"):
            return [str(p["Resource"])]
        return ["*"]
    if service == "firehose":
        name = p.get("DeliveryStreamName") or (str(p.get("DeliveryStreamARN", "")).rsplit("/", 1)[-1] or None)
        return [f"arn:aws:firehose:{region}:{account}:deliverystream/{name}"] if name else ["*"]
    if service == "kinesis":
        if p.get("ConsumerARN"):
            return [str(p["ConsumerARN"])]
        if p.get("StreamARN"):
            return [str(p["StreamARN"])]
        if p.get("ResourceARN"):
            return [str(p["ResourceARN"])]
        return [f"arn:aws:kinesis:{region}:{account}:stream/{p['StreamName']}"] if p.get("StreamName") else ["*"]
    if service == "logs":
        group = p.get("logGroupName") or p.get("logGroupIdentifier")
        if not group:
            return [str(p["resourceArn"])] if p.get("resourceArn") else ["*"]
        if str(group).startswith("arn:"):
            return [str(group)]
        arn = f"arn:aws:logs:{region}:{account}:log-group:{group}"
        stream = p.get("logStreamName")
        return [f"{arn}:log-stream:{stream}" if stream else f"{arn}:*"]
    if service == "iam":
        for key, kind in (("RoleName", "role"), ("UserName", "user"), ("GroupName", "group")):
            if p.get(key):
                return [f"arn:aws:iam::{account}:{kind}/{p[key]}"]
        if p.get("PolicyArn"):
            return [str(p["PolicyArn"])]
        return ["*"]
    if service == "sts":
        return [str(p["RoleArn"])] if p.get("RoleArn") else ["*"]
    if service in ("apigateway", "apigatewayv2"):
        return [f"arn:aws:apigateway:{region}::{path or '/'}"]
    return ["*"]


def _function_arn(name: str, qualifier: Any, region: str, account: str) -> str:
    if name.startswith("arn:"):
        arn = name
    else:
        parts = name.split(":")
        if len(parts) >= 3 and parts[1] == "function":  # 123456789012:function:name[:q]
            arn = f"arn:aws:lambda:{region}:{parts[0]}:function:{':'.join(parts[2:])}"
        else:
            arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
    if qualifier and arn.count(":") == 6:
        arn += f":{qualifier}"
    return arn
