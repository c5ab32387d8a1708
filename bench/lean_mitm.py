"""A lean mitmproxy reverse proxy that only streams: the floor for Relayscope's architecture.

    python -m bench.lean_mitm --upstream http://127.0.0.1:PORT --port P --confdir DIR

The same `Master` and the same four core addons as `relayscope.proxy.worker`, the same lazy
connection strategy and the same two mitmproxy checks switched off
(`relayscope.proxy.mitm_speedups`), plus one addon that streams every response. Everything
Relayscope adds on top of this (routing, recording, the recording process) is what the
benchmark charges to it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

# First, as in the worker: switches off the two debug-only checks (relayscope.proxy.mitm_speedups).
import relayscope.proxy  # noqa: F401

# isort: split
from mitmproxy import http, master, options
from mitmproxy.addons import core, next_layer, proxyserver, tlsconfig


class StreamAll:
    def responseheaders(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None:
            flow.response.stream = True


async def serve(upstream: str, port: int, confdir: str) -> None:
    opts = options.Options(confdir=confdir)
    mitm = master.Master(opts, with_termlog=False)
    mitm.addons.add(
        core.Core(), proxyserver.Proxyserver(), next_layer.NextLayer(), tlsconfig.TlsConfig()
    )
    opts.update(
        listen_host="127.0.0.1",
        listen_port=port,
        mode=[f"reverse:{upstream}"],
        connection_strategy="lazy",
    )
    mitm.addons.add(StreamAll())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, mitm.shutdown)
    await mitm.run()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--confdir", required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.upstream, args.port, args.confdir))


if __name__ == "__main__":
    main()
