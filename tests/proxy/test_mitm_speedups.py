"""mitm_speedups in this process: applying it too late is reported, not half-done. (That the
worker really runs without the checks is tests/proxy/test_mitm_speedups_worker.py, in fresh
interpreters.)"""

from __future__ import annotations


def test_too_late_to_switch_off_it_says_so_and_changes_nothing() -> None:
    """Once mitmproxy's layers are imported their handlers are already wrapped: `apply`
    reports it (the worker would run slower, not wrongly) and patches nothing."""
    import mitmproxy.http
    import mitmproxy.proxy.layers
    import mitmproxy.proxy.utils

    from relayscope.proxy import mitm_speedups

    expect, post_init = mitmproxy.proxy.utils.expect, mitmproxy.http.MessageData.__post_init__
    assert mitm_speedups.apply() is False
    assert mitmproxy.proxy.utils.expect is expect
    assert mitmproxy.http.MessageData.__post_init__ is post_init
