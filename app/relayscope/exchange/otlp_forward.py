"""OtlpForwarder: sends each finished call to a team's OpenTelemetry collector, off the proxy.

The recording writer reports committed calls; this reads each finished call back with its
own connection, on its own thread, and hands its span to the SDK's batch span processor
(`SpanSender`: bounded queue, its own export thread, retries). Nothing here can slow the
proxy or the recording: at worst spans are dropped, and that is reported once.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from relayscope.analysis.cost import Pricer
from relayscope.exchange.otlp import SpanSender
from relayscope.exchange.otlp_target import OtlpTarget
from relayscope.store.call_store import CallStore

_STOP = ""


class OtlpForwarder:
    def __init__(
        self,
        db_path: Path,
        target: OtlpTarget,
        on_error: Callable[[str], None] | None = None,
        pricer: Pricer | None = None,
    ) -> None:
        self.db_path = db_path
        self.sender = SpanSender(target, on_error=on_error, pricer=pricer)
        self._ids: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._run, name="relayscope-otlp-forward", daemon=True
        )
        self._thread.start()

    def on_commit(self, events: list[dict[str, Any]]) -> None:
        """Called by the writer after each commit (on its thread): never blocks."""
        for event in events:
            if event.get("event") == "call_finished":
                self._ids.put(str(event["id"]))

    def _run(self) -> None:
        store: CallStore | None = None  # opened at the first call: the writer created it
        try:
            while (call_id := self._ids.get()) != _STOP:
                store = store or CallStore(self.db_path, create=False)
                call = store.get_call(call_id)
                if call is not None:
                    self.sender.send(call, store.chunks(call_id))
        finally:
            if store is not None:
                store.close()

    def close(self, timeout: float = 5.0) -> None:
        self._ids.put(_STOP)
        self._thread.join(timeout)
        self.sender.close(timeout)
