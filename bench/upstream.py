"""The benchmark's upstream: the tests' fake provider, run in its own process.

    python -m bench.upstream          # prints "PORT <n>", serves until stdin closes

The answer is chosen by the model name, so that every proxy (LiteLLM too, which forwards
neither unknown headers nor query strings) can ask for it:

- ``fake-1``: the fake's short default answer (a ~400-byte JSON body when not streamed);
- ``fake-w<N>``: exactly N words, so a stream has N + 3 events (role, N words, finish, DONE);
- ``fake-w<N>-d<M>``: the same with M milliseconds between events.

It runs in a separate process so that the load generator and the upstream never share a GIL.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Mapping
from typing import Any, override

from tests.fakes.provider import FakeProvider, _Answer

MODEL_RE = re.compile(r"fake-w(\d+)(?:-d(\d+))?")


_WORDS = ("lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit")


def answer_text(words: int) -> str:
    """The text of a `fake-w<words>` answer (varied: LiteLLM aborts streams that repeat)."""
    return " ".join(_WORDS[i % len(_WORDS)] for i in range(words))


def stream_events(model: str) -> int | None:
    """How many SSE events a streamed answer for `model` has (None for `fake-1`)."""
    match = MODEL_RE.fullmatch(model.rsplit("/", 1)[-1])
    return int(match.group(1)) + 3 if match else None


class BenchProvider(FakeProvider):
    """FakeProvider whose answer length and pacing come from the model name."""

    @override
    def answer_for(self, model: str, prompt: str) -> str:
        match = MODEL_RE.fullmatch(model)
        if match is None:
            return super().answer_for(model, prompt)
        return answer_text(int(match.group(1)))

    @override
    def _responses_answer(self, model: str, body: Mapping[str, Any]) -> _Answer:
        # Text of the named length for a Responses request too, whatever its last item is
        # (the fake would echo a tool's output: an agent session's answers would grow).
        match = MODEL_RE.fullmatch(model)
        if match is None:
            return super()._responses_answer(model, body)
        return _Answer(answer_text(int(match.group(1))), [])

    @override
    def _delay(self, exchange: Any, scenario: str | None) -> float:
        try:
            model = str(exchange.request.json().get("model", ""))
        except ValueError:
            model = ""
        match = MODEL_RE.fullmatch(model)
        if match is not None and match.group(2):
            return int(match.group(2)) / 1000
        return super()._delay(exchange, scenario)


def main() -> None:
    with BenchProvider(name="bench") as provider:
        stop = threading.Event()

        def forget() -> None:  # the fake keeps every request and event; the bench needs none
            while not stop.wait(1.0):
                provider.clear()

        threading.Thread(target=forget, daemon=True).start()
        print(f"PORT {provider.port}", flush=True)
        sys.stdin.read()  # until the parent closes our stdin (or dies)
        stop.set()


if __name__ == "__main__":
    main()
