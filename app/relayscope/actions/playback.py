"""Playback: recorded calls served back as a provider — which recording answers which request.

Pure logic: loading recorded calls, matching a new request against them (exact body, same
messages, or same last message), explaining near misses, and the timing of a replayed stream.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from relayscope.calls import facts as call_facts
from relayscope.calls.record import CallRecord
from relayscope.protocols.conversation import turns
from relayscope.store.call_store import CallStore

MATCH_MODES = ("exact", "messages", "last")
PLAYBACK_PROVIDER = "playback"
# Headers that describe one particular transfer, not the answer: never replayed.
_HOP_HEADERS = frozenset(
    {
        "content-length",
        "transfer-encoding",
        "connection",
        "content-encoding",
        "keep-alive",
        "date",
        "server",
    }
)


class PlaybackError(Exception):
    """The calls asked for cannot be served (none found, none with an answer)."""


@dataclass(frozen=True, slots=True)
class Recording:
    """One recorded call, ready to be served again."""

    call: CallRecord
    chunks: tuple[dict[str, Any], ...]

    @property
    def id(self) -> str:
        return str(self.call["id"])

    @property
    def endpoint(self) -> str:
        return str(self.call.get("endpoint") or "other")

    @property
    def streamed(self) -> bool:
        return bool(self.chunks) and self.call.get("transport") != "websocket"

    def body(self) -> dict[str, Any] | None:
        return _json_object(self.call.get("request_body"))

    def status(self) -> int:
        return int(self.call.get("status") or 200)

    def headers(self) -> list[tuple[str, str]]:
        """The provider's response headers worth replaying (secrets were redacted on record)."""
        raw = self.call.get("response_headers")
        pairs = json.loads(raw) if isinstance(raw, str) and raw else []
        return [(str(k), str(v)) for k, v in pairs if str(k).lower() not in _HOP_HEADERS]

    def hid_usage(self) -> bool:
        """True if the proxy asked for usage the client had not, and kept it from the client:
        the replay must keep it from the client too."""
        return "usage capture" in str(self.call.get("quirks") or "")

    def cut(self) -> bool:
        """True if the recorded answer ended early, so the replay must end early too."""
        return self.call.get("state") == "interrupted"


@dataclass(frozen=True, slots=True)
class Miss:
    call_id: str
    reason: str
    score: int


@dataclass(slots=True)
class PlaybackSet:
    """The recordings a playback provider serves, and how strictly it matches requests."""

    recordings: list[Recording]
    match: str = "messages"
    speed: float = 1.0
    _served: dict[str, int] = field(default_factory=dict)

    def find(self, endpoint: str, body: dict[str, Any] | None) -> Recording | list[Miss]:
        """The recording that answers this request, or the closest misses (best first).

        Identical requests are answered by successive recordings (a 429 then its retry's
        200, as they were recorded), staying on the last one once all were served.
        """
        key = _key(self.match, endpoint, body)
        candidates = [
            r
            for r in self.recordings
            if key is not None and _key(self.match, r.endpoint, r.body()) == key
        ]
        if not candidates:
            return self._misses(endpoint, body)
        index = self._served.get(key or "", 0)
        self._served[key or ""] = index + 1
        return candidates[min(index, len(candidates) - 1)]

    def _misses(self, endpoint: str, body: dict[str, Any] | None) -> list[Miss]:
        misses = [_explain(r, endpoint, body) for r in self.recordings]
        return sorted(misses, key=lambda m: -m.score)[:3]


def load_recordings(
    store: CallStore, *, call_ids: Sequence[str] = (), session_id: str | None = None
) -> list[Recording]:
    """Recorded calls by id (prefixes allowed) and/or every call of a Codex session."""
    ids = [store.resolve_id(call_id) for call_id in call_ids]
    if session_id:
        ids += [call_id for call_id in store.session_call_ids(session_id) if call_id not in ids]
    if not ids:
        raise PlaybackError("No recorded calls to play back: name some with --call or --session.")
    recordings = []
    for call in store.iter_calls(ids):
        if call_facts.is_live(call):
            continue
        recordings.append(Recording(call, tuple(store.chunks(call["id"]))))
    if not recordings:
        raise PlaybackError("None of those calls has a finished answer to play back.")
    return recordings


def delays(chunks: Sequence[dict[str, Any]], speed: float) -> list[float]:
    """Seconds to wait before each chunk so the replay keeps the recorded rhythm."""
    previous = 0.0
    out = []
    for chunk in chunks:
        t_ms = float(chunk.get("t_ms") or 0.0)
        out.append(max(0.0, t_ms - previous) / 1000 / speed)
        previous = t_ms
    return out


def _json_object(body: object) -> dict[str, Any] | None:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str) or not body:
        return None
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _conversation(body: dict[str, Any]) -> object:
    return body.get("messages", body.get("input", body.get("prompt")))


def _last_user(endpoint: str, body: dict[str, Any]) -> str:
    said = [t.text for t in turns(endpoint, json.dumps(body)) if t.role == "user"]
    return said[-1] if said else ""


def _key(match: str, endpoint: str, body: dict[str, Any] | None) -> str | None:
    if body is None:
        return None
    stream = bool(body.get("stream"))
    if match == "exact":
        return f"{endpoint}|{_canonical(body)}"
    if match == "last":
        return f"{endpoint}|{body.get('model')}|{stream}|{_last_user(endpoint, body)}"
    return f"{endpoint}|{body.get('model')}|{stream}|{_canonical(_conversation(body))}"


def _explain(recording: Recording, endpoint: str, body: dict[str, Any] | None) -> Miss:
    """Why a recording does not answer this request, and how close it came."""
    theirs = recording.body() or {}
    mine = body or {}
    if recording.endpoint != endpoint:
        return Miss(recording.id, f"another endpoint ({recording.endpoint})", 0)
    if theirs.get("model") != mine.get("model"):
        return Miss(recording.id, f"another model ({theirs.get('model')!r})", 1)
    if bool(theirs.get("stream")) != bool(mine.get("stream")):
        return Miss(recording.id, f"stream={bool(theirs.get('stream'))} when recorded", 2)
    a, b = _conversation(theirs), _conversation(mine)
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return Miss(recording.id, f"{len(a)} messages when recorded, {len(b)} now", 3)
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            if _canonical(x) != _canonical(y):
                return Miss(recording.id, f"message #{index} differs", 4)
    elif _canonical(a) != _canonical(b):
        return Miss(recording.id, "the prompt differs", 4)
    changed = sorted(k for k in set(theirs) | set(mine) if theirs.get(k) != mine.get(k))
    return Miss(recording.id, f"parameters differ: {', '.join(changed)}", 5)
