"""Execution environments: the one path to running function code.

``invoker.Invoker`` pools environments per function version (``pool``), starts them by forking a warm
zygote or spawning a process (``launcher``, ``zygote``, ``sandbox``), serves each one the Lambda Runtime
API over loopback (``runtime_api``) and turns its output into log streams (``output``). Imports only
``nimbus.storage``, ``config``, ``credentials``, ``errors``, ``clock`` and ``metrics``.
"""

from nimbus.runtime.environment import InvocationResult, ResponseStream
from nimbus.runtime.invoker import FunctionSpec, Invoker, TooManyRequests
from nimbus.runtime.launcher import RESERVED_ENV_VARS, resolve_runtime
from nimbus.runtime.output import InMemoryLogSink, LogSink

__all__ = [
    "RESERVED_ENV_VARS",
    "FunctionSpec",
    "InMemoryLogSink",
    "InvocationResult",
    "Invoker",
    "LogSink",
    "ResponseStream",
    "TooManyRequests",
    "resolve_runtime",
]
