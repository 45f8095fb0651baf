"""Composition root: settings → storage → credentials → services (lazily) → edge; start and stop.

Service packages are imported on first use (``SERVICES`` maps a name to "module:factory"), which
keeps ``nimbus serve`` ready in well under a second. Services listed in ``EAGER`` are started in
the background right after startup because they have work to resume (delivery buffers, queues,
pollers). A factory takes the ``Nimbus`` core and returns the service's Api object; the Api may
have ``async start()`` and ``async aclose()``.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from nimbus import __version__
from nimbus.clock import Clock, SystemClock
from nimbus.config import Settings
from nimbus.credentials import CredentialStore, load_or_create_root

log = logging.getLogger("nimbus.server")

from nimbus.services.registry import EAGER, SERVICES  # noqa: E402 - name -> "module:factory"; boot-started

T = TypeVar("T")


class Nimbus:
    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.started_at = time.time()
        self.ready = False
        self.storage: Any = None
        self.root_created = False
        root, self.root_created = load_or_create_root(settings.data_dir, settings.access_key_id, settings.secret_access_key)
        self.credentials = CredentialStore(root, settings.account_id)
        self._apis: dict[str, Any] = {}
        self._components: dict[str, Any] = {}
        self._component_order: list[str] = []
        self._factories: dict[str, Callable[[], Any]] = {}
        self._started: list[Any] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        from nimbus.edge.app import EdgeApp

        self.app = EdgeApp(self)
        from nimbus.console.app import ConsoleApp  # the web console: a client of the AWS API, in process

        console = ConsoleApp(self.app, self.credentials, settings)
        self.app.mount(console.matches, console, internal=True)
        from nimbus.services.iam.signin import SignIn  # IAM users' password sign-in (the console's); IAM loads on first use

        sign_in = SignIn(self)
        self.app.mount(sign_in.matches, sign_in, internal=True)

    # --- lookup ---------------------------------------------------------------------------------

    def api(self, service: str) -> Any:
        api = self._apis.get(service)
        if api is None:
            target = SERVICES.get(service)
            if target is None:
                from nimbus.errors import NotImplementedOperation

                raise NotImplementedOperation(f"The service {service} is not implemented by Nimbus yet.")
            module, _, factory = target.partition(":")
            api = getattr(importlib.import_module(module), factory)(self)
            self._apis[service] = api
        return api

    def serves(self, service: str) -> bool:
        return service in SERVICES

    def provide(self, name: str, factory: Callable[[], Any]) -> None:
        """Name the factory that builds component ``name`` on its first use, whatever default the caller of
        ``component`` brings (a layer lends a lower one what it may not import: the gateway's method tester)."""
        self._factories[name] = factory

    def component(self, name: str, factory: Callable[[], T]) -> T:
        """A shared engine object (e.g. "lambda.invoker"), built once on first use."""
        obj = self._components.get(name)
        if obj is None:
            obj = self._components[name] = self._factories.pop(name, factory)()
            self._component_order.append(name)
        return obj  # type: ignore[no-any-return]

    def spawn(self, coro: Any, name: str = "") -> asyncio.Task[Any]:
        """Run a background task owned by the server (cancelled at stop)."""
        task = asyncio.get_running_loop().create_task(coro, name=name or None)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed name=%s", task.get_name(), exc_info=task.exception())

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        from nimbus.storage import open_storage

        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.storage = open_storage(self.settings.data_dir)
        self.credentials.bind(self.storage.metadata)
        self.ready = True
        self.spawn(self._start_eager(), "start-services")

    async def _start_eager(self) -> None:
        try:  # the gateway (HTTP triggers): imported off the event loop, as the services below
            await asyncio.to_thread(importlib.import_module, "nimbus.gateway.app")
            self.app.gateway.load()
        except Exception:  # noqa: BLE001 - the first trigger request reports it
            log.exception("the gateway failed to load")
        for name in EAGER:
            try:
                # import off the event loop, so /_nimbus/health and early requests are answered meanwhile
                target = SERVICES.get(name)
                if target is not None and name not in self._apis:
                    await asyncio.to_thread(importlib.import_module, target.partition(":")[0])
                api = self.api(name)
                start = getattr(api, "start", None)
                if start is not None:
                    await start()
            except Exception:  # noqa: BLE001 - one service failing to resume must not stop others
                log.exception("service failed to start service=%s", name)

    async def stop(self) -> None:
        self.ready = False
        for name in reversed(list(self._apis)):
            api = self._apis[name]
            aclose = getattr(api, "aclose", None)
            if aclose is not None:
                try:
                    await aclose()
                except Exception:  # noqa: BLE001
                    log.exception("service failed to stop service=%s", name)
        for name in reversed(self._component_order):
            aclose = getattr(self._components[name], "aclose", None)
            if aclose is not None:
                try:
                    await aclose()
                except Exception:  # noqa: BLE001
                    log.exception("component failed to stop component=%s", name)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.storage is not None:
            await self.storage.aclose()
            self.storage = None
        log.info("stopped")

    def health(self) -> dict[str, Any]:
        return {
            "status": "ready" if self.ready else "starting",
            "version": __version__,
            "uptime_seconds": round(time.time() - self.started_at, 3),
            "services": {name: ("running" if name in self._apis else "available") for name in sorted(SERVICES)},
            "account_id": self.settings.account_id,
            "endpoint": self.settings.endpoint_url,
        }


def build(settings: Settings, **kw: Any) -> Nimbus:
    return Nimbus(settings, **kw)
