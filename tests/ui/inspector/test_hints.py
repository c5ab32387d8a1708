"""What the error banner says: a title, the message, and what to do."""

from __future__ import annotations

import json
from typing import Any

import pytest

from relayscope.ui.inspector._hints import error_summary, has_error


def row(status: int | None, state: str, error: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"status": status, "state": state, "error": error, **fields}


def test_an_ordinary_call_has_no_error() -> None:
    assert not has_error(row(200, "complete"))
    assert has_error(row(200, "complete", "upstream overloaded"))
    assert has_error(row(500, "complete"))
    assert has_error(row(None, "interrupted"))


def test_a_provider_error_body_gives_the_code_and_message() -> None:
    body = json.dumps({"error": {"message": "The model does not exist", "code": "model_not_found"}})
    summary = error_summary(row(404, "error", response_body=body))
    assert summary.title == "404 Not Found · model_not_found"
    assert summary.message == "The model does not exist"
    assert "Check the model name" in summary.hint


def test_retry_after_is_quoted_when_the_provider_sent_it() -> None:
    with_header = row(429, "error", "slow down", response_headers='[["Retry-After", "7"]]')
    assert error_summary(with_header).hint.startswith("The provider asks to wait 7 s")
    assert error_summary(row(429, "error", "slow down")).hint.startswith("Wait, then replay")


@pytest.mark.parametrize(
    ("call", "title", "hint"),
    [
        (
            row(504, "error", "upstream_timeout: no answer within 60 s."),
            "504 Gateway Timeout",
            "sent nothing in time",
        ),
        (
            row(502, "error", "upstream_unreachable: connection refused"),
            "502 Bad Gateway",
            "could not reach the provider",
        ),
        (row(401, "error", "Invalid API key provided"), "401 Unauthorized", "rejected the API key"),
        (row(402, "error", "insufficient quota"), "402 Payment Required", "balance or quota"),
        (row(400, "error", "GPT models require stream=true"), "400 Bad Request", "stream=true"),
        (
            row(200, "interrupted", "Interrupted: the client disconnected."),
            "Interrupted",
            "What arrived before the cut is kept",
        ),
        (
            row(200, "complete", "upstream overloaded"),
            "The provider reported an error",
            "Replay in a moment",
        ),
        (row(None, "error", "boom"), "Failed", ""),
    ],
)
def test_titles_and_hints(call: dict[str, Any], title: str, hint: str) -> None:
    summary = error_summary(call)
    assert summary.title == title
    assert hint in summary.hint
    assert summary.message == call["error"]


def test_an_error_status_without_a_body_still_says_something() -> None:
    summary = error_summary(row(503, "error"))
    assert summary.title == "503 Service Unavailable"
    assert summary.message == "The provider answered with an error status and no body."
