"""IamApi: the IAM operations Nimbus serves (query protocol), shape in → engine → shape out.

Roles, users and their access keys, groups and their members, managed policies (with versions and tags),
inline policies and attachments; any other IAM operation (login profiles, instance profiles...) has no
method here and answers 501.

Two wire details live here, not in the engine:

* Policy documents go out URL-encoded (RFC 3986), as IAM sends them; botocore's ``json_decode_policies``
  handler unquotes and parses them, so boto3 and the AWS CLI show the same dict as against AWS.
* Each operation returns the members AWS returns for it, which differ: CreateRole has no
  MaxSessionDuration or Description, GetRole adds RoleLastUsed, ListRoles and ListUsers leave out tags
  and the boundary, GetPolicy always has Tags, ListPolicies has neither Tags nor Description
  (AWS-validated).
* Operations whose UserName is optional (GetUser, the access-key ones) act on the caller: the user whose
  long-term key signed the request; the root keys' caller is the root user.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from nimbus.errors import NotImplementedOperation
from nimbus.services.base import RequestContext
from nimbus.services.iam.passwords import LoginProfiles
from nimbus.services.iam.engine import (
    AccessKey,
    Group,
    Iam,
    Page,
    Policy,
    PolicyGroup,
    PolicyRole,
    PolicyUser,
    PolicyVersion,
    Role,
    Tag,
    User,
)
from nimbus.services.iam.errors import (
    AccessDeniedException,
    IamValidationError,
    InvalidClientTokenIdException,
    NoSuchEntityException,
)

if TYPE_CHECKING:
    from nimbus.credentials import Credentials
    from nimbus.server import Nimbus

Out = dict[str, Any]


def create_api(core: Nimbus) -> IamApi:
    return IamApi(core)


def _when(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


def _document(text: str) -> str:
    return quote(text, safe="")


def _tags_in(params: dict[str, Any]) -> list[Tag]:
    return [Tag(t["Key"], t.get("Value", "")) for t in params.get("Tags") or []]


def _tags_out(tags: tuple[Tag, ...] | list[Tag]) -> list[dict[str, str]]:
    return [{"Key": t.key, "Value": t.value} for t in tags]


def _paged(page: Page[Any], member: str, items: list[Any]) -> Out:
    out: Out = {member: items, "IsTruncated": page.marker is not None}
    if page.marker is not None:
        out["Marker"] = page.marker
    return out


def _role(role: Role, view: str) -> Out:
    """A Role shape as the operation ``view`` returns it: "create", "get", "list" or "description"."""
    out: Out = {
        "Path": role.path,
        "RoleName": role.name,
        "RoleId": role.role_id,
        "Arn": role.arn,
        "CreateDate": _when(role.created),
        "AssumeRolePolicyDocument": _document(role.trust_policy),
    }
    if view != "create" and role.description is not None:
        out["Description"] = role.description
    if view in ("get", "list"):
        out["MaxSessionDuration"] = role.max_session
    if view != "list":
        if role.boundary:
            out["PermissionsBoundary"] = {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": role.boundary}
        if role.tags:
            out["Tags"] = _tags_out(role.tags)
    if view == "get":
        out["RoleLastUsed"] = {}  # Nimbus does not track role use
    return out


def _user(user: User, view: str) -> Out:
    """A User shape as ``view`` returns it: "get" (GetUser, CreateUser) or "list" (no tags, no boundary)."""
    out: Out = {"Path": user.path, "UserName": user.name, "UserId": user.user_id, "Arn": user.arn, "CreateDate": _when(user.created)}
    if view == "get":
        if user.boundary:
            out["PermissionsBoundary"] = {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": user.boundary}
        if user.tags:
            out["Tags"] = _tags_out(user.tags)
    return out


def _group(group: Group) -> Out:
    return {"Path": group.path, "GroupName": group.name, "GroupId": group.group_id, "Arn": group.arn, "CreateDate": _when(group.created)}


def _access_key(key: AccessKey) -> Out:
    out: Out = {"UserName": key.user, "AccessKeyId": key.access_key_id, "Status": key.status, "CreateDate": _when(key.created)}
    if key.secret is not None:
        out["SecretAccessKey"] = key.secret
    return out


def _policy(policy: Policy, view: str) -> Out:
    """A Policy shape as ``view`` returns it: "create", "get" or "list"."""
    out: Out = {
        "PolicyName": policy.name,
        "PolicyId": policy.policy_id,
        "Arn": policy.arn,
        "Path": policy.path,
        "DefaultVersionId": policy.default_version,
        "AttachmentCount": policy.attachments,
        "PermissionsBoundaryUsageCount": policy.boundary_uses,
        "IsAttachable": True,
        "CreateDate": _when(policy.created),
        "UpdateDate": _when(policy.updated),
    }
    if view == "get":
        if policy.description is not None:
            out["Description"] = policy.description
        out["Tags"] = _tags_out(policy.tags)
    elif view == "create" and policy.tags:
        out["Tags"] = _tags_out(policy.tags)
    return out


def _version(version: PolicyVersion, *, with_document: bool) -> Out:
    out: Out = {"VersionId": version.version_id, "IsDefaultVersion": version.is_default, "CreateDate": _when(version.created)}
    if with_document:
        out["Document"] = _document(version.document)
    return out


class IamApi:
    def __init__(self, core: Nimbus) -> None:
        self.core = core
        self._engine: Iam | None = None

    @property
    def engine(self) -> Iam:
        if self._engine is None:
            core = self.core
            self._engine = core.component(
                "iam.engine", lambda: Iam(core.storage.metadata, keys=core.credentials, clock_time=core.clock.time)
            )
        return self._engine

    @property
    def logins(self) -> LoginProfiles:
        return self.core.component("iam.logins", lambda: LoginProfiles(self.engine, self.core.credentials, self.core.clock.time))

    # --- console passwords (passwords.py) ------------------------------------------------------------

    def _login_user(self, ctx: RequestContext, params: dict[str, Any]) -> str:
        name = params.get("UserName") or self._caller_user(ctx)
        if name is None:
            from nimbus.services.iam.errors import InvalidInputException

            raise InvalidInputException("UserName is required: the root user has no login profile in Nimbus.")
        return str(name)

    async def create_login_profile(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        profile = self.logins.create(ctx.account_id, self._login_user(ctx, params), params.get("Password") or "",
                                     bool(params.get("PasswordResetRequired")), params.get("MaxSigninSessionDuration"))
        return {"LoginProfile": profile}

    async def get_login_profile(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        return {"LoginProfile": self.logins.get(ctx.account_id, self._login_user(ctx, params))}

    async def update_login_profile(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.logins.update(ctx.account_id, params["UserName"], params)
        return {}

    async def delete_login_profile(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.logins.delete(ctx.account_id, self._login_user(ctx, params))
        return {}

    async def change_password(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        creds = self._caller(ctx)
        self.logins.change_password(ctx.account_id, creds.principal, params["OldPassword"], params["NewPassword"])
        return {}

    async def get_account_password_policy(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        return {"PasswordPolicy": self.logins.policy_out(ctx.account_id)}

    async def update_account_password_policy(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.logins.put_policy(ctx.account_id, params)
        return {}

    async def delete_account_password_policy(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.logins.delete_policy(ctx.account_id)
        return {}

    # --- the caller -------------------------------------------------------------------------------

    def _caller(self, ctx: RequestContext) -> Credentials:
        identity = ctx.extra.get("identity")
        if identity is not None:
            return identity.credentials  # type: ignore[no-any-return]
        store = self.core.credentials
        found = store.lookup(ctx.access_key) if ctx.access_key else None
        return found if found is not None else store.root  # --auth off: the root user

    def _caller_user(self, ctx: RequestContext) -> str | None:
        """The name of the user whose long-term key signed the request, or None for the root user."""
        creds = self._caller(ctx)
        if creds.session_token is not None:
            if creds.principal == "root" or creds.principal.startswith("user/"):
                # a GetSessionToken session: IAM refuses those unless they carry MFA, which Nimbus has not
                raise InvalidClientTokenIdException("The security token included in the request is invalid")
            raise IamValidationError("Must specify userName when calling with non-User credentials")
        if creds.principal.startswith("user/"):
            return self.engine.caller_user(ctx.account_id, creds.principal, creds.user_id).name
        return None

    def _key_owner(self, ctx: RequestContext, params: dict[str, Any], operation: str) -> str:
        """The user an access-key operation acts on: UserName, else the caller. The root user's key pair is
        configured (NIMBUS_ACCESS_KEY_ID / credentials.json), not managed through IAM."""
        name = params.get("UserName") or self._caller_user(ctx)
        if name is not None:
            return str(name)
        key_id = params.get("AccessKeyId")
        if key_id is not None and key_id != self.core.credentials.root.access_key_id:
            raise NoSuchEntityException(f"The Access Key with id {key_id} cannot be found.")  # not one of root's
        raise NotImplementedOperation(
            f"{operation} on the root user's access keys is not implemented: Nimbus's root key pair is configured "
            "(NIMBUS_ACCESS_KEY_ID or credentials.json); give a UserName to manage a user's keys."
        )

    # --- the account --------------------------------------------------------------------------------

    async def list_account_aliases(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        return {"AccountAliases": self.engine.account_aliases(ctx.account_id), "IsTruncated": False}

    async def create_account_alias(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.create_account_alias(ctx.account_id, params["AccountAlias"])
        return {}

    async def delete_account_alias(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.delete_account_alias(ctx.account_id, params["AccountAlias"])
        return {}

    # --- the policy simulator (simulate.py) ------------------------------------------------------------

    def _authorizer(self) -> Any:
        from nimbus.services.iam.authorize import Authorizer

        return Authorizer(self.engine)

    async def simulate_principal_policy(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        from nimbus.services.iam import simulate

        identity, boundary, caller = simulate.principal_sources(
            self.engine, self._authorizer(), ctx.account_id, params["PolicySourceArn"], params.get("PolicyExclusionList"))
        identity += simulate.inputs(params.get("PolicyInputList"), "PolicyInputList")
        if params.get("PermissionsBoundaryPolicyInputList"):
            boundary = simulate.inputs(params["PermissionsBoundaryPolicyInputList"], "PermissionsBoundaryPolicyInputList")
        results = simulate.simulate(identity, boundary, params.get("ResourcePolicy"), caller, params["ActionNames"],
                                    params.get("ResourceArns"), simulate.context_of(params.get("ContextEntries")))
        return simulate.page(results, params.get("Marker"), params.get("MaxItems"))

    async def simulate_custom_policy(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        from nimbus.services.iam import simulate

        identity = simulate.inputs(params["PolicyInputList"], "PolicyInputList")
        boundary = simulate.inputs(params["PermissionsBoundaryPolicyInputList"], "PermissionsBoundaryPolicyInputList") if params.get(
            "PermissionsBoundaryPolicyInputList") else None
        caller = frozenset({"*", params["CallerArn"]}) if params.get("CallerArn") else frozenset({"*"})
        results = simulate.simulate(identity, boundary, params.get("ResourcePolicy"), caller, params["ActionNames"],
                                    params.get("ResourceArns"), simulate.context_of(params.get("ContextEntries")))
        return simulate.page(results, params.get("Marker"), params.get("MaxItems"))

    async def get_account_summary(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        return {"SummaryMap": self.engine.account_summary(ctx.account_id)}

    # --- roles ----------------------------------------------------------------------------------

    async def create_role(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        role = self.engine.create_role(
            ctx.account_id,
            params["RoleName"],
            params["AssumeRolePolicyDocument"],
            path=params.get("Path") or "/",
            description=params.get("Description"),
            max_session=params.get("MaxSessionDuration"),
            boundary=params.get("PermissionsBoundary"),
            tags=_tags_in(params),
        )
        return {"Role": _role(role, "create")}

    async def get_role(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        return {"Role": _role(self.engine.get_role(ctx.account_id, params["RoleName"]), "get")}

    async def list_roles(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        page = self.engine.list_roles(
            ctx.account_id, path_prefix=params.get("PathPrefix"), marker=params.get("Marker"), max_items=params.get("MaxItems")
        )
        return _paged(page, "Roles", [_role(r, "list") for r in page.items])

    async def delete_role(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.delete_role(ctx.account_id, params["RoleName"])
        return {}

    async def update_role(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.update_role(
            ctx.account_id, params["RoleName"], description=params.get("Description"), max_session=params.get("MaxSessionDuration")
        )
        return {}

    async def update_role_description(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        role = self.engine.update_role_description(ctx.account_id, params["RoleName"], params["Description"])
        return {"Role": _role(role, "description")}

    async def update_assume_role_policy(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.update_trust_policy(ctx.account_id, params["RoleName"], params["PolicyDocument"])
        return {}

    async def tag_role(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.tag_role(ctx.account_id, params["RoleName"], _tags_in(params))
        return {}

    async def untag_role(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.untag_role(ctx.account_id, params["RoleName"], list(params["TagKeys"]))
        return {}

    async def list_role_tags(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        page = self.engine.role_tags(ctx.account_id, params["RoleName"], marker=params.get("Marker"), max_items=params.get("MaxItems"))
        return _paged(page, "Tags", _tags_out(page.items))

    async def put_role_permissions_boundary(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.put_role_boundary(ctx.account_id, params["RoleName"], params["PermissionsBoundary"])
        return {}

    async def delete_role_permissions_boundary(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.delete_role_boundary(ctx.account_id, params["RoleName"])
        return {}

    # --- role policies ----------------------------------------------------------------------------

    async def attach_role_policy(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.attach_role_policy(ctx.account_id, params["RoleName"], params["PolicyArn"])
        return {}

    async def detach_role_policy(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.detach_role_policy(ctx.account_id, params["RoleName"], params["PolicyArn"])
        return {}

    async def list_attached_role_policies(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        page = self.engine.attached_role_policies(
            ctx.account_id,
            params["RoleName"],
            path_prefix=params.get("PathPrefix"),
            marker=params.get("Marker"),
            max_items=params.get("MaxItems"),
        )
        return _paged(page, "AttachedPolicies", [{"PolicyName": p.name, "PolicyArn": p.arn} for p in page.items])

    async def put_role_policy(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.put_role_policy(ctx.account_id, params["RoleName"], params["PolicyName"], params["PolicyDocument"])
        return {}

    async def get_role_policy(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        policy = self.engine.get_role_policy(ctx.account_id, params["RoleName"], params["PolicyName"])
        return {"RoleName": policy.owner, "PolicyName": policy.name, "PolicyDocument": _document(policy.document)}

    async def delete_role_policy(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.delete_role_policy(ctx.account_id, params["RoleName"], params["PolicyName"])
        return {}

    async def list_role_policies(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        page = self.engine.role_policy_names(ctx.account_id, params["RoleName"], marker=params.get("Marker"), max_items=params.get("MaxItems"))
        return _paged(page, "PolicyNames", page.items)

    # --- instance profiles (profiles.py: recorded; Nimbus runs no EC2) ---------------------------------

    @property
    def profiles(self) -> Any:
        from nimbus.services.iam.profiles import Profiles

        return self.core.component("iam.profiles", lambda: Profiles(self.engine))

    def _profile(self, account: str, doc: dict[str, Any]) -> Out:
        from nimbus.services.iam.profiles import profile_arn

        out: Out = {
            "Path": doc["path"], "InstanceProfileName": doc["name"], "InstanceProfileId": doc["id"],
            "Arn": profile_arn(account, doc["path"], doc["name"]), "CreateDate": _when(doc["created"]),
            "Roles": [_role(self.engine.get_role(account, r), "list") for r in doc["roles"]],
        }
        if doc["tags"]:
            out["Tags"] = [{"Key": k, "Value": v} for k, v in doc["tags"]]
        return out

    @staticmethod
    def _page(items: list[Out], member: str, params: dict[str, Any]) -> Out:
        start = int(params["Marker"]) if str(params.get("Marker") or "").isdigit() else 0
        size = params.get("MaxItems") or 100
        out: Out = {member: items[start:start + size], "IsTruncated": start + size < len(items)}
        if out["IsTruncated"]:
            out["Marker"] = str(start + size)
        return out

    async def create_instance_profile(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        doc = self.profiles.create(ctx.account_id, params["InstanceProfileName"], params.get("Path") or "/", params.get("Tags") or [])
        return {"InstanceProfile": self._profile(ctx.account_id, doc)}

    async def get_instance_profile(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        return {"InstanceProfile": self._profile(ctx.account_id, self.profiles.get(ctx.account_id, params["InstanceProfileName"]))}

    async def delete_instance_profile(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.profiles.delete(ctx.account_id, params["InstanceProfileName"])
        return {}

    async def list_instance_profiles(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        docs = self.profiles.list(ctx.account_id, params.get("PathPrefix"))
        return self._page([self._profile(ctx.account_id, d) for d in docs], "InstanceProfiles", params)

    async def add_role_to_instance_profile(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.profiles.add_role(ctx.account_id, params["InstanceProfileName"], params["RoleName"])
        return {}

    async def remove_role_from_instance_profile(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.profiles.remove_role(ctx.account_id, params["InstanceProfileName"], params["RoleName"])
        return {}

    async def list_instance_profiles_for_role(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.get_role(ctx.account_id, params["RoleName"])  # the role must exist
        docs = self.profiles.of_role(ctx.account_id, params["RoleName"])
        return self._page([self._profile(ctx.account_id, d) for d in docs], "InstanceProfiles", params)

    async def tag_instance_profile(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.profiles.tag(ctx.account_id, params["InstanceProfileName"], params["Tags"])
        return {}

    async def untag_instance_profile(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.profiles.untag(ctx.account_id, params["InstanceProfileName"], params["TagKeys"])
        return {}

    async def list_instance_profile_tags(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        doc = self.profiles.get(ctx.account_id, params["InstanceProfileName"])
        return self._page([{"Key": k, "Value": v} for k, v in doc["tags"]], "Tags", params)

    # --- identity providers (providers.py: recorded; STS does not federate through them) ---------------

    @property
    def providers(self) -> Any:
        from nimbus.services.iam.providers import Providers

        return self.core.component("iam.providers", lambda: Providers(self.engine))

    @staticmethod
    def _tags_out(doc: dict[str, Any]) -> list[Out]:
        return [{"Key": k, "Value": v} for k, v in doc["tags"]]

    async def create_open_id_connect_provider(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        arn, doc = self.providers.create_oidc(ctx.account_id, params)
        out: Out = {"OpenIDConnectProviderArn": arn}
        if doc["tags"]:
            out["Tags"] = self._tags_out(doc)
        return out

    async def get_open_id_connect_provider(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        doc = self.providers.oidc(ctx.account_id, params["OpenIDConnectProviderArn"])
        out: Out = {"Url": doc["url"], "ClientIDList": doc["clients"], "ThumbprintList": doc["thumbprints"],
                    "CreateDate": _when(doc["created"])}
        if doc["tags"]:
            out["Tags"] = self._tags_out(doc)
        return out

    async def list_open_id_connect_providers(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        return {"OpenIDConnectProviderList": [{"Arn": arn} for arn in self.providers.list_oidc(ctx.account_id)]}

    async def delete_open_id_connect_provider(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.providers.delete_oidc(ctx.account_id, params["OpenIDConnectProviderArn"])
        return {}

    async def update_open_id_connect_provider_thumbprint(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.providers.set_thumbprints(ctx.account_id, params["OpenIDConnectProviderArn"], params.get("ThumbprintList") or [])
        return {}

    async def add_client_id_to_open_id_connect_provider(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.providers.add_client(ctx.account_id, params["OpenIDConnectProviderArn"], params["ClientID"])
        return {}

    async def remove_client_id_from_open_id_connect_provider(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.providers.remove_client(ctx.account_id, params["OpenIDConnectProviderArn"], params["ClientID"])
        return {}

    async def tag_open_id_connect_provider(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.providers.tag_oidc(ctx.account_id, params["OpenIDConnectProviderArn"], params["Tags"])
        return {}

    async def untag_open_id_connect_provider(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.providers.untag_oidc(ctx.account_id, params["OpenIDConnectProviderArn"], params["TagKeys"])
        return {}

    async def list_open_id_connect_provider_tags(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        doc = self.providers.oidc(ctx.account_id, params["OpenIDConnectProviderArn"])
        return self._page(self._tags_out(doc), "Tags", params)

    @staticmethod
    def _valid_until(doc: dict[str, Any]) -> datetime:
        """The metadata's validUntil, else 100 years after creation (what IAM shows for metadata without one)."""
        import re as _re

        found = _re.search(r'validUntil="([^"]+)"', doc["metadata"])
        if found is not None:
            try:
                return datetime.fromisoformat(found.group(1).replace("Z", "+00:00"))
            except ValueError:
                pass
        return _when(doc["created"] + 100 * 365 * 86400)

    async def create_saml_provider(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        arn, doc = self.providers.create_saml(ctx.account_id, params)
        out: Out = {"SAMLProviderArn": arn}
        if doc["tags"]:
            out["Tags"] = self._tags_out(doc)
        return out

    async def get_saml_provider(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        doc = self.providers.saml(ctx.account_id, params["SAMLProviderArn"])
        out: Out = {"SAMLMetadataDocument": doc["metadata"], "CreateDate": _when(doc["created"]),
                    "ValidUntil": self._valid_until(doc)}
        if doc["tags"]:
            out["Tags"] = self._tags_out(doc)
        return out

    async def list_saml_providers(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        from nimbus.services.iam.providers import saml_arn

        return {"SAMLProviderList": [{"Arn": saml_arn(ctx.account_id, d["name"]), "CreateDate": _when(d["created"]),
                                      "ValidUntil": self._valid_until(d)} for d in self.providers.list_saml(ctx.account_id)]}

    async def update_saml_provider(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        if params.get("SAMLMetadataDocument"):
            self.providers.set_metadata(ctx.account_id, params["SAMLProviderArn"], params["SAMLMetadataDocument"])
        else:
            self.providers.saml(ctx.account_id, params["SAMLProviderArn"])
        return {"SAMLProviderArn": params["SAMLProviderArn"]}

    async def delete_saml_provider(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.providers.delete_saml(ctx.account_id, params["SAMLProviderArn"])
        return {}

    async def tag_saml_provider(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.providers.tag_saml(ctx.account_id, params["SAMLProviderArn"], params["Tags"])
        return {}

    async def untag_saml_provider(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.providers.untag_saml(ctx.account_id, params["SAMLProviderArn"], params["TagKeys"])
        return {}

    async def list_saml_provider_tags(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        doc = self.providers.saml(ctx.account_id, params["SAMLProviderArn"])
        return self._page(self._tags_out(doc), "Tags", params)

    # --- managed policies -------------------------------------------------------------------------

    async def create_policy(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        policy = self.engine.create_policy(
            ctx.account_id,
            params["PolicyName"],
            params["PolicyDocument"],
            path=params.get("Path") or "/",
            description=params.get("Description"),
            tags=_tags_in(params),
        )
        return {"Policy": _policy(policy, "create")}

    async def get_policy(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        return {"Policy": _policy(self.engine.get_policy(ctx.account_id, params["PolicyArn"]), "get")}

    async def delete_policy(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.delete_policy(ctx.account_id, params["PolicyArn"])
        return {}

    async def list_policies(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        page = self.engine.list_policies(
            ctx.account_id,
            scope=params.get("Scope"),
            only_attached=bool(params.get("OnlyAttached")),
            path_prefix=params.get("PathPrefix"),
            usage=params.get("PolicyUsageFilter"),
            marker=params.get("Marker"),
            max_items=params.get("MaxItems"),
        )
        return _paged(page, "Policies", [_policy(p, "list") for p in page.items])

    async def create_policy_version(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        version = self.engine.create_policy_version(
            ctx.account_id, params["PolicyArn"], params["PolicyDocument"], set_default=bool(params.get("SetAsDefault"))
        )
        return {"PolicyVersion": _version(version, with_document=False)}

    async def get_policy_version(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        version = self.engine.get_policy_version(ctx.account_id, params["PolicyArn"], params["VersionId"])
        return {"PolicyVersion": _version(version, with_document=True)}

    async def list_policy_versions(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        page = self.engine.list_policy_versions(
            ctx.account_id, params["PolicyArn"], marker=params.get("Marker"), max_items=params.get("MaxItems")
        )
        return _paged(page, "Versions", [_version(v, with_document=False) for v in page.items])

    async def delete_policy_version(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.delete_policy_version(ctx.account_id, params["PolicyArn"], params["VersionId"])
        return {}

    async def set_default_policy_version(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.set_default_policy_version(ctx.account_id, params["PolicyArn"], params["VersionId"])
        return {}

    async def tag_policy(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.tag_policy(ctx.account_id, params["PolicyArn"], _tags_in(params))
        return {}

    async def untag_policy(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.untag_policy(ctx.account_id, params["PolicyArn"], list(params["TagKeys"]))
        return {}

    async def list_policy_tags(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        page = self.engine.policy_tags(ctx.account_id, params["PolicyArn"], marker=params.get("Marker"), max_items=params.get("MaxItems"))
        return _paged(page, "Tags", _tags_out(page.items))

    async def list_entities_for_policy(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        page = self.engine.entities_for_policy(
            ctx.account_id,
            params["PolicyArn"],
            entity_filter=params.get("EntityFilter"),
            path_prefix=params.get("PathPrefix"),
            usage=params.get("PolicyUsageFilter"),
            marker=params.get("Marker"),
            max_items=params.get("MaxItems"),
        )
        roles = [{"RoleName": e.name, "RoleId": e.role_id} for e in page.items if isinstance(e, PolicyRole)]
        users = [{"UserName": e.name, "UserId": e.user_id} for e in page.items if isinstance(e, PolicyUser)]
        groups = [{"GroupName": e.name, "GroupId": e.group_id} for e in page.items if isinstance(e, PolicyGroup)]
        out = _paged(page, "PolicyRoles", roles)
        out.update(PolicyGroups=groups, PolicyUsers=users)
        return out

    # --- users --------------------------------------------------------------------------------------

    async def create_user(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        user = self.engine.create_user(
            ctx.account_id,
            params["UserName"],
            path=params.get("Path") or "/",
            boundary=params.get("PermissionsBoundary"),
            tags=_tags_in(params),
        )
        return {"User": _user(user, "get")}

    async def get_user(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        name = params.get("UserName") or self._caller_user(ctx)
        if name is None:
            # the root user (AWS-documented shape: no UserName or Path; its id is the account id)
            account = ctx.account_id
            created = self.engine.account_created(account)
            return {"User": {"UserId": account, "Arn": f"arn:aws:iam::{account}:root", "CreateDate": _when(created)}}
        return {"User": _user(self.engine.get_user(ctx.account_id, name), "get")}

    async def list_users(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        page = self.engine.list_users(
            ctx.account_id, path_prefix=params.get("PathPrefix"), marker=params.get("Marker"), max_items=params.get("MaxItems")
        )
        return _paged(page, "Users", [_user(u, "list") for u in page.items])

    async def update_user(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.update_user(ctx.account_id, params["UserName"], new_name=params.get("NewUserName"), new_path=params.get("NewPath"))
        return {}

    async def delete_user(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.delete_user(ctx.account_id, params["UserName"])
        self.logins.revoke(ctx.account_id, params["UserName"])
        return {}

    async def tag_user(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.tag_user(ctx.account_id, params["UserName"], _tags_in(params))
        return {}

    async def untag_user(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.untag_user(ctx.account_id, params["UserName"], list(params["TagKeys"]))
        return {}

    async def list_user_tags(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        page = self.engine.user_tags(ctx.account_id, params["UserName"], marker=params.get("Marker"), max_items=params.get("MaxItems"))
        return _paged(page, "Tags", _tags_out(page.items))

    async def put_user_permissions_boundary(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.put_user_boundary(ctx.account_id, params["UserName"], params["PermissionsBoundary"])
        return {}

    async def delete_user_permissions_boundary(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.delete_user_boundary(ctx.account_id, params["UserName"])
        return {}

    # --- user policies --------------------------------------------------------------------------------

    async def attach_user_policy(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.attach_user_policy(ctx.account_id, params["UserName"], params["PolicyArn"])
        return {}

    async def detach_user_policy(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.detach_user_policy(ctx.account_id, params["UserName"], params["PolicyArn"])
        return {}

    async def list_attached_user_policies(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        page = self.engine.attached_user_policies(
            ctx.account_id,
            params["UserName"],
            path_prefix=params.get("PathPrefix"),
            marker=params.get("Marker"),
            max_items=params.get("MaxItems"),
        )
        return _paged(page, "AttachedPolicies", [{"PolicyName": p.name, "PolicyArn": p.arn} for p in page.items])

    async def put_user_policy(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.put_user_policy(ctx.account_id, params["UserName"], params["PolicyName"], params["PolicyDocument"])
        return {}

    async def get_user_policy(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        policy = self.engine.get_user_policy(ctx.account_id, params["UserName"], params["PolicyName"])
        return {"UserName": policy.owner, "PolicyName": policy.name, "PolicyDocument": _document(policy.document)}

    async def delete_user_policy(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.delete_user_policy(ctx.account_id, params["UserName"], params["PolicyName"])
        return {}

    async def list_user_policies(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        page = self.engine.user_policy_names(ctx.account_id, params["UserName"], marker=params.get("Marker"), max_items=params.get("MaxItems"))
        return _paged(page, "PolicyNames", page.items)

    # --- groups -------------------------------------------------------------------------------------------

    async def create_group(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        group = self.engine.create_group(ctx.account_id, params["GroupName"], path=params.get("Path") or "/")
        return {"Group": _group(group)}

    async def get_group(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        group, page = self.engine.get_group(
            ctx.account_id, params["GroupName"], marker=params.get("Marker"), max_items=params.get("MaxItems")
        )
        out = _paged(page, "Users", [_user(u, "list") for u in page.items])
        out["Group"] = _group(group)
        return out

    async def list_groups(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        page = self.engine.list_groups(
            ctx.account_id, path_prefix=params.get("PathPrefix"), marker=params.get("Marker"), max_items=params.get("MaxItems")
        )
        return _paged(page, "Groups", [_group(g) for g in page.items])

    async def update_group(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.update_group(
            ctx.account_id, params["GroupName"], new_name=params.get("NewGroupName"), new_path=params.get("NewPath")
        )
        return {}

    async def delete_group(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.delete_group(ctx.account_id, params["GroupName"])
        return {}

    async def add_user_to_group(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.add_user_to_group(ctx.account_id, params["GroupName"], params["UserName"])
        return {}

    async def remove_user_from_group(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.remove_user_from_group(ctx.account_id, params["GroupName"], params["UserName"])
        return {}

    async def list_groups_for_user(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        page = self.engine.groups_for_user(ctx.account_id, params["UserName"], marker=params.get("Marker"), max_items=params.get("MaxItems"))
        return _paged(page, "Groups", [_group(g) for g in page.items])

    # --- group policies -------------------------------------------------------------------------------

    async def attach_group_policy(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.attach_group_policy(ctx.account_id, params["GroupName"], params["PolicyArn"])
        return {}

    async def detach_group_policy(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.detach_group_policy(ctx.account_id, params["GroupName"], params["PolicyArn"])
        return {}

    async def list_attached_group_policies(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        page = self.engine.attached_group_policies(
            ctx.account_id,
            params["GroupName"],
            path_prefix=params.get("PathPrefix"),
            marker=params.get("Marker"),
            max_items=params.get("MaxItems"),
        )
        return _paged(page, "AttachedPolicies", [{"PolicyName": p.name, "PolicyArn": p.arn} for p in page.items])

    async def put_group_policy(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.put_group_policy(ctx.account_id, params["GroupName"], params["PolicyName"], params["PolicyDocument"])
        return {}

    async def get_group_policy(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        policy = self.engine.get_group_policy(ctx.account_id, params["GroupName"], params["PolicyName"])
        return {"GroupName": policy.owner, "PolicyName": policy.name, "PolicyDocument": _document(policy.document)}

    async def delete_group_policy(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.delete_group_policy(ctx.account_id, params["GroupName"], params["PolicyName"])
        return {}

    async def list_group_policies(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        page = self.engine.group_policy_names(ctx.account_id, params["GroupName"], marker=params.get("Marker"), max_items=params.get("MaxItems"))
        return _paged(page, "PolicyNames", page.items)

    # --- access keys ------------------------------------------------------------------------------------

    async def create_access_key(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        key = self.engine.create_access_key(ctx.account_id, self._key_owner(ctx, params, "CreateAccessKey"))
        return {"AccessKey": _access_key(key)}

    async def list_access_keys(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        name = params.get("UserName") or self._caller_user(ctx)
        if name is None:
            # the root user's own key: the configured pair (when it was made is not recorded)
            root = self.core.credentials.root
            return {"AccessKeyMetadata": [{"AccessKeyId": root.access_key_id, "Status": "Active"}], "IsTruncated": False}
        page = self.engine.access_keys(ctx.account_id, name, marker=params.get("Marker"), max_items=params.get("MaxItems"))
        return _paged(page, "AccessKeyMetadata", [_access_key(k) for k in page.items])

    async def update_access_key(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        name = self._key_owner(ctx, params, "UpdateAccessKey")
        self.engine.update_access_key(ctx.account_id, name, params["AccessKeyId"], params["Status"])
        return {}

    async def delete_access_key(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        self.engine.delete_access_key(ctx.account_id, self._key_owner(ctx, params, "DeleteAccessKey"), params["AccessKeyId"])
        return {}

    async def get_access_key_last_used(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        # Nimbus does not record key use (no write per request): every key answers as a never-used one does
        never_used = {"ServiceName": "N/A", "Region": "N/A"}
        key_id: str = params["AccessKeyId"]
        if key_id == self.core.credentials.root.access_key_id:
            return {"AccessKeyLastUsed": never_used}
        owner = self.engine.access_key_owner(ctx.account_id, key_id)
        if owner is None:
            # AWS answers AccessDenied, not NoSuchEntity, for a key it will not tell about
            raise AccessDeniedException(
                f"User: {self._caller(ctx).arn} is not authorized to perform: iam:GetAccessKeyLastUsed on resource: access key {key_id}"
            )
        return {"UserName": owner, "AccessKeyLastUsed": never_used}
