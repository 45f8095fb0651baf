"""EnvironmentPool: the environments of one function version and configuration.

A pool is keyed by (function ARN, version, config_key), so an environment is never reused after
code or configuration change. ``acquire`` returns the most recently used idle environment (warmest
caches) or starts a new one; ``release`` parks it again unless it died or the pool was invalidated;
``reap`` stops environments idle longer than ``Settings.idle_env_seconds``, except provisioned ones
(provisioned concurrency: ``provisioned`` environments started ahead of invocations, kept however long
they idle, replaced by the Invoker when one dies). An environment whose scoped credentials would expire
before another invocation could end is retired, not reused. Concurrency limits are the Invoker's
business: a pool starts whatever it is asked to.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from nimbus.runtime.environment import Environment

PoolKey = tuple[str, str, str]


class EnvironmentPool:
    def __init__(self, key: PoolKey, start: Callable[[], Awaitable[Environment]]) -> None:
        self.key = key
        self._start = start
        self.idle: list[Environment] = []
        self.busy: set[Environment] = set()
        self.invalid = False
        self.targets: dict[str, int] = {}
        self.spec: Any = None  # what the pool starts (the Invoker's FunctionSpec), to replace provisioned environments
        self.starting = 0
        self.failure: str | None = None  # why the last provisioned start failed (not retried until provisioned again)  # provisioned environments being started
        self.topping_up: asyncio.Future[tuple[int, str | None]] | None = None  # provisioned concurrency: owner (a config) -> environments kept ready

    async def acquire(self) -> Environment:
        idle = self.idle
        while idle:
            env = idle.pop()
            if env.usable():
                self.busy.add(env)
                return env
            env.stop()
        env = await self._start()
        self.busy.add(env)
        return env

    def release(self, env: Environment) -> None:
        pending = env.post_invoke
        if pending is not None and not pending.done():
            # external extensions are still in the invocation's post-invoke phase: not idle until it ends
            pending.add_done_callback(lambda _f: self.release(env))
            return
        self.busy.discard(env)
        if self.invalid or not env.usable():
            env.stop()
            return
        self.idle.append(env)

    @property
    def provisioned(self) -> int:
        """How many provisioned environments this pool keeps (the sum of its owners' targets)."""
        return sum(self.targets.values())

    def provisioned_alive(self) -> int:
        return sum(1 for env in (*self.idle, *self.busy) if env.provisioned and env.usable())

    def add(self, env: Environment) -> None:
        """Park an environment started ahead of any invocation (provisioned concurrency)."""
        if self.invalid or not env.usable():
            env.stop()
            return
        self.idle.append(env)

    def trim_provisioned(self) -> None:
        """Stop idle provisioned environments beyond the target (a config lowered or deleted)."""
        extra = self.provisioned_alive() - self.provisioned
        if extra <= 0:
            return
        keep = []
        for env in self.idle:
            if extra > 0 and env.provisioned:
                env.stop()
                extra -= 1
            else:
                keep.append(env)
        self.idle = keep
        for env in self.busy:  # the rest stop when their invocation ends
            if extra > 0 and env.provisioned:
                env.provisioned = False
                env.retire()
                extra -= 1

    def reap(self, now: float, idle_s: float) -> int:
        keep, stopped = [], 0
        for env in self.idle:
            if env.usable() and (env.provisioned or now - env.last_used < idle_s):
                keep.append(env)
            else:
                env.stop()
                stopped += 1
        self.idle = keep
        return stopped

    def invalidate(self) -> None:
        """Stop idle environments now; busy ones finish their invocation, then stop."""
        self.invalid = True
        for env in self.idle:
            env.stop()
        self.idle.clear()

    def close(self) -> None:
        self.invalidate()
        for env in list(self.busy):
            env.stop()

    @property
    def size(self) -> int:
        return len(self.idle) + len(self.busy)
