"""One streaming chat request to a demo model through the proxy (the welcome page's button):
the app's widgets send nothing over HTTP themselves."""

from __future__ import annotations

import httpx

from relayscope.routing.snippets import DEMO_MODEL

__all__ = ["DEMO_PROMPT", "send_demo_call"]

DEMO_PROMPT = "Hello, Relayscope! What do you record?"


def send_demo_call(base_url: str, model: str = DEMO_MODEL, timeout: float = 30.0) -> str:
    """A streaming chat request to a demo model through the proxy (blocking).

    Returns an empty string on success, else a sentence saying what went wrong.
    """
    body = {
        "model": model,
        "stream": True,
        "messages": [{"role": "user", "content": DEMO_PROMPT}],
    }
    url = base_url.rstrip("/") + "/chat/completions"
    try:
        with (
            httpx.Client(timeout=timeout) as client,
            client.stream("POST", url, json=body, headers={"authorization": "Bearer any"}) as reply,
        ):
            if reply.status_code != 200:
                reply.read()
                return f"The proxy answered {reply.status_code}: {_error_text(reply)}"
            for _ in reply.iter_lines():
                pass
    except httpx.HTTPError as exc:
        return f"Could not reach the proxy at {base_url} ({exc}). Is it listening?"
    return ""


def _error_text(reply: httpx.Response) -> str:
    try:
        return str(reply.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return reply.text[:200]
