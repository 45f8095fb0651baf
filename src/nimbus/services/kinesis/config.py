"""Kinesis settings, from ``NIMBUS_KINESIS_*`` environment variables (``Settings.extra``).

Every knob exists so tests and demos can shorten AWS's minutes to milliseconds; the defaults are AWS's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from nimbus.config import ConfigError


@dataclass(slots=True, frozen=True)
class KinesisSettings:
    state_delay_s: float = 0.5  # CREATING/UPDATING/DELETING -> next state (AWS: seconds to minutes)
    iterator_ttl_s: float = 300.0  # shard iterators expire after 5 minutes (B.5)
    next_token_ttl_s: float = 300.0  # ListShards/ListStreams tokens (B.3)
    hour_s: float = 3600.0  # length of one retention "hour": lets tests see 24 h retention pass
    trim_interval_s: float = 30.0  # how often expired records are trimmed from shard logs
    quotas: bool = False  # per-shard read/write limits (B.5, B.6)
    shard_limit: int = 500  # shards per account and region
    subscribe_s: float = 300.0  # SubscribeToShard connection lifetime
    esm_poll_s: float = 1.0  # event source mapping poll interval when no append wakes the poller


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    if name not in env:
        return default
    try:
        value = float(env[name])
    except ValueError as exc:
        raise ConfigError(f"{name} is not a number: {env[name]!r}") from exc
    if value < 0:
        raise ConfigError(f"{name} must not be negative")
    return value


def from_env(env: Mapping[str, str]) -> KinesisSettings:
    quotas = env.get("NIMBUS_KINESIS_QUOTAS", "off").strip().lower() in ("1", "on", "true", "yes")
    return KinesisSettings(
        state_delay_s=_float(env, "NIMBUS_KINESIS_STATE_DELAY_SECONDS", 0.5),
        iterator_ttl_s=_float(env, "NIMBUS_KINESIS_ITERATOR_TTL_SECONDS", 300.0),
        next_token_ttl_s=_float(env, "NIMBUS_KINESIS_NEXT_TOKEN_TTL_SECONDS", 300.0),
        hour_s=_float(env, "NIMBUS_KINESIS_RETENTION_HOUR_SECONDS", 3600.0),
        trim_interval_s=_float(env, "NIMBUS_KINESIS_TRIM_INTERVAL_SECONDS", 30.0),
        quotas=quotas,
        shard_limit=int(_float(env, "NIMBUS_KINESIS_SHARD_LIMIT", 500)),
        subscribe_s=_float(env, "NIMBUS_KINESIS_SUBSCRIBE_SECONDS", 300.0),
        esm_poll_s=_float(env, "NIMBUS_KINESIS_ESM_POLL_SECONDS", 1.0),
    )
