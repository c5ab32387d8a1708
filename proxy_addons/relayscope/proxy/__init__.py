"""The proxy worker: Relayscope's mitmproxy addons and the process that runs them."""

from relayscope.proxy import mitm_speedups

# Before any of our modules imports mitmproxy's layers (see mitm_speedups).
mitm_speedups.apply()
