"""The worker's hook dispatch, with each hook's handlers looked up once instead of per call.

mitmproxy's `AddonManager.trigger_event` walks the whole addon tree for every hook of every
flow: per top-level addon a `safecall` context manager, a generator that `traverse`s its
children, a `getattr` for the hook's name on each, and the hook's `args()` rebuilt from its
dataclass fields for every handler. A small request fires about eight hooks (plus an `update`
after each flow hook, which none of our addons handle), and that walk was about a sixth of the
worker's CPU per request (cProfile of sequential requests, docs/benchmarks.md).

`cache_dispatch(manager)` gives one manager (the worker's own, whose addon tree is fixed once it
runs: mitmproxy's four core addons and our `Chain`) a `trigger_event` that keeps, per hook
name, the handlers of each top-level addon, found in the same order and with the same rules
as mitmproxy's (children after their parent, modules named like a hook skipped). The order,
one `safecall` per top-level addon that has handlers, `AddonHalt` stopping the rest, and
awaiting what a handler returns are all as before. The table is rebuilt whenever the
manager's chain is not the one it was built for (an addon added or removed).
"""

from __future__ import annotations

import dataclasses
import inspect
import types
from collections.abc import Callable
from typing import Any

from mitmproxy import addonmanager, exceptions, hooks

Handlers = list[list[Callable[..., Any]]]

_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def hook_args(event: hooks.Hook) -> list[Any]:
    """`event.args()`, with the dataclass's field names read once per hook type."""
    names = _FIELD_NAMES.get(type(event))
    if names is None:
        fields = dataclasses.fields(event)  # type: ignore[arg-type]
        names = _FIELD_NAMES[type(event)] = tuple(f.name for f in fields)
    return [getattr(event, name) for name in names]


def _not_callable(name: str, addon: object) -> Callable[..., Any]:
    def fail(*args: Any) -> None:
        raise exceptions.AddonManagerError(f"Addon handler {name} ({addon}) not callable")

    return fail


def _handlers_of(top: object, name: str) -> list[Callable[..., Any]]:
    """What mitmproxy's `_iter_hooks(top, event)` yields, as a list."""
    found: list[Callable[..., Any]] = []
    for addon in addonmanager.traverse([top]):
        func = getattr(addon, name, None)
        if not func or isinstance(func, types.ModuleType):
            continue
        found.append(func if callable(func) else _not_callable(name, addon))
    return found


class _Table:
    def __init__(self, chain: tuple[object, ...]) -> None:
        self.chain = chain
        self.by_name: dict[str, Handlers] = {}

    def handlers(self, name: str) -> Handlers:
        found = self.by_name.get(name)
        if found is None:
            found = [h for h in (_handlers_of(top, name) for top in self.chain) if h]
            self.by_name[name] = found
        return found


def cache_dispatch(manager: addonmanager.AddonManager) -> None:
    """Give `manager` (only it) the cached `trigger_event`."""
    table = _Table(())

    async def trigger_event(event: hooks.Hook) -> None:
        nonlocal table
        chain = tuple(manager.chain)
        if chain != table.chain:
            table = _Table(chain)
        handlers = table.handlers(event.name)
        if not handlers:
            return
        args = hook_args(event)
        for funcs in handlers:
            try:
                with addonmanager.safecall():
                    for func in funcs:
                        result = func(*args)
                        if result is not None and inspect.isawaitable(result):
                            await result
            except exceptions.AddonHalt:
                return

    manager.trigger_event = trigger_event  # type: ignore[method-assign]
