"""A fake OpenAI-format LLM provider on a real loopback socket, for tests and benchmarks.

It imitates the gateways described in ``/work/shared/seeds`` (Constreet, ezmodel, nextapi,
New API, real200): the same JSON shapes, the same SSE framing (one HTTP chunk per event,
``data: {json}`` plus a blank line, ``data: [DONE]``), the same error format
(``{"error": {"message", "type", "code", "param"}}``) and their quirks (Constreet's
"GPT models must stream" rule, usage on the finish chunk), plus the Responses API as the
Codex CLI uses it. Failures are chosen by model name (or by the ``x-fake-scenario`` request
header), so a proxy that forwards bodies unchanged can be driven into every failure mode.

The server is an asyncio event loop in a daemon thread with a minimal HTTP/1.1
implementation (keep-alive, ``Content-Length`` or chunked request bodies,
``Expect: 100-continue``). It never writes to stdout; set ``FAKE_PROVIDER_DEBUG=1`` to get
diagnostics on stderr.

Example::

    with FakeProvider(name="acme", usage_on_finish=True) as fake:
        client = OpenAI(base_url=fake.base_url, api_key="x", max_retries=0)
        ...
        assert fake.requests[-1].json()["model"] == "gpt-5.2"
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email
import email.policy
import fnmatch
import hashlib
import json
import os
import re
import struct
import sys
import threading
import time
import uuid
import zlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Literal, NamedTuple, Self

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

import brotli  # type: ignore[import-untyped]
import wsproto.connection as wsconnection
import wsproto.events as wsevents

from tests.fakes import messages as fake_messages

__all__ = [
    "ERRORS",
    "SCENARIOS",
    "STALL_SECONDS",
    "ErrorSpec",
    "FakeProvider",
    "ReceivedRequest",
    "split_words",
]

# --------------------------------------------------------------------------- constants


class ErrorSpec(NamedTuple):
    """How the fake provider describes one HTTP error status (seed 001/004 types and codes)."""

    type: str
    code: str
    param: str | None
    message: str


ERRORS: Final[Mapping[int, ErrorSpec]] = {
    400: ErrorSpec(
        "invalid_request_error", "invalid_request_error", None, "请求参数错误 (bad request)"
    ),
    401: ErrorSpec(
        "invalid_request_error", "invalid_api_key", "authorization", "Invalid API key provided"
    ),
    402: ErrorSpec(
        "insufficient_quota", "insufficient_quota", None, "余额或额度不足 (insufficient quota)"
    ),
    403: ErrorSpec("access_denied", "access_denied", None, "访问被拒绝 (access denied)"),
    404: ErrorSpec("not_found", "model_not_found", "model", "The model does not exist"),
    429: ErrorSpec(
        "rate_limit_exceeded", "rate_limit_exceeded", None, "请求频率超限 (rate limit exceeded)"
    ),
    500: ErrorSpec("api_error", "api_error", None, "服务器内部错误 (internal server error)"),
    503: ErrorSpec(
        "service_unavailable", "service_unavailable", None, "服务暂不可用 (service unavailable)"
    ),
}
"""Error table of the ``fail-NNN`` models (messages get ``[<provider name>]`` prepended)."""

SCENARIOS: Final[frozenset[str]] = frozenset(
    {
        *(f"fail-{status}" for status in ERRORS),
        "cut-stream",
        "malformed-chunk",
        "stall",
        "stall-headers",
        "error-in-stream",
        "gzip-stream",
        "br-stream",
        "zstd-stream",
        "garbage",
        "wrong-content-type",
        "keepalive",
        "slow",
        "linger",
    }
)
"""Model names (or ``x-fake-scenario`` header values) that trigger a special behaviour."""

STALL_SECONDS: Final = 30.0
"""How long ``stall`` / ``stall-headers`` hang (unless the client leaves or the server stops)."""

CUT_AFTER: Final = 5
"""``cut-stream`` sends this many content events before dropping the connection."""

SLOW_DELAY: Final = 0.1
"""Delay between events for the ``slow`` scenario."""

LINGER_SECONDS: Final = 1.0
"""``linger`` keeps the body open this long after the stream's last event (as some gateways
do), so a client that stops reading at ``[DONE]`` closes the connection first."""

STREAM_REQUIRED_MESSAGE: Final = "GPT models require stream=true (非流式请求将返回错误)"
GARBAGE: Final = b"NOT HTTP AT ALL\r\n"
KEEPALIVE_COMMENT: Final = b": keep-alive\n\n"
MALFORMED_DATA: Final = b"data: {not json"
STREAM_ERROR: Final[Mapping[str, str]] = {
    "message": "upstream overloaded",
    "type": "server_error",
    "code": "overloaded",
}

_LOREM: Final = (
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
)
_REASONS: Final[Mapping[int, str]] = {
    100: "Continue",
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
_FAIL_RE: Final = re.compile(r"fail-([45]\d\d)")
_WORD_RE: Final = re.compile(r"\s*\S+")
_UNSAFE_ID_RE: Final = re.compile(r"[^A-Za-z0-9_.-]")
_HEAD_LIMIT: Final = 1 << 20
_EMBEDDING_DIMS: Final = 8

_Kind = Literal["chat", "responses", "completions", "messages"]
Endpoint = Literal["chat", "responses", "completions", "embeddings"]

# --------------------------------------------------------------------------- helpers


def _dumps(obj: Any) -> bytes:
    """Compact JSON, UTF-8 (as the gateways send it)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def _data_event(obj: Any) -> bytes:
    return b"data: " + _dumps(obj) + b"\n\n"


def split_words(text: str) -> list[str]:
    """Split ``text`` into stream pieces, one per word, whitespace kept on the piece's left.

    ``"".join(split_words(t)) == t`` always holds; trailing whitespace is attached to the last
    piece. An empty (or all-whitespace) text gives one piece (possibly ``""``).
    """
    pieces = _WORD_RE.findall(text)
    rest = text[sum(map(len, pieces)) :]
    if not pieces:
        return [text]
    if rest:
        pieces[-1] += rest
    return pieces


def _count_words(text: str) -> int:
    return len(text.split())


