from __future__ import annotations

import json

from relayscope.actions.playback import Miss, PlaybackSet, Recording, delays


def recording(call_id: str, body: dict[str, object], **call: object) -> Recording:
    row = {
        "id": call_id,
        "endpoint": "chat.completions",
        "request_body": json.dumps(body),
        "status": 200,
        "state": "complete",
        **call,
    }
    return Recording(row, ())


BODY = {
    "model": "m",
    "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
    "temperature": 0.2,
}


def test_messages_mode_ignores_parameters_but_not_the_conversation() -> None:
    playback = PlaybackSet([recording("a", BODY)], match="messages")
    assert isinstance(playback.find("chat.completions", {**BODY, "temperature": 1}), Recording)
    misses = playback.find("chat.completions", {**BODY, "messages": [BODY["messages"][0]]})
    assert misses == [Miss("a", "2 messages when recorded, 1 now", 3)]


def test_exact_mode_names_the_parameters_that_differ() -> None:
    playback = PlaybackSet([recording("a", BODY)], match="exact")
    assert isinstance(playback.find("chat.completions", dict(reversed(BODY.items()))), Recording)
    (miss,) = playback.find("chat.completions", {**BODY, "temperature": 1})  # type: ignore[misc]
    assert miss.reason == "parameters differ: temperature"


def test_last_mode_only_needs_the_last_user_message() -> None:
    playback = PlaybackSet([recording("a", BODY)], match="last")
    other_history = {**BODY, "messages": [{"role": "user", "content": "hi"}]}
    assert isinstance(playback.find("chat.completions", other_history), Recording)


def test_identical_requests_get_successive_recordings_then_stay_on_the_last() -> None:
    playback = PlaybackSet([recording("429", BODY, status=429), recording("200", BODY)])
    served = [playback.find("chat.completions", BODY) for _ in range(3)]
    assert [r.id for r in served if isinstance(r, Recording)] == ["429", "200", "200"]


def test_misses_are_ranked_closest_first() -> None:
    playback = PlaybackSet(
        [
            recording("other-model", {**BODY, "model": "x"}),
            recording("streamed", {**BODY, "stream": True}),
            recording("embed", BODY, endpoint="embeddings"),
        ]
    )
    misses = playback.find("chat.completions", {**BODY, "messages": []})
    assert isinstance(misses, list)
    assert [m.call_id for m in misses] == ["streamed", "other-model", "embed"]


def test_delays_follow_the_recorded_gaps_and_speed() -> None:
    chunks = [{"t_ms": 100.0}, {"t_ms": 150.0}, {"t_ms": 400.0}]
    assert delays(chunks, 1.0) == [0.1, 0.05, 0.25]
    assert delays(chunks, 2.0) == [0.05, 0.025, 0.125]
