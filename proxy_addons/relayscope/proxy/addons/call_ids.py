"""ChosenCallIds addon: a client may choose its call's id, but never one already recorded."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import OrderedDict
from pathlib import Path

from mitmproxy import http

from relayscope.proxy.addons.errors import error_response
from relayscope.proxy.addons.local_guard import refusal_of, refuse
from relayscope.routing.routes import CALL_ID_HEADER, valid_call_id

log = logging.getLogger(__name__)

#: Ids chosen in this run, for the moments before their rows are committed (about 20 ms);
#: bounded, as the database holds every older one.
RECENT_IDS = 10_000


class ChosenCallIds:
    """Replays and comparisons name their calls up front (`X-Relayscope-Call-Id`); the
    recording writer replaces a row with the same id, so a taken id is refused with a 409
    before anything is forwarded (the refusal is recorded under an id of its own)."""

    def __init__(self, db_path: Path) -> None:
        self.db_uri = f"{db_path.resolve().as_uri()}?mode=ro"
        self._recent: OrderedDict[str, None] = OrderedDict()

    async def request(self, flow: http.HTTPFlow) -> None:
        chosen = flow.request.headers.get(CALL_ID_HEADER)
        if chosen is None or not valid_call_id(chosen) or refusal_of(flow) is not None:
            return
        # Marked before the look-up: a second request with this id is refused even while
        # the first one's look-up runs.
        taken = chosen in self._recent
        self._recent[chosen] = None
        if len(self._recent) > RECENT_IDS:
            self._recent.popitem(last=False)
        if not taken:
            try:
                taken = await asyncio.to_thread(self._recorded, chosen)
            except sqlite3.Error as exc:
                # Unverifiable: the call goes through under an id of Relayscope's choosing.
                log.warning(
                    "Cannot check the chosen call id %s (%s); using a new one.", chosen, exc
                )
                del flow.request.headers[CALL_ID_HEADER]
                return
        if taken:
            refuse(
                flow,
                error_response(
                    409,
                    "call_id_taken",
                    f"The call id {chosen} chosen in X-Relayscope-Call-Id is already used by a "
                    "recorded call, which Relayscope will not overwrite. Leave the header out "
                    "(Relayscope then picks an id) or choose a new one.",
                    "X-Relayscope-Call-Id",
                ),
            )

    def _recorded(self, call_id: str) -> bool:
        conn = sqlite3.connect(self.db_uri, uri=True, timeout=2.0)
        try:
            return (
                conn.execute("SELECT 1 FROM calls WHERE id = ?", (call_id,)).fetchone() is not None
            )
        finally:
            conn.close()