def _content_text(content: Any) -> str:
    """Text of a message ``content``: a string, or a list of parts carrying ``text``."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        ]
        return " ".join(texts)
    return ""


def _thirds(text: str) -> list[str]:
    """Split a string in three non-empty pieces (fewer when it is shorter than 3)."""
    n = len(text)
    if n < 3:
        return [text]
    a, b = n // 3, 2 * n // 3
    return [text[:a], text[a:b], text[b:]]


RUN_PREFIX = "RUN:"


def _last_user_text(inputs: list[dict[str, Any]]) -> str:
    for item in reversed(inputs):
        if item.get("role") == "user" and item.get("type", "message") == "message":
            return _content_text(item.get("content"))
    return ""


def _example_arguments(parameters: Any) -> str:
    """``{"<first required property>": "test"}`` for a JSON schema (``{}`` if none)."""
    if not isinstance(parameters, dict):
        return "{}"
    required = parameters.get("required")
    properties = parameters.get("properties")
    name: str | None = None
    if isinstance(required, list) and required and isinstance(required[0], str):
        name = required[0]
    elif isinstance(properties, dict) and properties:
        name = next(iter(properties))
    return json.dumps({name: "test"} if name else {}, ensure_ascii=False)


def _example_value(schema: Any, defs: Mapping[str, Any]) -> Any:
    """A value that validates against a (strict, structured-outputs) JSON schema."""
    if not isinstance(schema, dict):
        return None
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return _example_value(defs.get(ref.rsplit("/", 1)[-1]), defs)
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return _example_value(schema[key][0], defs)
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) and kind else kind
    if kind == "object":
        properties = schema.get("properties") or {}
        return {name: _example_value(sub, defs) for name, sub in properties.items()}
    if kind == "array":
        return [_example_value(schema.get("items"), defs)]
    return {"string": "test", "integer": 1, "number": 1.5, "boolean": True}.get(str(kind))


def _structured_text(response_format: Any) -> str | None:
    """Structured outputs: the JSON answer for a ``json_schema`` response format, else None.

    Chat puts the schema in ``response_format.json_schema.schema``, Responses in
    ``text.format.schema``.
    """
    if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
        return None
    schema = response_format.get("schema")
    if schema is None:
        schema = (response_format.get("json_schema") or {}).get("schema")
    defs = schema.get("$defs", {}) if isinstance(schema, dict) else {}
    return json.dumps(_example_value(schema, defs), ensure_ascii=False)


def _new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:24]


class _Call(NamedTuple):
    call_id: str
    name: str
    arguments: str


@dataclass(slots=True)
class _Answer:
    """What the model 'says': text, or tool calls."""

    text: str | None
    calls: list[_Call]

    @property
    def pieces(self) -> list[str]:
        """Stream pieces: words of the text, or the argument fragments of all calls."""
        if self.text is not None:
            return split_words(self.text)
        return [frag for call in self.calls for frag in _thirds(call.arguments)]


class _Abort(Exception):
    """The connection must be dropped without further writes."""


# --------------------------------------------------------------------------- public types


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    """One HTTP request as the fake provider received it."""

    method: str
    path: str
    """The request target, query string included (e.g. ``/v1/chat/completions``)."""
    headers: dict[str, str]
    """Header names lower-cased; repeated headers joined with ``", "``."""
    body: bytes
    """As it arrived on the wire (still compressed if it came with a Content-Encoding)."""

    def json(self) -> Any:
        """The body decoded as JSON (raises ``ValueError`` if it is not JSON), after undoing
        its Content-Encoding (gzip, deflate, br, zstd) as providers that accept them do."""
        return json.loads(self.content())

    def content(self) -> bytes:
        """The body with its Content-Encoding undone (ValueError if it does not decode)."""
        encoding = self.headers.get("content-encoding", "").strip().lower()
        if encoding in ("", "identity"):
            return self.body
        try:
            return _decompress(self.body, encoding)
        except Exception as exc:  # zlib.error, brotli.error, zstd.ZstdError
            raise ValueError(f"the {encoding} body does not decode: {exc}") from exc


class _Exchange:
    """One request/response on a connection."""

    __slots__ = ("index", "keep_alive", "reader", "request", "writer")

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: ReceivedRequest,
        index: int,
        keep_alive: bool,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.request = request
        self.index = index
        self.keep_alive = keep_alive

    def gone(self) -> bool:
        """True once the client closed its side or the transport is closing."""
        return self.reader.at_eof() or self.writer.transport.is_closing()


class FakeProvider:
    """A fake OpenAI-compatible provider served on ``127.0.0.1:<ephemeral port>``.

    Endpoints: ``POST /v1/chat/completions``, ``POST /v1/responses``, ``POST /v1/completions``,
    ``POST /v1/embeddings``, ``GET /v1/models`` and ``GET /v1/models/{id}``; anything else is
    a 404 in the OpenAI error format.

    Args:
        name: provider name; appears in answers, ``owned_by``, error messages and the
            ``x-fake-provider`` / ``x-request-id`` response headers.
        chunk_delay: seconds between stream events (a request header ``x-fake-delay``
            overrides it per request).
        stream_required: fnmatch globs of models that must stream on
            ``/v1/chat/completions`` (Constreet's rule): a non-stream request is a 400.
        usage_on_finish: with ``stream_options.include_usage``, put usage on the finish chunk
            (seed 000's example) instead of a separate ``choices: []`` chunk.
        words: if set, text answers are exactly this many words (for long streams).
        models: what ``GET /v1/models`` lists.
        api_key: if set, requests must carry ``Authorization: Bearer <api_key>``.
        cors: a permissive provider: every answer allows any origin
            (``Access-Control-Allow-Origin: *``) and a CORS preflight gets a 204.
        prompt_cache: report cached input tokens like a provider's prompt cache: the words
            of the leading model, instructions, tools and messages/items that equal the
            previous request's (``cached_tokens`` in the usage details; 0 otherwise).
        reasoning_tokens: report this many reasoning tokens in the usage details (chat's
            ``completion_tokens_details``, Responses' ``output_tokens_details``), as a
            reasoning model does (part of the output tokens, not an extra).
    """

    def __init__(
        self,
        *,
        name: str = "fake",
        chunk_delay: float = 0.0,
        stream_required: tuple[str, ...] = (),
        usage_on_finish: bool = False,
        words: int | None = None,
        models: tuple[str, ...] = ("fake-1", "gpt-5.2", "claude-sonnet-4-6"),
        api_key: str | None = None,
        websocket: bool = False,
        substitute_model: str | None = None,
        usage_scale: float = 1.0,
        cors: bool = False,
        prompt_cache: bool = False,
        reasoning_tokens: int = 0,
    ) -> None:
        self.name = name
        self.cors = cors
        self.prompt_cache = prompt_cache
        self.reasoning_tokens = reasoning_tokens
        self._cached_prefix: list[tuple[str, int]] = []
        self.websocket = websocket
        # A dishonest reseller: answers from another model, under- or over-reports usage.
        self.substitute_model = substitute_model
        self.usage_scale = usage_scale
        self.chunk_delay = chunk_delay
        self.stream_required = stream_required
        self.usage_on_finish = usage_on_finish
        self.words = words
        self.models = models
        self.api_key = api_key
        self.port = 0
        self.requests: list[ReceivedRequest] = []
        self._streams: list[list[bytes]] = []
        self._lock = threading.Lock()
        self._debug = bool(os.environ.get("FAKE_PROVIDER_DEBUG"))
        self._id_name = _UNSAFE_ID_RE.sub("_", name)
        self._fingerprint = "fp_" + hashlib.sha256(name.encode()).hexdigest()[:10]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self._routes: dict[tuple[str, str], Callable[[_Exchange], Awaitable[bool]]] = {
            ("POST", "/v1/chat/completions"): self._chat,
            ("POST", "/v1/messages"): self._messages,
            ("POST", "/v1/messages/count_tokens"): self._count_tokens,
            ("POST", "/v1/responses"): self._responses,
            ("POST", "/v1/completions"): self._completions,
            ("POST", "/v1/embeddings"): self._embeddings,
            ("POST", "/v1/audio/transcriptions"): self._transcription,
            ("POST", "/v1/files"): self._file_upload,
            ("GET", "/v1/models"): self._list_models,
        }

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1`` (valid after :meth:`start`)."""
        if not self.port:
            raise RuntimeError("FakeProvider is not started")
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> Self:
        """Bind an ephemeral loopback port and serve in a daemon thread; returns ``self``."""
        if self._thread is not None:
            raise RuntimeError("FakeProvider already started")
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(self._on_loop_error)
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(
                        self._on_connection, "127.0.0.1", 0, backlog=4096, limit=_HEAD_LIMIT
                    )
                )
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name=f"fake-provider-{self.name}", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = self._loop = None
            raise failure[0]
        self._log(f"listening on {self.base_url}")
        return self

    def stop(self) -> None:
        """Close the listener and drop every open connection (stalled ones too); idempotent."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):  # loop already gone
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=5)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        self._loop = self._thread = self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def _shutdown(self) -> None:
        server = self._server
        if server is not None:
            server.close()
        for writer in list(self._connections.values()):
            writer.transport.abort()
        # Every other task is a connection handler, tracked or not yet started (cancelling
        # an unstarted one makes asyncio close its transport).
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for _ in range(3):  # let connection_lost callbacks close the sockets
            await asyncio.sleep(0)
        if server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 0.5)

    # ------------------------------------------------------------------ inspection

    def sent_events(self, index: int = -1) -> list[bytes]:
        """The exact SSE event bytes sent for the ``index``-th streamed response.

        Streams are numbered in the order they started. Each item is one event as written
        (``b"data: {...}\\n\\n"``, keep-alive comments and malformed events included), before
        any gzip compression and without the HTTP chunk framing.
        """
        with self._lock:
            return list(self._streams[index])

    @property
    def stream_count(self) -> int:
        """How many streamed responses have been started."""
        with self._lock:
            return len(self._streams)

    def clear(self) -> None:
        """Forget recorded requests and streams (e.g. between benchmark rounds)."""
        with self._lock:
            self.requests.clear()
            self._streams.clear()

    def answer_for(self, model: str, prompt: str) -> str:
        """The text answer for ``model`` and the last user message ``prompt``."""
        if self.words is not None:
            return " ".join(_LOREM[i % len(_LOREM)] for i in range(self.words))
        return f"Hello from {self.name} ({model}). You said: {prompt}"

    def usage_for(
        self, body: Mapping[str, Any], endpoint: Endpoint | None = None
    ) -> dict[str, int]:
        """Token usage the provider reports for a request ``body``.

        ``endpoint`` is ``"chat"``, ``"responses"``, ``"completions"`` or ``"embeddings"``;
        by default it is inferred (``messages`` → chat, ``prompt`` → completions, ``input``
        → embeddings if it has ``encoding_format``/``dimensions`` or is not a list of items,
        else responses; a plain-string ``input`` counts as responses).

        Rule: ``prompt_tokens`` = whitespace-separated words in every message text (chat
        ``messages`` contents, Responses ``instructions`` + input message texts +
        ``function_call_output`` outputs, completions ``prompt``) + 3; ``completion_tokens``
        = number of stream pieces of the answer (words for text, argument fragments for tool
        calls — 3 per call); ``total_tokens`` = the sum. Embeddings: ``prompt_tokens`` =
        ``total_tokens`` = words of the inputs, ``completion_tokens`` = 0.

        The Responses API reports these as ``input_tokens`` / ``output_tokens`` /
        ``total_tokens``.
        """
        endpoint = endpoint or _infer_endpoint(body)
        model = str(body.get("model", ""))
        if endpoint == "embeddings":
            words = sum(_count_words(t) for t in _embedding_inputs(body))
            return {"prompt_tokens": words, "completion_tokens": 0, "total_tokens": words}
        if endpoint == "chat":
            messages = _dicts(body.get("messages"))
            prompt = sum(_count_words(_content_text(m.get("content"))) for m in messages)
            answer = self._chat_answer(model, body)
        elif endpoint == "responses":
            prompt = _responses_prompt_words(body)
            answer = self._responses_answer(model, body)
        else:
            text = _completion_prompt(body)
            prompt = _count_words(text)
            answer = _Answer(self.answer_for(model, text), [])
        prompt_tokens = prompt + 3
        completion_tokens = round(len(answer.pieces) * self.usage_scale)
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }

    def _cached_tokens(self, body: Mapping[str, Any]) -> int:
        """With ``prompt_cache``: words of the prefix this request shares with the previous."""
        if not self.prompt_cache:
            return 0
        segments = _cache_segments(body)
        with self._lock:
            previous, self._cached_prefix = self._cached_prefix, segments
        cached = 0
        for (a, words), (b, _) in zip(previous, segments, strict=False):
            if a != b:
                break
            cached += words
        return cached

    def embedding_for(self, text: str, dimensions: int = _EMBEDDING_DIMS) -> list[float]:
        """The deterministic embedding of ``text`` (values are multiples of 1/128)."""
        digest = b""
        counter = 0
        while len(digest) < dimensions:
            digest += hashlib.sha256(f"{self.name}\0{counter}\0{text}".encode()).digest()
            counter += 1
        return [(b - 128) / 128 for b in digest[:dimensions]]

    # ------------------------------------------------------------------ answers

    def _chat_answer(self, model: str, body: Mapping[str, Any]) -> _Answer:
        messages = _dicts(body.get("messages"))
        last = messages[-1] if messages else {}
        if last.get("role") == "tool":
            return _Answer(f"Done: {_content_text(last.get('content'))}", [])
        tools = [] if body.get("tool_choice") == "none" else _dicts(body.get("tools"))
        functions = [
            t["function"]
            for t in tools
            if isinstance(t.get("function"), dict) and isinstance(t["function"].get("name"), str)
        ]
        if functions:
            calls = [
                _Call(f"call_{n}", fn["name"], _example_arguments(fn.get("parameters")))
                for n, fn in enumerate(functions[:2], start=1)
            ]
            return _Answer(None, calls)
        structured = _structured_text(body.get("response_format"))
        if structured is not None:
            return _Answer(structured, [])
        prompt = ""
        for message in reversed(messages):
            if message.get("role") == "user":
                prompt = _content_text(message.get("content"))
                break
        return _Answer(self.answer_for(model, prompt), [])

    def _responses_answer(self, model: str, body: Mapping[str, Any]) -> _Answer:
        items = body.get("input")
        structured = _structured_text((body.get("text") or {}).get("format"))
        if isinstance(items, str):
            return _Answer(structured or self.answer_for(model, items), [])
        inputs = _dicts(items)
        last = inputs[-1] if inputs else {}
        if last.get("type") == "function_call_output":
            return _Answer(f"Done: {_output_text(last.get('output'))}", [])
        prompt = _last_user_text(inputs)
        tools = [] if body.get("tool_choice") == "none" else _dicts(body.get("tools"))
        functions = [
            t for t in tools if t.get("type") == "function" and isinstance(t.get("name"), str)
        ]
        exec_tool = next((t for t in functions if t["name"] == "exec_command"), None)
        if exec_tool is not None and prompt.startswith(RUN_PREFIX):
            # Codex's shell tool: "RUN: echo hi" makes the model ask Codex to run `echo hi`.
            command = json.dumps({"cmd": prompt.removeprefix(RUN_PREFIX).strip()})
            return _Answer(None, [_Call("call_1", "exec_command", command)])
        if functions and "notools" not in model and not prompt.startswith(RUN_PREFIX):
            fn = functions[0]
            return _Answer(
                None, [_Call("call_1", fn["name"], _example_arguments(fn.get("parameters")))]
            )
        return _Answer(structured or self.answer_for(model, prompt), [])

    # ------------------------------------------------------------------ HTTP server

    def _log(self, message: str) -> None:
        if self._debug:
            print(f"[fake-provider {self.name}] {message}", file=sys.stderr, flush=True)

    def _on_loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        self._log(f"loop error: {context.get('message')} {context.get('exception')!r}")

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        try:
            await self._serve(reader, writer)
        except asyncio.CancelledError:
            writer.transport.abort()
            raise
        except (_Abort, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            self._log(f"connection dropped: {exc!r}")
            writer.transport.abort()
        except Exception as exc:  # a bug in the fake: never let it print anything
            self._log(f"handler failed: {exc!r}")
            writer.transport.abort()
        finally:
            self._connections.pop(task, None)
            if not writer.transport.is_closing():
                writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return  # client closed between requests
            except asyncio.LimitOverrunError:
                writer.write(self._simple_response(431, b"", keep_alive=False))
                return
            lines = head.lstrip(b"\r\n")[:-4].split(b"\r\n")
            parts = lines[0].decode("latin-1").split(" ")
            if len(parts) != 3 or not parts[2].startswith("HTTP/"):
                writer.write(self._simple_response(400, b"", keep_alive=False))
                return
            method, target, version = parts
            headers: dict[str, str] = {}
            for line in lines[1:]:
                key, sep, value = line.partition(b":")
                if not sep:
                    writer.write(self._simple_response(400, b"", keep_alive=False))
                    return
                name = key.strip().decode("latin-1").lower()
                text = value.strip().decode("latin-1")
                headers[name] = f"{headers[name]}, {text}" if name in headers else text
            connection = headers.get("connection", "").lower()
            keep_alive = (
                "keep-alive" in connection if version == "HTTP/1.0" else "close" not in connection
            )
            if headers.get("expect", "").lower() == "100-continue":
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            if "chunked" in headers.get("transfer-encoding", "").lower():
                body = await self._read_chunked(reader)
            else:
                length = int(headers.get("content-length") or 0)
                body = await reader.readexactly(length) if length else b""
            request = ReceivedRequest(method, target, headers, body)
            with self._lock:
                index = len(self.requests)
                self.requests.append(request)
            self._log(f"#{index} {method} {target} {len(body)} bytes")
            exchange = _Exchange(reader, writer, request, index, keep_alive)
            if not await self._dispatch(exchange):
                return

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
        body = bytearray()
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass  # trailers
                return bytes(body)
            body += await reader.readexactly(size)
            await reader.readexactly(2)

    # ------------------------------------------------------------------ responses on the wire

    def _head(
        self,
        exchange: _Exchange | None,
        status: int,
        headers: Sequence[tuple[str, str]],
        keep_alive: bool,
    ) -> bytes:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}"]
        lines += [f"{k}: {v}" for k, v in headers]
        lines.append(f"x-fake-provider: {self._id_name}")
        if self.cors:
            lines += ["Access-Control-Allow-Origin: *", "Access-Control-Allow-Headers: *"]
        if exchange is not None:
            lines.append(f"x-request-id: req_{self._id_name}_{exchange.index}")
        if not keep_alive:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _simple_response(self, status: int, body: bytes, *, keep_alive: bool) -> bytes:
        return self._head(None, status, [("Content-Length", str(len(body)))], keep_alive) + body

    async def _send_body(
        self,
        exchange: _Exchange,
        status: int,
        body: bytes,
        *,
        content_type: str = "application/json",
        extra: Sequence[tuple[str, str]] = (),
    ) -> bool:
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body))), *extra]
        exchange.writer.write(self._head(exchange, status, headers, exchange.keep_alive) + body)
        await exchange.writer.drain()
        return exchange.keep_alive

    async def _send_json(self, exchange: _Exchange, obj: Any) -> bool:
        return await self._send_body(exchange, 200, _dumps(obj))

    async def _send_error(
        self,
        exchange: _Exchange,
        status: int,
        message: str,
        type_: str,
        code: str | None,
        param: str | None = None,
    ) -> bool:
        error: dict[str, Any] = {
            "error": {"message": message, "type": type_, "code": code, "param": param}
        }
        if exchange.request.path.startswith("/v1/messages"):  # Anthropic's own error shape
            error = {"type": "error", "error": {"type": type_, "message": message}}
        extra = [("Retry-After", "1")] if status in (429, 503) else []
        return await self._send_body(exchange, status, _dumps(error), extra=extra)

    async def _bad_request(
        self, exchange: _Exchange, message: str, param: str | None = None
    ) -> bool:
        return await self._send_error(
            exchange, 400, message, "invalid_request_error", "invalid_request_error", param
        )

    async def _pause(self, exchange: _Exchange, seconds: float) -> bool:
        """Wait ``seconds``; False if the client left meanwhile (the server stopping cancels us)."""
        if seconds <= 0:
            return not exchange.gone()
        if seconds <= 1:
            await asyncio.sleep(seconds)
            return not exchange.gone()

        async def until_eof() -> None:
            while await exchange.reader.read(65536):
                pass

        try:
            await asyncio.wait_for(until_eof(), seconds)
        except TimeoutError:
            return not exchange.gone()
        return False

    def _delay(self, exchange: _Exchange, scenario: str | None) -> float:
        if scenario == "slow":
            return SLOW_DELAY
        override = exchange.request.headers.get("x-fake-delay")
        if override:
            with contextlib.suppress(ValueError):
                return max(0.0, float(override))
        return self.chunk_delay

    async def _stream(
        self,
        exchange: _Exchange,
        kind: _Kind,
        events: list[bytes],
        content: tuple[int, int],
        scenario: str | None,
    ) -> bool:
        """Send ``events`` as a chunked SSE stream, applying a failure ``scenario``.

        ``content`` is the [start, end) range of the content events (deltas) in ``events``.
        """
        start, end = content
        ending: Literal["clean", "cut", "stall"] = "clean"
        if scenario == "cut-stream":
            events, ending = events[: start + CUT_AFTER], "cut"
        elif scenario == "stall":
            events, ending = events[:1], "stall"
        elif scenario == "error-in-stream":
            if kind == "messages":
                events = [events[0], fake_messages.OVERLOADED]
            elif kind == "responses":
                error = {
                    "type": "error",
                    "code": STREAM_ERROR["code"],
                    "message": STREAM_ERROR["message"],
                    "param": None,
                    "sequence_number": 1,
                }
                events = [events[0], b"event: error\ndata: " + _dumps(error) + b"\n\n"]
            else:
                events = [events[0], _data_event({"error": STREAM_ERROR})]
        elif scenario == "malformed-chunk":
            prefix = {
                "responses": b"event: response.output_text.delta\n",
                "messages": b"event: content_block_delta\n",
            }.get(kind, b"")
            events = list(events)
            events.insert((start + end) // 2, prefix + MALFORMED_DATA + b"\n\n")
        elif scenario == "keepalive":
            spaced: list[bytes] = []
            for i, event in enumerate(events):
                if i:
                    spaced.append(KEEPALIVE_COMMENT)
                spaced.append(event)
            events = spaced

        content_type = (
            "text/plain; charset=utf-8" if scenario == "wrong-content-type" else "text/event-stream"
        )
        headers = [
            ("Content-Type", content_type),
            ("Cache-Control", "no-cache"),
            ("Transfer-Encoding", "chunked"),
        ]
        compressor = _StreamCompressor.for_scenario(scenario)
        if compressor is not None:
            headers.append(("Content-Encoding", compressor.encoding))
        keep_alive = exchange.keep_alive and ending == "clean"
        record: list[bytes] = []
        with self._lock:
            self._streams.append(record)
        writer = exchange.writer
        writer.write(self._head(exchange, 200, headers, keep_alive))
        delay = self._delay(exchange, scenario)
        for i, event in enumerate(events):
            if i and delay > 0 and not await self._pause(exchange, delay):
                raise _Abort("client left mid-stream")
            if writer.transport.is_closing():
                raise _Abort("client left mid-stream")
            payload = event
            if compressor is not None:
                payload = compressor.block(event)
            writer.write(b"%x\r\n%b\r\n" % (len(payload), payload))
            record.append(event)
            await writer.drain()
        if ending == "cut":
            return False  # graceful FIN without the terminating chunk
        if ending == "stall":
            await self._pause(exchange, STALL_SECONDS)
            raise _Abort("stall over")
        if scenario == "linger" and not await self._pause(exchange, LINGER_SECONDS):
            raise _Abort("client left before the body ended")
        if compressor is not None:
            tail = compressor.finish()
            writer.write(b"%x\r\n%b\r\n" % (len(tail), tail))
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return keep_alive

    async def _send_non_stream(self, exchange: _Exchange, obj: Any, scenario: str | None) -> bool:
        """A JSON 200, bent by a stream scenario where one makes sense without streaming."""
        body = _dumps(obj)
        writer = exchange.writer
        if scenario == "slow":
            await asyncio.sleep(SLOW_DELAY)
        elif scenario in ("cut-stream", "stall"):
            head = self._head(
                exchange,
                200,
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
                False,
            )
            writer.write(head + (body[: len(body) // 2] if scenario == "cut-stream" else b""))
            await writer.drain()
            if scenario == "stall":
                await self._pause(exchange, STALL_SECONDS)
                raise _Abort("stall over")
            return False
        elif scenario == "malformed-chunk":
            return await self._send_body(exchange, 200, b"{not json")
        elif scenario == "error-in-stream":
            return await self._send_body(exchange, 200, _dumps({"error": STREAM_ERROR}))
        elif scenario == "wrong-content-type":
            return await self._send_body(
                exchange, 200, body, content_type="text/plain; charset=utf-8"
            )
        elif scenario in _COMPRESSED_STREAMS:
            encoding = _COMPRESSED_STREAMS[scenario]
            return await self._send_body(
                exchange, 200, _compress(body, encoding), extra=[("Content-Encoding", encoding)]
            )
        return await self._send_body(exchange, 200, body)

    # ------------------------------------------------------------------ routing

    async def _dispatch(self, exchange: _Exchange) -> bool:
        request = exchange.request
        if (
            self.api_key is not None
            and request.headers.get("authorization") != f"Bearer {self.api_key}"
            and request.headers.get("x-api-key") != self.api_key
        ):
            spec = ERRORS[401]
            return await self._send_error(
                exchange, 401, spec.message, spec.type, spec.code, spec.param
            )
        path = request.path.split("?", 1)[0]
        if self.cors and request.method == "OPTIONS":
            return await self._send_body(exchange, 204, b"")
        if request.method == "GET" and "websocket" in request.headers.get("upgrade", "").lower():
            if self.websocket and path == "/v1/responses":
                return await self._websocket(exchange)
            return await self._send_error(
                exchange, 404, f"Invalid URL (GET {path})", "invalid_request_error", "not_found"
            )
        handler = self._routes.get((request.method, path))
        if handler is None and request.method == "GET" and path.startswith("/v1/models/"):
            return await self._get_model(exchange, path.removeprefix("/v1/models/"))
        if handler is None:
            message = f"Invalid URL ({request.method} {path})"
            return await self._send_error(
                exchange, 404, message, "invalid_request_error", "not_found"
            )
        return await handler(exchange)

    async def _parse(self, exchange: _Exchange) -> tuple[dict[str, Any], str, str | None] | bool:
        """Parse a POST body and apply the generic scenarios.

        Returns ``(body, model, scenario)`` to continue, or the keep-alive flag when a
        response has already been sent.
        """
        try:
            body = exchange.request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return await self._send_error(
                exchange,
                400,
                "We could not parse the JSON body of your request.",
                "invalid_request_error",
                "invalid_json",
            )
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return await self._bad_request(exchange, "you must provide a model parameter", "model")
        wanted = exchange.request.headers.get("x-fake-scenario") or model
        scenario: str | None = wanted
        if wanted not in SCENARIOS and not _FAIL_RE.fullmatch(wanted):
            scenario = None
        if scenario is not None and (match := _FAIL_RE.fullmatch(scenario)):
            status = int(match.group(1))
            spec = ERRORS.get(status, ErrorSpec("api_error", "api_error", None, "simulated error"))
            message = f"[{self.name}] {spec.message}"
            if status == 404:
                message = f"[{self.name}] The model `{model}` does not exist"
            return await self._send_error(
                exchange, status, message, spec.type, spec.code, spec.param
            )
        if scenario == "garbage":
            exchange.writer.write(GARBAGE)
            await exchange.writer.drain()
            return False
        if scenario == "stall-headers":
            if not await self._pause(exchange, STALL_SECONDS):
                raise _Abort("client left while stalled")
            exchange.keep_alive = False
            scenario = None
        return body, self.substitute_model or model, scenario

    async def _chat(self, exchange: _Exchange) -> bool:
        parsed = await self._parse(exchange)
        if isinstance(parsed, bool):
            return parsed
        body, model, scenario = parsed
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return await self._bad_request(
                exchange, "messages must be a non-empty array", "messages"
            )
        stream = body.get("stream") is True
        if not stream and any(fnmatch.fnmatchcase(model, glob) for glob in self.stream_required):
            return await self._send_error(
                exchange,
                400,
                STREAM_REQUIRED_MESSAGE,
                "invalid_request_error",
                "stream_required",
                "stream",
            )
        answer = self._chat_answer(model, body)
        usage: dict[str, Any] = dict(self.usage_for(body, "chat"))
        if self.prompt_cache:
            usage["prompt_tokens_details"] = {"cached_tokens": self._cached_tokens(body)}
        if self.reasoning_tokens:
            usage["completion_tokens_details"] = {"reasoning_tokens": self.reasoning_tokens}
        cid, created = _new_id("chatcmpl-"), int(time.time())
        finish = "stop" if answer.text is not None else "tool_calls"
        if not stream:
            message: dict[str, Any] = {"role": "assistant", "content": answer.text}
            if answer.calls:
                message["tool_calls"] = [
                    {
                        "id": c.call_id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments},
                    }
                    for c in answer.calls
                ]
            completion = {
                "id": cid,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
                ],
                "usage": usage,
                "system_fingerprint": self._fingerprint,
            }
            return await self._send_non_stream(exchange, completion, scenario)

        include_usage = _include_usage(body)
        null_usage = include_usage and not self.usage_on_finish
        base = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": self._fingerprint,
        }

        def chunk(
            delta: dict[str, Any], finish_reason: str | None = None, chunk_usage: Any = None
        ) -> bytes:
            obj = {
                **base,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
                ],
            }
            if chunk_usage is not None or null_usage:
                obj["usage"] = chunk_usage
            return _data_event(obj)

        events: list[bytes] = []
        if answer.text is not None:
            events.append(chunk({"role": "assistant", "content": ""}))
            events += [chunk({"content": piece}) for piece in answer.pieces]
        else:
            for n, call in enumerate(answer.calls):
                header = {
                    "index": n,
                    "id": call.call_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": ""},
                }
                delta: dict[str, Any] = {"role": "assistant", "content": None} if n == 0 else {}
                events.append(chunk({**delta, "tool_calls": [header]}))
            fragments = [_thirds(call.arguments) for call in answer.calls]
            for step in range(max(map(len, fragments))):
                for n, frags in enumerate(fragments):
                    if step < len(frags):
                        events.append(
                            chunk(
                                {
                                    "tool_calls": [
                                        {"index": n, "function": {"arguments": frags[step]}}
                                    ]
                                }
                            )
                        )
        content = (1, len(events))
        on_finish = usage if include_usage and self.usage_on_finish else None
        events.append(chunk({}, finish, on_finish))
        if include_usage and not self.usage_on_finish:
            events.append(_data_event({**base, "choices": [], "usage": usage}))
        events.append(b"data: [DONE]\n\n")
        return await self._stream(exchange, "chat", events, content, scenario)

    async def _messages(self, exchange: _Exchange) -> bool:
        """Anthropic's Messages API (tests/fakes/messages.py has the rules)."""
        parsed = await self._parse(exchange)
        if isinstance(parsed, bool):
            return parsed
        body, model, scenario = parsed
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return await self._bad_request(
                exchange, "messages: at least one message is required", "messages"
            )
        blocks = fake_messages.answer_blocks(
            body, lambda prompt: self.answer_for(model, prompt), split_words
        )
        counts = fake_messages.usage(body, blocks, self._cached_tokens(body))
        message_id = _new_id("msg_")
        if body.get("stream") is not True:
            whole = fake_messages.message(message_id, model, blocks, counts)
            return await self._send_non_stream(exchange, whole, scenario)
        events, content = fake_messages.stream_events(message_id, model, blocks, counts)
        return await self._stream(exchange, "messages", events, content, scenario)

    async def _count_tokens(self, exchange: _Exchange) -> bool:
        parsed = await self._parse(exchange)
        if isinstance(parsed, bool):
            return parsed
        body, _, _ = parsed
        counts = fake_messages.usage(body, [], 0)
        every = counts["input_tokens"] + counts["cache_creation_input_tokens"]
        return await self._send_json(exchange, {"input_tokens": every})

    async def _responses(self, exchange: _Exchange) -> bool:
        parsed = await self._parse(exchange)
        if isinstance(parsed, bool):
            return parsed
        body, model, scenario = parsed
        if not isinstance(body.get("input"), str | list):
            return await self._bad_request(exchange, "input must be a string or an array", "input")
        events, (start, end), final = self._responses_events(body, model)
        if body.get("stream") is not True:
            return await self._send_non_stream(exchange, final, scenario)
        return await self._stream(exchange, "responses", events, (start, end), scenario)

    def _responses_events(
        self, body: dict[str, Any], model: str
    ) -> tuple[list[bytes], tuple[int, int], dict[str, Any]]:
        """The SSE events of a Responses stream, the range of its deltas, the final object."""
        answer = self._responses_answer(model, body)
        counts = self.usage_for(body, "responses")
        usage = {
            "input_tokens": counts["prompt_tokens"],
            "input_tokens_details": {"cached_tokens": self._cached_tokens(body)},
            "output_tokens": counts["completion_tokens"],
            "output_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
            "total_tokens": counts["total_tokens"],
        }
        rid, created = _new_id("resp_"), int(time.time())
        if answer.text is not None:
            item_id = _new_id("msg_")
            part_done = {
                "type": "output_text",
                "text": answer.text,
                "annotations": [],
                "logprobs": [],
            }
            item_done: dict[str, Any] = {
                "id": item_id,
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [part_done],
            }
            item_start: dict[str, Any] = {**item_done, "status": "in_progress", "content": []}
        else:
            call = answer.calls[0]
            item_id = _new_id("fc_")
            item_done = {
                "id": item_id,
                "type": "function_call",
                "status": "completed",
                "arguments": call.arguments,
                "call_id": call.call_id,
                "name": call.name,
            }
            item_start = {**item_done, "status": "in_progress", "arguments": ""}

        def response(status: str, output: list[Any], resp_usage: Any) -> dict[str, Any]:
            return {
                "id": rid,
                "object": "response",
                "created_at": created,
                "status": status,
                "background": False,
                "error": None,
                "incomplete_details": None,
                "instructions": body.get("instructions"),
                "max_output_tokens": body.get("max_output_tokens"),
                "model": model,
                "output": output,
                "parallel_tool_calls": body.get("parallel_tool_calls", True),
                "previous_response_id": body.get("previous_response_id"),
                "reasoning": {"effort": None, "summary": None},
                "store": body.get("store", True),
                "temperature": body.get("temperature", 1.0),
                "text": {"format": {"type": "text"}},
                "tool_choice": body.get("tool_choice", "auto"),
                "tools": [],
                "top_p": body.get("top_p", 1.0),
                "truncation": "disabled",
                "usage": resp_usage,
                "user": None,
                "metadata": body.get("metadata") or {},
            }

        seq = 0

        def event(type_: str, **fields: Any) -> bytes:
            nonlocal seq
            data = {"type": type_, **fields, "sequence_number": seq}
            seq += 1
            return b"event: " + type_.encode() + b"\ndata: " + _dumps(data) + b"\n\n"

        events = [
            event("response.created", response=response("in_progress", [], None)),
            event("response.in_progress", response=response("in_progress", [], None)),
            event("response.output_item.added", output_index=0, item=item_start),
        ]
        where = {"item_id": item_id, "output_index": 0}
        if answer.text is not None:
            text_at = {**where, "content_index": 0}
            empty_part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            events.append(event("response.content_part.added", **text_at, part=empty_part))
            start = len(events)
            for piece in answer.pieces:
                events.append(
                    event("response.output_text.delta", **text_at, delta=piece, logprobs=[])
                )
            end = len(events)
            events.append(
                event("response.output_text.done", **text_at, text=answer.text, logprobs=[])
            )
            events.append(
                event("response.content_part.done", **text_at, part=item_done["content"][0])
            )
        else:
            start = len(events)
            for piece in answer.pieces:
                events.append(event("response.function_call_arguments.delta", **where, delta=piece))
            end = len(events)
            events.append(
                event(
                    "response.function_call_arguments.done",
                    **where,
                    arguments=item_done["arguments"],
                )
            )
        events.append(event("response.output_item.done", output_index=0, item=item_done))
        events.append(
            event("response.completed", response=response("completed", [item_done], usage))
        )
        return events, (start, end), response("completed", [item_done], usage)

    async def _websocket(self, exchange: _Exchange) -> bool:
        """The Responses API over a WebSocket, as Codex's built-in provider speaks it: each
        `response.create` text message is answered with the stream's events as messages."""
        key = exchange.request.headers.get("sec-websocket-key", "")
        accept = base64.b64encode(
            hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
        ).decode()
        headers = [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", accept),
        ]
        writer = exchange.writer
        writer.write(self._head(exchange, 101, headers, True))
        ws = wsconnection.Connection(wsconnection.ConnectionType.SERVER)
        while True:
            data = await exchange.reader.read(65536)
            if not data:
                return False
            ws.receive_data(data)
            for event in ws.events():
                if isinstance(event, wsevents.TextMessage):
                    if not await self._websocket_turn(ws, writer, event.data):
                        writer.close()  # cut: no close frame, as a dropped connection
                        return False
                elif isinstance(event, wsevents.Ping):
                    writer.write(ws.send(event.response()))
                elif isinstance(event, wsevents.CloseConnection):
                    writer.write(ws.send(event.response()))
                    await writer.drain()
                    return False
            await writer.drain()

    async def _websocket_turn(
        self, ws: wsconnection.Connection, writer: asyncio.StreamWriter, text: str
    ) -> bool:
        """One `response.create`; False if the ``cut-stream`` model cut the connection.

        ``generate: false`` (Codex's prewarm) is answered as the API does: the response is
        created and completed with no output.
        """
        body = json.loads(text)
        body.pop("type", None)
        model = str(body.get("model") or "fake-1")
        events, _, _ = self._responses_events(body, model)
        if body.get("generate") is False:
            events = _prewarm_events(events)
        record: list[bytes] = []
        with self._lock:
            self._streams.append(record)
        for index, event in enumerate(events):
            if model == "cut-stream" and index == CUT_AFTER:
                await writer.drain()
                return False
            payload = event.split(b"data: ", 1)[1].rstrip(b"\n")
            writer.write(ws.send(wsevents.TextMessage(data=payload.decode())))
            record.append(payload)
            if self.chunk_delay:
                await writer.drain()
                await asyncio.sleep(self.chunk_delay)
        await writer.drain()
        return True

    async def _completions(self, exchange: _Exchange) -> bool:
        parsed = await self._parse(exchange)
        if isinstance(parsed, bool):
            return parsed
        body, model, scenario = parsed
        prompt = _completion_prompt(body)
        text = self.answer_for(model, prompt)
        usage = self.usage_for(body, "completions")
        cid, created = _new_id("cmpl-"), int(time.time())
        base = {"id": cid, "object": "text_completion", "created": created, "model": model}
        if body.get("stream") is not True:
            completion = {
                **base,
                "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": "stop"}],
                "usage": usage,
                "system_fingerprint": self._fingerprint,
            }
            return await self._send_non_stream(exchange, completion, scenario)

        def chunk(piece: str, finish_reason: str | None = None) -> bytes:
            choice = {"text": piece, "index": 0, "logprobs": None, "finish_reason": finish_reason}
            return _data_event(
                {**base, "choices": [choice], "system_fingerprint": self._fingerprint}
            )

        events = [chunk(piece) for piece in split_words(text)]
        content = (0, len(events))
        events.append(chunk("", "stop"))
        if _include_usage(body):
            events.append(_data_event({**base, "choices": [], "usage": usage}))
        events.append(b"data: [DONE]\n\n")
        return await self._stream(exchange, "completions", events, content, scenario)

    async def _embeddings(self, exchange: _Exchange) -> bool:
        parsed = await self._parse(exchange)
        if isinstance(parsed, bool):
            return parsed
        body, model, scenario = parsed
        inputs = _embedding_inputs(body)
        if not inputs:
            return await self._bad_request(
                exchange, "input must be a non-empty string or array", "input"
            )
        dims = body.get("dimensions")
        dims = dims if isinstance(dims, int) and 0 < dims <= 4096 else _EMBEDDING_DIMS
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for i, text in enumerate(inputs):
            vector = self.embedding_for(text, dims)
            embedding: Any = vector
            if as_base64:
                embedding = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
            data.append({"object": "embedding", "index": i, "embedding": embedding})
        usage = self.usage_for(body, "embeddings")
        result = {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {
                "prompt_tokens": usage["prompt_tokens"],
                "total_tokens": usage["total_tokens"],
            },
        }
        return await self._send_non_stream(exchange, result, scenario)

    async def _transcription(self, exchange: _Exchange) -> bool:
        """Whisper-style: a form with `model` and `file`; the transcript names what it heard."""
        form = _form(exchange.request)
        if form is None or "file" not in form:
            return await self._bad_request(exchange, "you must provide a file", "file")
        model = form.get("model", (None, b""))[1].decode()
        if not model:
            return await self._bad_request(exchange, "you must provide a model parameter", "model")
        filename, content = form["file"]
        text = f"{self.name} heard {len(content)} bytes of {filename} with {model}."
        return await self._send_json(exchange, {"text": text})

    async def _file_upload(self, exchange: _Exchange) -> bool:
        form = _form(exchange.request)
        if form is None or "file" not in form:
            return await self._bad_request(exchange, "you must provide a file", "file")
        filename, content = form["file"]
        purpose = form.get("purpose", (None, b""))[1].decode()
        return await self._send_json(
            exchange,
            {
                "id": _new_id("file-"),
                "object": "file",
                "bytes": len(content),
                "created_at": 1700000000,
                "filename": filename,
                "purpose": purpose,
                "status": "processed",
            },
        )

    def _model_object(self, model: str) -> dict[str, Any]:
        return {"id": model, "object": "model", "created": 1700000000, "owned_by": self.name}

    async def _list_models(self, exchange: _Exchange) -> bool:
        return await self._send_json(
            exchange, {"object": "list", "data": [self._model_object(m) for m in self.models]}
        )

    async def _get_model(self, exchange: _Exchange, model: str) -> bool:
        if model in self.models:
            return await self._send_json(exchange, self._model_object(model))
        message = f"The model `{model}` does not exist"
        return await self._send_error(
            exchange, 404, message, "invalid_request_error", "model_not_found", "model"
        )


