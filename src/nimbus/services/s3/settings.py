"""Bucket configurations that Nimbus records and returns: policy, default encryption, public access block,
ownership controls, website, ACLs, logging, transfer acceleration, request payment.

Each ``check_*`` takes the parsed request member, refuses what S3 refuses (with S3's code and wording)
and returns the JSON-safe document stored under the bucket's ``settings`` (``Buckets.put_setting``).
None of these is enforced: like IAM policies (docs/security.md), bucket policies and ACLs are recorded,
never evaluated. CORS (cors.py) and lifecycle (lifecycle.py) have their own modules since they act.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any

import orjson

from nimbus.services.s3.errors import InvalidArgument, InvalidRequest, MalformedXML, S3Error

# Setting names inside the bucket document.
CORS = "cors"
POLICY = "policy"
ENCRYPTION = "encryption"
PUBLIC_ACCESS_BLOCK = "publicAccessBlock"
OWNERSHIP = "ownership"
WEBSITE = "website"
LIFECYCLE = "lifecycle"
ACL = "acl"
LOGGING = "logging"
ACCELERATE = "accelerate"
MFA_DELETE = "mfaDelete"  # PutBucketVersioning MFADelete: only Disabled is accepted (api.py), recorded
REQUEST_PAYMENT = "requestPayment"
REPLICATION = "replication"
# configurations kept by id (the request's ``id`` query parameter): id -> the configuration as sent
INVENTORY = "inventory"
METRICS = "metrics"
ANALYTICS = "analytics"
INTELLIGENT_TIERING = "intelligentTiering"
MAX_ID_CONFIGURATIONS = 1000  # S3: up to 1,000 of each kind per bucket
CONFIGURATIONS_PAGE = 100  # S3's List*Configurations pages

# A setting whose S3 default exists (public access block, ownership controls) remembers its deletion
# as this marker, so that Get answers the 404 S3 answers after a Delete instead of the default.
DELETED = {"deleted": True}

MAX_POLICY_BYTES = 20 * 1024  # S3 user guide, "Bucket policies": a policy is limited to 20 KB
POLICY_VERSIONS = ("2012-10-17", "2008-10-17")

DEFAULT_PUBLIC_ACCESS_BLOCK = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                               "RestrictPublicBuckets": True}
DEFAULT_OWNERSHIP = "BucketOwnerEnforced"  # S3's default for buckets created since April 2023


class MalformedPolicy(S3Error):
    code = "MalformedPolicy"
    status = 400


class AccessControlListNotSupported(S3Error):
    code = "AccessControlListNotSupported"
    status = 400

    def __init__(self) -> None:
        super().__init__("The bucket does not allow ACLs")


class InvalidTargetBucketForLogging(S3Error):
    code = "InvalidTargetBucketForLogging"
    status = 400


# ------------------------------------------------------------------------------------------ policy


def check_policy(text: str) -> str:
    """A bucket policy: valid JSON object, ≤ 20 KB, a Statement whose entries name Effect, Principal,
    Action and Resource. ``Version`` is optional as on S3 (2008-10-17 is then assumed) but must be a known
    one when given. Kept as sent."""
    if len(text.encode("utf-8")) > MAX_POLICY_BYTES:
        raise MalformedPolicy("Policy exceeds the maximum allowed document size.")
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        doc = None
    if not isinstance(doc, dict) or not text.lstrip().startswith("{"):
        raise MalformedPolicy("Policies must be valid JSON and the first byte must be '{'")
    version = doc.get("Version")
    if version is not None and version not in POLICY_VERSIONS:
        raise MalformedPolicy("The policy must contain a valid version string")
    statements = doc.get("Statement")
    if statements is None:
        raise MalformedPolicy("Missing required field Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise MalformedPolicy("Missing required field Statement")
    for st in statements:
        if not isinstance(st, dict):
            raise MalformedPolicy("Statement is not well-formed")
        effect = st.get("Effect")
        if effect is None:
            raise MalformedPolicy("Missing required field Effect")
        if effect not in ("Allow", "Deny"):
            raise MalformedPolicy(f"Invalid effect: {effect}")
        if "Principal" not in st and "NotPrincipal" not in st:
            raise MalformedPolicy("Missing required field Principal")
        if "Action" not in st and "NotAction" not in st:
            raise MalformedPolicy("Missing required field Action")
        if "Resource" not in st and "NotResource" not in st:
            raise MalformedPolicy("Missing required field Resource")
    return text


def _names_everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        aws = principal.get("AWS")
        return aws == "*" or (isinstance(aws, list) and "*" in aws)
    return False


def policy_is_public(text: str) -> bool:
    """GetBucketPolicyStatus: public when a statement allows everyone (``"Principal": "*"`` or
    ``{"AWS": "*"}``) with no condition to narrow it (S3's "blocking public access" rules, simplified)."""
    doc = orjson.loads(text)
    statements = doc.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    return any(
        st.get("Effect") == "Allow" and _names_everyone(st.get("Principal")) and not st.get("Condition")
        for st in statements or [] if isinstance(st, dict)
    )


# ------------------------------------------------------------------------------------------ encryption


def check_encryption(config: dict[str, Any]) -> dict[str, Any]:
    rules = config.get("Rules") or []
    if len(rules) != 1:
        raise MalformedXML()
    rule = rules[0]
    default = rule.get("ApplyServerSideEncryptionByDefault")
    if default is None or not default.get("SSEAlgorithm"):
        raise MalformedXML()
    algorithm = default["SSEAlgorithm"]
    if algorithm not in ("AES256", "aws:kms", "aws:kms:dsse"):
        raise InvalidArgument("The server-side encryption algorithm provided is not supported",
                              ArgumentName="SSEAlgorithm", ArgumentValue=algorithm)
    if default.get("KMSMasterKeyID") and algorithm == "AES256":
        raise InvalidArgument("a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse",
                              ArgumentName="ApplyServerSideEncryptionByDefault")
    kept: dict[str, Any] = {"ApplyServerSideEncryptionByDefault": {k: v for k, v in default.items() if v is not None}}
    if rule.get("BucketKeyEnabled") is not None:
        kept["BucketKeyEnabled"] = bool(rule["BucketKeyEnabled"])
    return {"Rules": [kept]}


def object_encryption(config: dict[str, Any] | None) -> dict[str, Any]:
    """The ``x-amz-server-side-encryption*`` members objects of a bucket with this default answer."""
    if not config:
        return {}
    rule = config["Rules"][0]
    default = rule["ApplyServerSideEncryptionByDefault"]
    out: dict[str, Any] = {"ServerSideEncryption": default["SSEAlgorithm"]}
    if default["SSEAlgorithm"] != "AES256":
        if default.get("KMSMasterKeyID"):
            out["SSEKMSKeyId"] = default["KMSMasterKeyID"]
        if rule.get("BucketKeyEnabled"):
            out["BucketKeyEnabled"] = True
    return out


# ------------------------------------------------------------------------- public access, ownership


def check_public_access_block(config: dict[str, Any]) -> dict[str, Any]:
    # members left out are false, as S3 stores them
    return {k: bool(config.get(k, False)) for k in DEFAULT_PUBLIC_ACCESS_BLOCK}


def check_ownership(config: dict[str, Any]) -> dict[str, Any]:
    rules = config.get("Rules") or []
    if len(rules) != 1 or not rules[0].get("ObjectOwnership"):
        raise MalformedXML()
    return {"Rules": [{"ObjectOwnership": rules[0]["ObjectOwnership"]}]}


def ownership_of(stored: dict[str, Any] | None) -> str | None:
    """The bucket's ObjectOwnership (None after DeleteBucketOwnershipControls: ACLs then apply)."""
    if stored is None:
        return DEFAULT_OWNERSHIP
    if stored == DELETED:
        return None
    return str(stored["Rules"][0]["ObjectOwnership"])


# ------------------------------------------------------------------------------------------ website


def check_website(config: dict[str, Any]) -> dict[str, Any]:
    redirect_all = config.get("RedirectAllRequestsTo")
    index = config.get("IndexDocument")
    if redirect_all:
        if index or config.get("ErrorDocument") or config.get("RoutingRules"):
            raise InvalidRequest("RedirectAllRequestsTo cannot be provided in conjunction with other Routing Rules.")
        if not redirect_all.get("HostName"):
            raise MalformedXML()
    elif not index:
        raise InvalidArgument("A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty",
                              ArgumentName="IndexDocument", ArgumentValue="null")
    if index is not None:
        suffix = index.get("Suffix") or ""
        if not suffix or "/" in suffix:
            raise InvalidArgument("The IndexDocument Suffix is not well formed", ArgumentName="IndexDocument",
                                  ArgumentValue=suffix)
    for rule in config.get("RoutingRules") or []:
        if not rule.get("Redirect"):
            raise MalformedXML()
    return {k: v for k, v in config.items() if v not in (None, [], {})}


# ------------------------------------------------------------------------------------------ ACLs

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
_GRANT_HEADERS = (("GrantFullControl", "FULL_CONTROL"), ("GrantRead", "READ"), ("GrantReadACP", "READ_ACP"),
                  ("GrantWrite", "WRITE"), ("GrantWriteACP", "WRITE_ACP"))


def _group(uri: str, permission: str) -> dict[str, Any]:
    return {"Grantee": {"Type": "Group", "URI": uri}, "Permission": permission}


def owner_grant(owner: dict[str, str]) -> dict[str, Any]:
    return {"Grantee": {"Type": "CanonicalUser", **owner}, "Permission": "FULL_CONTROL"}


def canned_grants(acl: str, owner: dict[str, str]) -> list[dict[str, Any]]:
    grants = [owner_grant(owner)]
    if acl == "public-read":
        grants.append(_group(ALL_USERS, "READ"))
    elif acl == "public-read-write":
        grants += [_group(ALL_USERS, "READ"), _group(ALL_USERS, "WRITE")]
    elif acl == "authenticated-read":
        grants.append(_group(AUTHENTICATED_USERS, "READ"))
    elif acl == "log-delivery-write":
        grants += [_group(LOG_DELIVERY, "WRITE"), _group(LOG_DELIVERY, "READ_ACP")]
    return grants  # private, bucket-owner-*, aws-exec-read: the owner (who is also the bucket owner)


def _header_grantees(value: str, permission: str) -> list[dict[str, Any]]:
    """``x-amz-grant-read: uri="http://acs...", id="64hex", emailAddress="a@b"``."""
    out = []
    for item in value.split(","):
        kind, _, who = item.strip().partition("=")
        who = who.strip().strip('"')
        kind = kind.strip().lower()
        if not who:
            continue
        if kind == "uri":
            grantee = {"Type": "Group", "URI": who}
        elif kind == "id":
            grantee = {"Type": "CanonicalUser", "ID": who}
        elif kind == "emailaddress":
            grantee = {"Type": "AmazonCustomerByEmail", "EmailAddress": who}
        else:
            raise InvalidArgument("Invalid id", ArgumentName=kind, ArgumentValue=who)
        out.append({"Grantee": grantee, "Permission": permission})
    return out


def check_acl(params: dict[str, Any], owner: dict[str, str], *, ownership: str | None) -> dict[str, Any]:
    """PutBucketAcl / PutObjectAcl: a canned ACL (x-amz-acl), grant headers, or an AccessControlPolicy
    body (one kind only). With ObjectOwnership BucketOwnerEnforced (S3's default) ACLs are disabled:
    only ones that give the owner everything and nobody else anything pass, as on S3."""
    canned = params.get("ACL")
    headers = [(member, perm) for member, perm in _GRANT_HEADERS if params.get(member)]
    body = params.get("AccessControlPolicy")
    if sum(bool(x) for x in (canned, headers, body)) > 1:
        raise InvalidRequest("Specifying both Canned ACLs and Header Grants is not allowed")
    if canned:
        grants = canned_grants(canned, owner)
    elif headers:
        grants = [g for member, perm in headers for g in _header_grantees(params[member], perm)]
    elif body:
        grants = body.get("Grants") or []
        for g in grants:
            if not g.get("Grantee") or not g.get("Permission"):
                raise MalformedXML()
    else:
        raise MalformedXML()  # S3: an ACL request must say something ("MissingSecurityHeader" for an empty body)
    if ownership == "BucketOwnerEnforced":
        others = [g for g in grants if g["Grantee"].get("ID") != owner["ID"]]
        if others or (canned and canned not in ("private", "bucket-owner-full-control")):
            raise AccessControlListNotSupported()
    return {"Owner": owner, "Grants": grants}


# ------------------------------------------------------------------------------ logging, accelerate


def check_accelerate(bucket: str, status: str | None) -> str:
    if status not in ("Enabled", "Suspended"):
        raise MalformedXML()
    if "." in bucket:
        raise InvalidRequest("S3 Transfer Acceleration is not supported for buckets with periods (.) in their names")
    return status


# ------------------------------------------------------------------------- configurations kept by id


class NoSuchConfiguration(S3Error):
    code = "NoSuchConfiguration"
    status = 404

    def __init__(self) -> None:
        super().__init__("The specified configuration does not exist.")


class TooManyConfigurations(S3Error):
    code = "TooManyConfigurations"
    status = 400

    def __init__(self, kind: str) -> None:
        super().__init__(f"You are attempting to create a new configuration but have already reached the {MAX_ID_CONFIGURATIONS}-configuration limit.")


_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")  # S3: up to 64 characters, letters, digits, '.', '_' and '-'


def check_id_configuration(kind: str, config_id: str, config: dict[str, Any]) -> dict[str, Any]:
    """An inventory, metrics, analytics or Intelligent-Tiering configuration: its ``Id`` must be the query's
    ``id``; the members S3 requires of each kind must be there (the codec already checked their types)."""
    if not _ID.match(config_id):
        raise InvalidArgument("The configuration ID is not valid.", ArgumentName="id", ArgumentValue=config_id)
    if config.get("Id") != config_id:
        raise InvalidArgument("The ID in the configuration does not match the id query parameter.", ArgumentName="id",
                              ArgumentValue=config_id)
    required = {INVENTORY: ("Destination", "IsEnabled", "IncludedObjectVersions", "Schedule"),
                ANALYTICS: ("StorageClassAnalysis",), INTELLIGENT_TIERING: ("Status", "Tierings")}.get(kind, ())
    if any(config.get(name) is None for name in required):
        raise MalformedXML()
    return config


# ------------------------------------------------------------------------------------ replication

MAX_REPLICATION_RULES = 1000


def check_replication(config: dict[str, Any], versioning: str | None,
                      versioning_of: Callable[[str], str | None | bool]) -> dict[str, Any]:
    """PutBucketReplication: recorded, not acted on (docs/services/s3.md). S3's checks: the source bucket is
    versioned, a role is named, every rule names a destination bucket (an ARN) that exists here and is
    versioned (``versioning_of``: a bucket's versioning status, False when there is no such bucket); rule ids
    (given, or made as S3 makes them) are unique."""
    if versioning != "Enabled":
        raise InvalidRequest("Versioning must be 'Enabled' on the bucket to apply a replication configuration")
    rules = config.get("Rules") or []
    if not config.get("Role") or not rules or len(rules) > MAX_REPLICATION_RULES:
        raise MalformedXML()
    seen: set[str] = set()
    kept = []
    for rule in rules:
        rule = dict(rule)
        if rule.get("Status") not in ("Enabled", "Disabled") or not isinstance(rule.get("Destination"), dict):
            raise MalformedXML()
        arn = str(rule["Destination"].get("Bucket") or "")
        if not arn.startswith("arn:aws:s3:::"):
            raise InvalidArgument("Invalid bucket ARN.", ArgumentName="Bucket", ArgumentValue=arn)
        target = versioning_of(arn[len("arn:aws:s3:::"):])
        if target is False:
            raise InvalidRequest("Destination bucket must exist.")
        if target != "Enabled":
            raise InvalidRequest("Destination bucket must have versioning enabled.")
        if "Filter" in rule and "Prefix" in rule:
            raise MalformedXML()
        if "Filter" in rule and "DeleteMarkerReplication" not in rule:
            raise InvalidRequest("DeleteMarkerReplication must be specified for this version of Cross Region Replication configuration schema.")
        rule.setdefault("ID", secrets.token_urlsafe(36))
        if rule["ID"] in seen:
            raise InvalidArgument("Rule Id must be unique", ArgumentName="ID", ArgumentValue=rule["ID"])
        seen.add(rule["ID"])
        kept.append(rule)
    return {"Role": config["Role"], "Rules": kept}

