"""IAM users' console passwords (login profiles) and the account's password policy; and the sign-in
that trades a user name and password for temporary keys, which the web console signs with.

- A login profile lives in its user's document (``login``: a scrypt hash with its salt, the creation time,
  PasswordResetRequired), so it follows the user through renames and is refused by DeleteUser until
  DeleteLoginProfile, as IAM does.
- The password policy (Get/Update/DeleteAccountPasswordPolicy) is checked by CreateLoginProfile,
  UpdateLoginProfile and ChangePassword (``PasswordPolicyViolation`` naming the rules missed). Without one,
  AWS's default applies: at least 8 characters, of at least three of upper case, lower case, numbers and
  symbols. ``PasswordReusePrevention`` is enforced against the hashes kept of earlier passwords;
  ``MaxPasswordAge`` makes an old password require a reset at sign-in (with ``HardExpiry``: refuse it).
- ``sign_in`` checks a password in constant time against the hash; five wrong passwords in a row lock the
  user's sign-in for a minute. It answers keys issued by the server for the user (in memory, 12 hours),
  which are revoked when the user's password changes or its login profile or the user is deleted.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import time
from typing import TYPE_CHECKING, Any

from nimbus.services.iam.errors import AccessDeniedException, IamError, NoSuchEntityException
from nimbus.services.iam.holders import USER

if TYPE_CHECKING:
    from nimbus.credentials import CredentialStore
    from nimbus.services.iam.engine import Iam

POLICY = "iam.password_policy"
SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
SIGN_IN_TTL_S = 12 * 3600
LOCK_AFTER_FAILURES = 5
LOCK_S = 60.0
SYMBOLS = set("!@#$%^&*()_+-=[]{}|'")  # the symbols IAM's password policy counts
DEFAULT_POLICY = {"MinimumPasswordLength": 8, "_default": True}


class PasswordPolicyViolationException(IamError):
    code = "PasswordPolicyViolation"
    status = 400


class InvalidUserTypeException(IamError):
    code = "InvalidUserType"
    status = 400


class SignInFailed(IamError):
    code = "SignInFailed"
    status = 401


def _hash(password: str, salt: bytes) -> str:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, **SCRYPT).hex()  # type: ignore[arg-type]


def _new_hash(password: str) -> dict[str, str]:
    salt = secrets.token_bytes(16)
    return {"salt": salt.hex(), "hash": _hash(password, salt)}


def _matches(password: str, stored: dict[str, str]) -> bool:
    return hmac.compare_digest(_hash(password, bytes.fromhex(stored["salt"])), stored["hash"])


class LoginProfiles:
    def __init__(self, engine: Iam, credentials: CredentialStore, clock_time: Any = time.time) -> None:
        self.engine = engine
        self.db = engine.db
        self.credentials = credentials
        self.time = clock_time
        self._failures: dict[str, tuple[int, float]] = {}  # user key -> (wrong passwords in a row, locked until)
        self._issued: dict[str, list[str]] = {}  # user key -> access key ids its sign-ins were given

    # --- the password policy ------------------------------------------------------------------------

    def policy(self, account: str) -> dict[str, Any] | None:
        return self.db.get(POLICY, account)  # type: ignore[no-any-return]

    def put_policy(self, account: str, params: dict[str, Any]) -> None:
        doc: dict[str, Any] = {
            "MinimumPasswordLength": int(params.get("MinimumPasswordLength") or 6),
            "RequireSymbols": bool(params.get("RequireSymbols")),
            "RequireNumbers": bool(params.get("RequireNumbers")),
            "RequireUppercaseCharacters": bool(params.get("RequireUppercaseCharacters")),
            "RequireLowercaseCharacters": bool(params.get("RequireLowercaseCharacters")),
            "AllowUsersToChangePassword": bool(params.get("AllowUsersToChangePassword")),
            "HardExpiry": bool(params.get("HardExpiry")),
        }
        if params.get("MaxPasswordAge"):
            doc["MaxPasswordAge"] = int(params["MaxPasswordAge"])
        if params.get("PasswordReusePrevention"):
            doc["PasswordReusePrevention"] = int(params["PasswordReusePrevention"])
        self.db.put(POLICY, account, doc)

    def delete_policy(self, account: str) -> None:
        if self.db.get(POLICY, account) is None:
            raise NoSuchEntityException(f"The Password Policy with domain name {account} cannot be found.")
        self.db.delete(POLICY, account)

    def policy_out(self, account: str) -> dict[str, Any]:
        doc = self.policy(account)
        if doc is None:
            raise NoSuchEntityException(f"The Password Policy with domain name {account} cannot be found.")
        out = {k: v for k, v in doc.items() if not k.startswith("_")}
        out["ExpirePasswords"] = bool(doc.get("MaxPasswordAge"))
        return out

    def check(self, account: str, password: str, earlier: list[dict[str, str]] | None = None) -> None:
        """PasswordPolicyViolation unless ``password`` meets the account's policy (or AWS's default)."""
        policy = self.policy(account) or DEFAULT_POLICY
        missed = []
        if len(password) < policy["MinimumPasswordLength"]:
            missed.append(f"Password should have at least {policy['MinimumPasswordLength']} characters")
        kinds = {
            "upper": any(c in string.ascii_uppercase for c in password),
            "lower": any(c in string.ascii_lowercase for c in password),
            "number": any(c in string.digits for c in password),
            "symbol": any(c in SYMBOLS for c in password),
        }
        if policy.get("_default"):
            if sum(kinds.values()) < 3:
                missed.append("Password should have a mix of at least three of: upper case letters, lower case letters, numbers, symbols")
        else:
            for flag, kind, text in (("RequireUppercaseCharacters", "upper", "an uppercase letter"),
                                     ("RequireLowercaseCharacters", "lower", "a lowercase letter"),
                                     ("RequireNumbers", "number", "a number"),
                                     ("RequireSymbols", "symbol", "a symbol")):
                if policy.get(flag) and not kinds[kind]:
                    missed.append(f"Password should have at least one {text.split(' ', 1)[1]}")
        reuse = int(policy.get("PasswordReusePrevention") or 0)
        if reuse and earlier and any(_matches(password, h) for h in earlier[-reuse:]):
            missed.append(f"Password should not be one of your {reuse} previous passwords")
        if missed:
            raise PasswordPolicyViolationException("Password does not conform to the account password policy. " + "; ".join(missed) + ".")

    # --- login profiles -----------------------------------------------------------------------------

    def _doc(self, account: str, user: str) -> tuple[str, dict[str, Any]]:
        doc = self.engine._user_doc(account, user)
        return self.engine._user_key(account, user), doc

    def _login(self, doc: dict[str, Any]) -> dict[str, Any]:
        login = doc.get("login")
        if not login:
            raise NoSuchEntityException(f"Login Profile for User {doc['name']} cannot be found.")
        return login  # type: ignore[no-any-return]

    def create(self, account: str, user: str, password: str, reset_required: bool, max_session: int | None) -> dict[str, Any]:
        key, doc = self._doc(account, user)
        if doc.get("login"):
            from nimbus.services.iam.errors import EntityAlreadyExistsException

            raise EntityAlreadyExistsException(f"Login Profile for user {doc['name']} already exists.")
        self.check(account, password)
        login = {"created": self.time(), "changed": self.time(), "reset": bool(reset_required), "pw": _new_hash(password), "earlier": []}
        if max_session:
            login["max_session"] = int(max_session)
        doc["login"] = login
        self.db.put(USER, key, doc)
        return self.out(doc)

    @staticmethod
    def out(doc: dict[str, Any]) -> dict[str, Any]:
        from datetime import datetime, timezone

        login = doc["login"]
        out: dict[str, Any] = {"UserName": doc["name"], "CreateDate": datetime.fromtimestamp(login["created"], timezone.utc),
                               "PasswordResetRequired": bool(login.get("reset"))}
        if login.get("max_session"):
            out["MaxSigninSessionDuration"] = login["max_session"]
        return out

    def get(self, account: str, user: str) -> dict[str, Any]:
        _, doc = self._doc(account, user)
        self._login(doc)
        return self.out(doc)

    def update(self, account: str, user: str, params: dict[str, Any]) -> None:
        key, doc = self._doc(account, user)
        login = self._login(doc)
        if params.get("Password") is not None:
            self._set_password(account, login, params["Password"])
            self.revoke(account, doc["name"])
        if params.get("PasswordResetRequired") is not None:
            login["reset"] = bool(params["PasswordResetRequired"])
        if params.get("ResetMaxSigninSessionDuration"):
            login.pop("max_session", None)
        elif params.get("MaxSigninSessionDuration"):
            login["max_session"] = int(params["MaxSigninSessionDuration"])
        self.db.put(USER, key, doc)

    def _set_password(self, account: str, login: dict[str, Any], password: str) -> None:
        earlier = [*login.get("earlier", []), login["pw"]]
        self.check(account, password, earlier)
        login["earlier"] = earlier[-24:]  # PasswordReusePrevention is at most 24
        login["pw"] = _new_hash(password)
        login["changed"] = self.time()

    def delete(self, account: str, user: str) -> None:
        key, doc = self._doc(account, user)
        self._login(doc)
        del doc["login"]
        self.db.put(USER, key, doc)
        self.revoke(account, doc["name"])

    def change_password(self, account: str, principal: str, old: str, new: str) -> None:
        """ChangePassword: an IAM user changes its own password (the policy must allow users to, unless a
        reset is required)."""
        if not principal.startswith("user/"):
            raise InvalidUserTypeException("Only IAM users can change their own password.")
        name = principal.rsplit("/", 1)[-1]
        key, doc = self._doc(account, name)
        login = self._login(doc)
        policy = self.policy(account)
        if policy is not None and not policy.get("AllowUsersToChangePassword") and not login.get("reset"):
            raise AccessDeniedException("The account password policy does not allow users to change their own password.")
        if not _matches(old, login["pw"]):
            raise AccessDeniedException("The old password is incorrect.")
        self._set_password(account, login, new)
        login["reset"] = False
        self.db.put(USER, key, doc)

    # --- sign-in -------------------------------------------------------------------------------------

    async def sign_in(self, account: str, user: str, password: str) -> dict[str, Any]:
        """Temporary keys for the user whose password this is; SignInFailed (one message for every cause)
        otherwise. The hash (tens of milliseconds) is computed off the event loop; the store is read on it."""
        import asyncio

        failed = SignInFailed("Your user name or password is not correct, or the user may not sign in.")
        now = self.time()
        lock_key = f"{account}:{user.lower()}"
        count, until = self._failures.get(lock_key, (0, 0.0))
        if until > now:
            raise SignInFailed("Too many failed sign-in attempts: try again in a minute.")
        doc = self.db.get(USER, self.engine._user_key(account, user))
        login = (doc or {}).get("login")
        stored = login["pw"] if login else {"salt": "00" * 16, "hash": ""}  # no login: as long as a real check
        ok = await asyncio.to_thread(_matches, password, stored)
        if not login or not ok:
            count += 1
            self._failures[lock_key] = (0, now + LOCK_S) if count >= LOCK_AFTER_FAILURES else (count, 0.0)
            raise failed
        self._failures.pop(lock_key, None)
        policy = self.policy(account) or {}
        reset = bool(login.get("reset"))
        age = policy.get("MaxPasswordAge")
        if age and now - login.get("changed", login["created"]) > age * 86400:
            if policy.get("HardExpiry"):
                raise SignInFailed("The password has expired; an administrator must reset it.")
            reset = True
        from nimbus.services.iam.names import user_principal

        ttl = min(SIGN_IN_TTL_S, int(login.get("max_session") or SIGN_IN_TTL_S))
        creds = self.credentials.issue(user_principal(doc["path"], doc["name"]), ttl_seconds=ttl, user_id=doc["id"])  # type: ignore[index]
        self._issued.setdefault(lock_key, []).append(creds.access_key_id)
        return {"AccessKeyId": creds.access_key_id, "SecretAccessKey": creds.secret_access_key, "SessionToken": creds.session_token,
                "Expiration": creds.expires_at, "PasswordResetRequired": reset, "UserName": doc["name"]}  # type: ignore[index]

    def revoke(self, account: str, user: str) -> None:
        """End the user's console sign-ins (its password changed, or it may no longer sign in)."""
        for key_id in self._issued.pop(f"{account}:{user.lower()}", []):
            self.credentials.revoke(key_id)
