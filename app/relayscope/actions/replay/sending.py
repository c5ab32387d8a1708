"""Sending a request through the proxy and reading its answer (a 429/503 waited out once)."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace

import httpx

from relayscope.actions.replay.request import ReplayRequest
from relayscope.actions.replay.results import OnEvent, Progress, ReplayEvent, ReplayResult, emit
from relayscope.protocols.openai_format import StreamAssembler, assemble_body
from relayscope.protocols.sse import SSEDecoder

DEFAULT_BASE_URL = "http://127.0.0.1:8787/v1"


#: Retry-After waits longer than this are reported, never waited out.
MAX_RETRY_WAIT = 120.0
_RETRYABLE = frozenset({429, 503})


def send(
    request: ReplayRequest,
    base_url: str = DEFAULT_BASE_URL,
    *,
    on_event: OnEvent | None = None,
    cancel: threading.Event | None = None,
    timeout: float = 600.0,
    wait_for_retry_after: bool = False,
    max_retry_wait: float = MAX_RETRY_WAIT,
    transport: httpx.AsyncBaseTransport | None = None,
) -> ReplayResult:
    """Send ``request`` through the proxy at ``base_url`` and read the whole answer.

    Blocks; call it from a worker thread, never from a running event loop. ``on_event``
    gets each event as it happens, on this thread. Setting ``cancel`` stops the request at
    once (the proxy records the call as interrupted). A 429/503 is never retried unless
    ``wait_for_retry_after``: then its Retry-After (up to ``max_retry_wait`` seconds) is
    waited out once and the request resent under a new call id. Network failures do not
    raise: they come back as a result with ``status`` None and an ``error``.
    """

    async def run() -> ReplayResult:
        async with async_client(timeout, transport) as client:
            return await send_async(
                request,
                base_url,
                client=client,
                on_event=on_event,
                cancel=cancel,
                wait_for_retry_after=wait_for_retry_after,
                max_retry_wait=max_retry_wait,
            )

    return asyncio.run(run())


def async_client(
    timeout: float = 600.0, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """The client `send_async` expects: no system proxy, no connection limit."""
    # trust_env=False: a system HTTP(S)_PROXY must never catch calls to our loopback proxy.
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=10.0),
        transport=transport,
        trust_env=False,
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=20),
    )


async def send_async(
    request: ReplayRequest,
    base_url: str,
    *,
    client: httpx.AsyncClient,
    on_event: OnEvent | None = None,
    cancel: threading.Event | None = None,
    wait_for_retry_after: bool = False,
    max_retry_wait: float = MAX_RETRY_WAIT,
) -> ReplayResult:
    """`send` on a caller's event loop and client (`compare` runs several at once)."""
    result = await _attempt(request, base_url, client, on_event, cancel)
    wait = result.retry_after
    if (
        wait_for_retry_after
        and result.status in _RETRYABLE
        and wait is not None
        and wait <= max_retry_wait
    ):
        emit(on_event, ReplayEvent("retry_wait", request.call_id, 0.0, retry_after=wait))
        if await _sleep(wait, cancel):
            again = await _attempt(request.renewed(), base_url, client, on_event, cancel)
            result = replace(again, previous=result)
        else:
            result = replace(result, cancelled=True)
    emit(on_event, ReplayEvent("done", result.call_id, result.elapsed_ms, result=result))
    return result


async def _attempt(
    request: ReplayRequest,
    base_url: str,
    client: httpx.AsyncClient,
    on_event: OnEvent | None,
    cancel: threading.Event | None,
) -> ReplayResult:
    progress = Progress(request, on_event)
    task = asyncio.ensure_future(_exchange(progress, base_url, client))
    while not task.done():
        if cancel is not None and cancel.is_set():
            task.cancel()
            break
        await asyncio.wait({task}, timeout=0.05)
    try:
        error = await task
    except asyncio.CancelledError:
        return progress.result("Cancelled.", cancelled=True)
    return progress.result(error)


async def _exchange(progress: Progress, base_url: str, client: httpx.AsyncClient) -> str | None:
    """Run one HTTP exchange into ``progress``; a network failure comes back in words."""
    request = progress.request
    url = request.url(base_url)
    try:
        async with client.stream(
            request.method, url, headers=request.wire_headers(), content=request.body or None
        ) as response:
            progress.status = response.status_code
            progress.headers = tuple(response.headers.multi_items())
            head_ms = progress.first_byte_ms = progress.ms()
            emit(
                progress.on_event,
                ReplayEvent("response", request.call_id, head_ms, status=response.status_code),
            )
            if "text/event-stream" in response.headers.get("content-type", ""):
                progress.assembler = StreamAssembler(request.endpoint)
                decoder = SSEDecoder()
                async for data in response.aiter_bytes():
                    for event in decoder.feed(data):
                        progress.chunk(event)
                tail = decoder.flush()
                if tail is not None and (tail.data is not None or tail.event is not None):
                    progress.chunk(tail)
                return None
            progress.body = await response.aread()
            if response.status_code < 400:  # the whole output arrives with the body
                progress.ttft_ms = head_ms
            answer = assemble_body(request.endpoint, progress.body)
            emit(
                progress.on_event,
                ReplayEvent(
                    "body",
                    request.call_id,
                    progress.ms(),
                    status=response.status_code,
                    data=progress.body.decode("utf-8", "replace"),
                    text=answer.output_text,
                ),
            )
            return None
    except httpx.ConnectError as exc:
        return f"Could not connect to Relayscope at {base_url} ({exc or 'refused'})."
    except httpx.TimeoutException:
        return f"Timed out after {progress.ms() / 1000:.1f} s waiting for {url}."
    except httpx.HTTPError as exc:
        return f"The connection to {url} failed: {exc or type(exc).__name__}."


async def _sleep(seconds: float, cancel: threading.Event | None) -> bool:
    """Wait ``seconds``; False if ``cancel`` was set meanwhile."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if cancel is not None and cancel.is_set():
            return False
        await asyncio.sleep(min(left, 0.05))
    return not (cancel is not None and cancel.is_set())
