"""Keeps Python's full garbage collections off the live list's frames.

A full (generation 2) collection walks every object the process holds, with the interpreter
lock held: after start-up that is Qt's wrappers, the imported modules and the price list,
and one such walk stalled the window for ~90 ms under 500 calls/s (measured with
`LIVE_BENCH_BLAME=1 python -m bench.live_bench`: the only stall over 50 ms in 30 s). Those
objects live as long as the app, so once they are loaded they are moved out of the
collector's sight (`gc.freeze`): later full collections walk only what came after them.
"""

from __future__ import annotations

import gc

_settled = False


def settle_start_up_objects() -> None:
    """Freeze what is alive (the app's long-lived start-up objects). Called by the app's
    start-up (`application.settle_after_start_up`) when the window has shown and the price
    list has loaded; later calls do nothing. No collection first: it
    would be the very stall this avoids, a moment after start-up (garbage that is frozen
    with them stays, a few kilobytes of start-up leftovers)."""
    global _settled
    if _settled:
        return
    _settled = True
    gc.freeze()
