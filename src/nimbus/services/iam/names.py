"""IAM names: role, user, group and policy ARNs (global: no region), policy-ARN parsing, unique ids (pure).

IAM ARNs are ``arn:aws:iam::<account>:role<path><name>``, ``…:user<path><name>``, ``…:group<path><name>`` and
``arn:aws:iam::<account>:policy<path><name>``; AWS-managed policies use the account ``aws``. Ids are a
4-letter type prefix and 17 upper-case letters and digits, as AWS's look (AROA… roles, AIDA… users, AGPA… groups, ANPA…
managed policies).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from dataclasses import dataclass

from nimbus import arn

AWS_ACCOUNT = "aws"  # the account part of AWS-managed policy ARNs
ROLE_ID_PREFIX = "AROA"
USER_ID_PREFIX = "AIDA"
GROUP_ID_PREFIX = "AGPA"
POLICY_ID_PREFIX = "ANPA"
ID_CHARS = string.ascii_uppercase + string.digits
ID_LENGTH = 17

# the model's policyPathType and policyNameType, as one ARN resource ``policy<path><name>``
_POLICY_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):iam::(?P<account>\d{12}|aws):policy(?P<path>(?:/[A-Za-z0-9.,+@=_-]+)*/)(?P<name>[\w+=,.@-]{1,128})"
)


@dataclass(slots=True, frozen=True)
class PolicyArn:
    arn: str
    account: str
    path: str
    name: str

    @property
    def aws_managed(self) -> bool:
        return self.account == AWS_ACCOUNT


def parse_policy_arn(text: str) -> PolicyArn | None:
    """The parts of a managed-policy ARN, or None when ``text`` is not one."""
    m = _POLICY_ARN.fullmatch(text)
    if m is None:
        return None
    return PolicyArn(text, m["account"], m["path"], m["name"])


def role_arn(account: str, path: str, name: str) -> str:
    return arn.build("iam", "", account, f"role{path}{name}")


def user_arn(account: str, path: str, name: str) -> str:
    return arn.build("iam", "", account, f"user{path}{name}")


def group_arn(account: str, path: str, name: str) -> str:
    return arn.build("iam", "", account, f"group{path}{name}")


def user_principal(path: str, name: str) -> str:
    """The principal a user's keys carry in the credential store (``Credentials.arn`` builds the ARN from it)."""
    return f"user{path}{name}"


def policy_arn(account: str, path: str, name: str) -> str:
    return arn.build("iam", "", account, f"policy{path}{name}")


def new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(ID_CHARS) for _ in range(ID_LENGTH))


def stable_id(prefix: str, seed: str) -> str:
    """An id derived from ``seed`` (an AWS-managed policy's ARN), the same on every call and restart."""
    digest = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big")
    chars = []
    for _ in range(ID_LENGTH):
        digest, i = divmod(digest, len(ID_CHARS))
        chars.append(ID_CHARS[i])
    return prefix + "".join(chars)
