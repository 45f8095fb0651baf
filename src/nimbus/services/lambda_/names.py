"""Function names, ARNs and qualifiers as Lambda accepts them (aws-contracts.md C.1).

``FunctionName`` may be ``my-fn``, ``my-fn:prod``, ``123456789012:function:my-fn[:q]`` or
``arn:aws:lambda:us-east-1:123456789012:function:my-fn[:q]``. A full ARN names its own region and
account; the shorter forms take the caller's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nimbus import arn as arns
from nimbus.services.lambda_.errors import InvalidParameterValueException

LATEST = "$LATEST"
NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
QUALIFIER_RE = re.compile(r"^(\$LATEST|[a-zA-Z0-9_-]{1,128})$")
ALIAS_RE = re.compile(r"^(?!^[0-9]+$)[a-zA-Z0-9_-]{1,128}$")
_PARTIAL_RE = re.compile(r"^(\d{12}):function:(.+)$")


@dataclass(slots=True, frozen=True)
class FunctionRef:
    account: str
    region: str
    name: str
    qualifier: str | None = None

    @property
    def key(self) -> str:
        """Metadata key of the function (and prefix of its versions and aliases)."""
        return f"{self.account}:{self.region}:{self.name}"

    @property
    def arn(self) -> str:
        return function_arn(self.region, self.account, self.name)

    def qualified_arn(self, qualifier: str | None = None) -> str:
        q = qualifier or self.qualifier
        return f"{self.arn}:{q}" if q else self.arn

    def with_qualifier(self, qualifier: str | None) -> FunctionRef:
        return FunctionRef(self.account, self.region, self.name, qualifier)


def function_arn(region: str, account: str, name: str) -> str:
    return arns.build("lambda", region, account, f"function:{name}")


def parse_function_ref(text: str, *, region: str, account: str, qualifier: str | None = None) -> FunctionRef:
    """Parse any accepted FunctionName form; ``qualifier`` (the Qualifier parameter) must agree."""
    rest = text
    if text.startswith("arn:"):
        parts = text.split(":")
        if len(parts) not in (7, 8) or parts[2] != "lambda" or parts[5] != "function":
            raise InvalidParameterValueException(f"Invalid function ARN: {text}")
        region, account = parts[3], parts[4]
        rest = ":".join(parts[6:])
    else:
        m = _PARTIAL_RE.match(text)
        if m:
            account, rest = m.group(1), m.group(2)
    name, _, derived = rest.partition(":")
    if not NAME_RE.match(name) or ":" in derived:
        raise InvalidParameterValueException(
            f"1 validation error detected: Value '{text}' at 'functionName' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?"
            "(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
        )
    if derived:
        if qualifier and qualifier != derived:
            raise InvalidParameterValueException("The derived qualifier from the function name does not match the specified qualifier.")
        qualifier = derived
    if qualifier is not None and not QUALIFIER_RE.match(qualifier):
        raise InvalidParameterValueException(f"Invalid qualifier: {qualifier}")
    return FunctionRef(account, region, name, qualifier or None)


def is_version_number(qualifier: str) -> bool:
    return qualifier.isdigit()


def version_key(version: str) -> str:
    """Sortable key suffix of a version: ``$LATEST`` sorts before the zero-padded numbers."""
    return version if version == LATEST else f"{int(version):010d}"


def layer_arn(region: str, account: str, layer: str) -> str:
    return arns.build("lambda", region, account, f"layer:{layer}")


def parse_layer_ref(text: str, *, region: str, account: str) -> tuple[str, str, str, int | None]:
    """``name`` or a layer ARN (optionally with ``:version``) -> (region, account, name, version)."""
    if text.startswith("arn:"):
        parts = text.split(":")
        if len(parts) not in (7, 8) or parts[2] != "lambda" or parts[5] != "layer":
            raise InvalidParameterValueException(f"Invalid layer ARN: {text}")
        version = int(parts[7]) if len(parts) == 8 and parts[7].isdigit() else None
        return parts[3], parts[4], parts[6], version
    return region, account, text, None