# --------------------------------------------------------------------------- small utilities


def _prewarm_events(events: list[bytes]) -> list[bytes]:
    """A `generate: false` response: created, then completed with no output and no output
    tokens (the input is still counted)."""
    first = json.loads(events[0].split(b"data: ", 1)[1])
    last = json.loads(events[-1].split(b"data: ", 1)[1])
    response = last["response"]
    usage = dict(response["usage"])
    usage.update(
        output_tokens=0,
        total_tokens=usage["input_tokens"],
        output_tokens_details={"reasoning_tokens": 0},
    )
    response.update(output=[], usage=usage)
    last["sequence_number"] = 1

    def event(obj: dict[str, Any]) -> bytes:
        return b"event: " + str(obj["type"]).encode() + b"\ndata: " + _dumps(obj) + b"\n\n"

    return [event(first), event(last)]


def _dicts(value: Any) -> list[dict[str, Any]]:
    """The dict items of a JSON array (anything else → ``[]``)."""
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def _output_text(output: Any) -> str:
    """Text of a ``function_call_output`` output: a string or a list of text parts."""
    return _content_text(output)


def _include_usage(body: Mapping[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


_COMPRESSED_STREAMS: Final = {"gzip-stream": "gzip", "br-stream": "br", "zstd-stream": "zstd"}


def _compress(data: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
        return compressor.compress(data) + compressor.flush()
    if encoding == "br":
        return bytes(brotli.compress(data))
    return zstd.compress(data)


def _form(request: ReceivedRequest) -> dict[str, tuple[str | None, bytes]] | None:
    """A multipart/form-data body by field name: (filename, content), read by the standard
    library's email parser (Relayscope has its own parser; the fake must not share it)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        return None
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
    message = email.message_from_bytes(head + request.content(), policy=email.policy.HTTP)
    form: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str):
            form[name] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
    return form


def _decompress(data: bytes, encoding: str) -> bytes:
    if encoding in ("gzip", "x-gzip", "deflate"):
        return zlib.decompress(data, 47)  # 47: a gzip or a zlib header, both seen as deflate
    if encoding == "br":
        return bytes(brotli.decompress(data))
    if encoding == "zstd":
        return zstd.decompress(data)
    raise ValueError(f"unsupported content coding {encoding!r}")


class _StreamCompressor:
    """One compressed stream, flushed after every event so each arrives on its own."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._gzip = zlib.compressobj(6, zlib.DEFLATED, 31) if encoding == "gzip" else None
        self._br = brotli.Compressor() if encoding == "br" else None
        self._zstd = zstd.ZstdCompressor() if encoding == "zstd" else None

    @classmethod
    def for_scenario(cls, scenario: str | None) -> _StreamCompressor | None:
        encoding = _COMPRESSED_STREAMS.get(scenario or "")
        return cls(encoding) if encoding else None

    def block(self, data: bytes) -> bytes:
        if self._gzip is not None:
            return self._gzip.compress(data) + self._gzip.flush(zlib.Z_SYNC_FLUSH)
        if self._br is not None:
            return bytes(self._br.process(data)) + bytes(self._br.flush())
        assert self._zstd is not None
        return self._zstd.compress(data, zstd.ZstdCompressor.FLUSH_BLOCK)

    def finish(self) -> bytes:
        if self._gzip is not None:
            return self._gzip.flush()
        if self._br is not None:
            return bytes(self._br.finish())
        assert self._zstd is not None
        return self._zstd.flush()


def _infer_endpoint(body: Mapping[str, Any]) -> Endpoint:
    if "messages" in body:
        return "chat"
    if "prompt" in body:
        return "completions"
    raw = body.get("input")
    if "encoding_format" in body or "dimensions" in body:
        return "embeddings"
    if isinstance(raw, list) and raw and not any(isinstance(x, dict) for x in raw):
        return "embeddings"
    return "responses"


def _cache_segments(body: Mapping[str, Any]) -> list[tuple[str, int]]:
    """A prompt as a cache sees it: (canonical JSON, words) of each part, in order."""
    instructions = body.get("instructions")
    head = [
        (json.dumps(body.get("model")), 0),
        (
            json.dumps(instructions),
            _count_words(instructions) if isinstance(instructions, str) else 0,
        ),
        (json.dumps(body.get("tools"), sort_keys=True), 0),
    ]
    items = body.get("messages", body.get("input"))
    if isinstance(items, str):
        items = [{"content": items}]
    for item in _dicts(items):
        if item.get("type") == "function_call_output":
            words = _count_words(_output_text(item.get("output")))
        else:
            words = _count_words(_content_text(item.get("content")))
        head.append((json.dumps(item, sort_keys=True), words))
    return head


def _responses_prompt_words(body: Mapping[str, Any]) -> int:
    items = body.get("input")
    instructions = body.get("instructions")
    words = _count_words(instructions) if isinstance(instructions, str) else 0
    if isinstance(items, str):
        return words + _count_words(items)
    for item in _dicts(items):
        if item.get("type") == "function_call_output":
            words += _count_words(_output_text(item.get("output")))
        elif "content" in item:
            words += _count_words(_content_text(item.get("content")))
    return words


def _completion_prompt(body: Mapping[str, Any]) -> str:
    prompt = body.get("prompt")
    if isinstance(prompt, list):
        prompt = prompt[-1] if prompt and isinstance(prompt[-1], str) else ""
    return prompt if isinstance(prompt, str) else ""


def _embedding_inputs(body: Mapping[str, Any]) -> list[str]:
    raw = body.get("input")
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list):
        if raw and all(isinstance(x, int) for x in raw):
            return [" ".join(map(str, raw))]
        return [x if isinstance(x, str) else " ".join(map(str, x)) for x in raw]
    return []
