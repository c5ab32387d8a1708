"""Two of mitmproxy's debug-only checks, switched off as `python -O` would switch them off.

mitmproxy guards both with `__debug__`: every HTTP message type-checks its fields when it is
built (`MessageData.__post_init__`), and every handler of its layers' state machines checks
the type of the event it gets (`mitmproxy.proxy.utils.expect`). Together they cost the proxy
about a sixth of its requests per second (measured side by side: docs/benchmarks.md).

`python -O` would remove them too, but it runs from optimized bytecode caches that are often
missing (PYTHONDONTWRITEBYTECODE, read-only installs): every start then compiles mitmproxy
from source, 0.45 s → 1.2 s before the first answer. So the worker switches the two checks
off itself. `expect` is applied when mitmproxy's layer modules are imported, so this must
run before that: `relayscope.proxy.__init__` calls `apply()`, which every import of the
worker passes through. Pinned by `mitmproxy>=12.2,<13`; tests/proxy/test_mitm_speedups_worker.py
checks that both still take effect.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import mitmproxy.http
import mitmproxy.proxy.utils


def _expect_nothing(*event_types: type) -> Callable[[Any], Any]:
    def decorator(handler: Any) -> Any:
        return handler

    return decorator


def _no_type_checks(self: object) -> None:
    return None


def apply() -> bool:
    """Switch the checks off; False if mitmproxy's layers were imported too early for it."""
    if "mitmproxy.proxy.layers" in sys.modules:
        return False
    mitmproxy.proxy.utils.expect = _expect_nothing
    mitmproxy.http.MessageData.__post_init__ = _no_type_checks  # type: ignore[method-assign]
    return True
