"""Settings: flags and NIMBUS_* environment variables, resolved once into a frozen value."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4566
DEFAULT_ACCOUNT_ID = "000000000000"
DEFAULT_REGION = "us-east-1"
DEFAULT_DATA_DIR = ".nimbus"
LOG_LEVELS = ("debug", "info", "warning", "error")


class ConfigError(ValueError):
    """A setting has a value Nimbus refuses to start with."""


@dataclass(slots=True, frozen=True)
class Settings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    account_id: str = DEFAULT_ACCOUNT_ID
    default_region: str = DEFAULT_REGION
    auth: bool = True
    iam: str = "off"  # off: policies are recorded only | enforce: they decide (services/iam/authorize.py)
    log_level: str = "info"
    access_key_id: str | None = None
    secret_access_key: str | None = None
    # Lambda
    account_concurrency: int = 100
    idle_env_seconds: float = 300.0
    sandbox: str = "auto"  # auto | bwrap | none
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def endpoint_host(self) -> str:
        """The host clients on this machine should dial (a wildcard bind means loopback)."""
        return "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host

    @property
    def endpoint_url(self) -> str:
        host = self.endpoint_host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def with_(self, **changes: object) -> "Settings":
        return replace(self, **changes)  # type: ignore[arg-type]

    def validate(self) -> "Settings":
        if not (1 <= self.port <= 65535):
            raise ConfigError(f"port {self.port} is out of range (1-65535)")
        if not (len(self.account_id) == 12 and self.account_id.isascii() and self.account_id.isdigit()):
            raise ConfigError(f"account id {self.account_id!r} must be 12 digits")
        if self.log_level not in LOG_LEVELS:
            raise ConfigError(f"log level {self.log_level!r} must be one of {', '.join(LOG_LEVELS)}")
        if self.iam not in ("off", "enforce"):
            raise ConfigError(f"iam must be off or enforce, not {self.iam!r}")
        if not self.auth and not is_loopback(self.host):
            raise ConfigError("--auth off is only allowed with a loopback --host (127.0.0.1, ::1, localhost)")
        if self.sandbox not in ("auto", "bwrap", "none"):
            raise ConfigError("sandbox must be auto, bwrap or none")
        return self


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bool(value: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "on", "yes"):
        return True
    if v in ("0", "false", "off", "no"):
        return False
    raise ConfigError(f"not a boolean: {value!r}")


def _number(env: Mapping[str, str], name: str, kind: type[int] | type[float]) -> int | float:
    try:
        return kind(env[name])
    except ValueError as e:
        raise ConfigError(f"{name} is not a number: {env[name]!r}") from e


def from_env(environ: Mapping[str, str], **flags: object) -> Settings:
    """Build Settings from the environment, then flags (flags given as non-None win)."""
    s = Settings()
    env = environ
    changes: dict[str, object] = {}
    if "NIMBUS_HOST" in env:
        changes["host"] = env["NIMBUS_HOST"]
    if "NIMBUS_PORT" in env:
        try:
            changes["port"] = int(env["NIMBUS_PORT"])
        except ValueError as e:
            raise ConfigError(f"NIMBUS_PORT is not a number: {env['NIMBUS_PORT']!r}") from e
    if "NIMBUS_DATA_DIR" in env:
        changes["data_dir"] = Path(env["NIMBUS_DATA_DIR"])
    if "NIMBUS_ACCOUNT_ID" in env:
        changes["account_id"] = env["NIMBUS_ACCOUNT_ID"]
    if "NIMBUS_REGION" in env:
        changes["default_region"] = env["NIMBUS_REGION"]
    if "NIMBUS_AUTH" in env:
        changes["auth"] = _bool(env["NIMBUS_AUTH"])
    if "NIMBUS_IAM" in env:
        changes["iam"] = env["NIMBUS_IAM"].strip().lower()
    if "NIMBUS_LOG_LEVEL" in env:
        changes["log_level"] = env["NIMBUS_LOG_LEVEL"].strip().lower()
    if env.get("NIMBUS_ACCESS_KEY_ID"):
        changes["access_key_id"] = env["NIMBUS_ACCESS_KEY_ID"]
    if env.get("NIMBUS_SECRET_ACCESS_KEY"):
        changes["secret_access_key"] = env["NIMBUS_SECRET_ACCESS_KEY"]
    if "NIMBUS_LAMBDA_CONCURRENCY" in env:
        changes["account_concurrency"] = _number(env, "NIMBUS_LAMBDA_CONCURRENCY", int)
    if "NIMBUS_LAMBDA_IDLE_SECONDS" in env:
        changes["idle_env_seconds"] = _number(env, "NIMBUS_LAMBDA_IDLE_SECONDS", float)
    if "NIMBUS_SANDBOX" in env:
        changes["sandbox"] = env["NIMBUS_SANDBOX"]
    for k, v in flags.items():
        if v is not None:
            changes[k] = Path(v) if k == "data_dir" else v  # type: ignore[arg-type]
    changes["extra"] = {k: v for k, v in env.items() if k.startswith("NIMBUS_")}
    return replace(s, **changes).validate()  # type: ignore[arg-type]
