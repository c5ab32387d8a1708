"""CallRecord names every column of `calls`, with the vocabularies the recorder writes."""

from __future__ import annotations

from pathlib import Path

from relayscope.calls.record import (
    CALL_RECORD_KEYS,
    ENDPOINT_NAMES,
    STATE_NAMES,
    TRANSPORT_NAMES,
    CallState,
    Endpoint,
    Transport,
)
from relayscope.protocols.openai_format import endpoint_of
from relayscope.store.call_store import CallStore


def test_call_record_names_every_column_of_calls(tmp_path: Path) -> None:
    store = CallStore(tmp_path / "relayscope.db")
    try:
        columns = {c.name for c in store.db["calls"].columns}  # type: ignore[union-attr]
    finally:
        store.close()
    assert columns == CALL_RECORD_KEYS


def test_the_enums_and_the_literal_types_agree() -> None:
    assert {s.value for s in CallState} == STATE_NAMES
    assert {e.value for e in Endpoint} == ENDPOINT_NAMES
    assert {t.value for t in Transport} == TRANSPORT_NAMES


def test_every_endpoint_the_proxy_names_is_an_endpoint() -> None:
    paths = (
        "/v1/chat/completions",
        "/v1/responses",
        "/v1/messages",
        "/v1/messages/count_tokens",
        "/v1/completions",
        "/v1/embeddings",
        "/v1/models",
        "/v1/threads/t/messages",
        "/health",
    )
    assert {endpoint_of(p) for p in paths} == ENDPOINT_NAMES
