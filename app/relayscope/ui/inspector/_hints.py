"""What went wrong with a call and what to do about it, in words (pure, no Qt)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from relayscope.calls.record import CallRecord
from relayscope.ui.inspector._json_text import as_text, header


@dataclass(frozen=True, slots=True)
class ErrorSummary:
    title: str  # "429 Too Many Requests · rate_limit_exceeded"
    message: str  # what the provider (or Relayscope) said
    hint: str  # what to do, or ""


def has_error(row: CallRecord) -> bool:
    state = row.get("state")
    return (
        bool(row.get("error"))
        or state in ("error", "interrupted")
        or (row.get("status") or 0) >= 400
    )


def _body_error(row: CallRecord) -> dict[str, Any]:
    try:
        obj = json.loads(as_text(row.get("response_body")) or "null")
    except ValueError:
        return {}
    error = obj.get("error") if isinstance(obj, dict) else None
    if isinstance(error, str):
        return {"message": error}
    return error if isinstance(error, dict) else {}


def error_summary(row: CallRecord) -> ErrorSummary:
    status = row.get("status")
    state = row.get("state")
    body = _body_error(row)
    code = str(body.get("code") or body.get("type") or "")
    if state == "interrupted":
        title = "Interrupted"
    elif status and status >= 400:
        try:
            title = f"{status} {HTTPStatus(status).phrase}"
        except ValueError:
            title = f"HTTP {status}"
    elif status:
        title = "The provider reported an error"  # e.g. an error event inside a 200 stream
    else:
        title = "Failed"
    if code:
        title += f" · {code}"
    message = str(row.get("error") or body.get("message") or "")
    if not message and not row.get("response_body") and status:
        message = "The provider answered with an error status and no body."
    return ErrorSummary(title, message, _hint(row, status, state, code, message))


def _hint(row: CallRecord, status: int | None, state: object, code: str, message: str) -> str:
    text = f"{code} {message}".lower()
    if state == "interrupted":
        return (
            "What arrived before the cut is kept (see the Stream tab). "
            "Replay the call to try again."
        )
    if "timeout" in text or status == 504:
        return (
            "The provider sent nothing in time. Replay it, or raise this provider's timeout "
            "in the config if it is just slow."
        )
    if "unreachable" in text or status == 502:
        return (
            "Relayscope could not reach the provider. Check its base_url in Providers and "
            "that your network can reach it."
        )
    if "model_not_found" in text or status == 404:
        return (
            "Check the model name and which provider it was routed to (Providers); "
            "the provider may not offer this model."
        )
    if status == 429:
        retry = header(row.get("response_headers"), "retry-after")
        wait = (
            f"The provider asks to wait {retry} s (Retry-After), then " if retry else "Wait, then "
        )
        return wait + "replay. If it keeps happening, lower the request rate or switch provider."
    if status == 401:
        return "The provider rejected the API key: check this provider's key in Providers."
    if status == 402 or "quota" in text or "insufficient" in text:
        return "The account's balance or quota is used up: top it up, or route to another provider."
    if status == 403:
        return "The key may not use this model or endpoint: check the provider's permissions."
    if status == 413:
        return "The request is too large: shorten the conversation or send fewer tools."
    if "stream" in text and status == 400:
        return "This provider requires stream=true for this model: turn streaming on."
    if status == 400:
        return "The provider rejected the request: check the model and parameters in Request."
    if (status and status >= 500) or "overloaded" in text:
        return "The provider failed. Replay in a moment; if it persists, check its status page."
    if status and status < 400:
        return "The answer stopped at the error; what arrived before it is in the Stream tab."
    return ""
