"""Stream debugger: what happened in one recorded stream, with findings tied to chunks."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from relayscope.analysis.stream_stats import (
    MIN_STALL_MS,
    STALL_FACTOR,
    GapStats,
    Stall,
    percentile,
    sse_fields,
)
from relayscope.calls import facts as call_facts
from relayscope.protocols.openai_format import (
    Assembled,
    StreamAssembler,
    assemble_body,
    endpoint_of,
    holds_output,
    read_request,
)

__all__ = [
    "ERROR",
    "INFO",
    "WARNING",
    "Finding",
    "StreamAnalysis",
    "analyse",
    "stall_threshold_ms",
]

ERROR, WARNING, INFO = "error", "warning", "info"
_SEVERITY_RANK = {ERROR: 0, WARNING: 1, INFO: 2}
#: A gap between chunks is a stall when it is longer than both of these.
#: Per-chunk findings of one kind beyond this many are summed up in one more finding.
MAX_PER_CODE = 5
#: The usage check: flag counts more than this many times off and by more than MIN_TOKENS_OFF.
USAGE_FACTOR = 3.0
MIN_TOKENS_OFF = 20
# What the recorder writes in `error` when it cuts a silent stream, and a cut's low-level cause.
_SILENCE = re.compile(r"sent nothing for ([\d.]+) s")
_DETAIL = re.compile(r"ended early \((.+)\)")
# The recorder's quirk notes about a compressed stream name the encoding.
_ENCODING_NOTE = re.compile(r"stream (?:compressed with|encoded as) '?([\w-]+)")
_ARGUMENT_EVENTS = (
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing worth knowing about a stream; `seq` is its chunk (None: the whole call)."""

    code: str
    severity: str
    seq: int | None
    message: str


@dataclass(frozen=True, slots=True)
class StreamAnalysis:
    """Timing, the assembled answer and findings of one call's stream.

    ``ttft_ms`` is the time to the first chunk that carries output (text, reasoning, tool
    call or refusal; `relayscope.calls.facts`), ``first_byte_ms`` the time to the response's
    headers; gaps are between chunks, and
    ``longest_stall_seq`` is the chunk that ended the longest gap (None with fewer than two).
    """

    ttft_ms: float | None
    first_byte_ms: float | None
    total_ms: float | None
    chunk_count: int
    gap_median_ms: float | None
    gap_p95_ms: float | None
    gap_max_ms: float | None
    longest_stall_seq: int | None
    output_tokens_per_s: float | None
    assembled: Assembled
    findings: list[Finding] = field(default_factory=list)

    def findings_at(self, seq: int) -> list[Finding]:
        return [finding for finding in self.findings if finding.seq == seq]


def stall_threshold_ms(median_gap_ms: float | None) -> float:
    """How long a gap must be to count as a stall: max(1 s, 10x the median gap)."""
    return max(MIN_STALL_MS, STALL_FACTOR * (median_gap_ms or 0.0))


def analyse(call: dict[str, Any], chunks: Sequence[dict[str, Any]]) -> StreamAnalysis:
    """Analyse a call's row (as stored in `calls`) and its chunk rows (seq, t_ms, data)."""
    endpoint = call.get("endpoint") or endpoint_of(call.get("path") or "")
    scan = _Scan(endpoint)
    for chunk in chunks:
        if chunk.get("direction") == "client":  # a WebSocket request, not part of the answer
            scan.client_message()
        else:
            scan.feed(int(chunk["seq"]), float(chunk["t_ms"]), chunk["data"])
    if chunks or not call.get("response_body"):
        assembled = scan.assembler.result()
    else:
        assembled = assemble_body(endpoint, _as_bytes(call.get("response_body")))
    gaps = scan.gaps()
    stats = _gap_stats(gaps)
    # The chunks tell a stream's first token; a call without chunks has its recorded figure.
    ttft = scan.first_output_ms if chunks else call_facts.ttft_ms(call)
    total = _float(call.get("duration_ms"))
    if total is None and scan.times:
        total = scan.times[-1]
    usage = assembled.usage
    tokens = usage.completion_tokens if usage else call.get("completion_tokens")
    findings = _Checks(call, scan, assembled, stats.median, gaps).run()
    return StreamAnalysis(
        ttft_ms=ttft,
        first_byte_ms=call_facts.first_byte_ms(call),
        total_ms=total,
        chunk_count=len(chunks),  # a WebSocket call's client messages included
        gap_median_ms=stats.median,
        gap_p95_ms=stats.p95,
        gap_max_ms=stats.max,
        longest_stall_seq=stats.max_at_seq,
        output_tokens_per_s=call_facts.output_tokens_per_second(
            tokens, ttft if call.get("stream") or chunks else None, total
        ),
        assembled=assembled,
        findings=findings,
    )


# --- one pass over the chunks -----------------------------------------------------------


@dataclass(slots=True)
class _Change:
    """The first chunk where a field (id, model) differed from the chunks before it."""

    seq: int
    before: str
    after: str


class _Scan:
    """Facts about each chunk, gathered in one pass (the assembler runs alongside)."""

    def __init__(self, endpoint: str) -> None:
        self.responses = endpoint == "responses"
        self.messages = endpoint == "messages"  # Anthropic Messages events
        self.assembler = StreamAssembler(endpoint)
        self.seqs: list[int] = []
        self.times: list[float] = []
        self.invalid: list[tuple[int, str, str]] = []  # seq, first line, why
        self.errors: list[tuple[int, object]] = []
        self.keepalives: list[int] = []
        self.done_seq: int | None = None
        self.terminal: tuple[int, str, dict[str, Any]] | None = None
        self.last_choices_seq: int | None = None
        self.usage_seq: int | None = None
        self.first_output_ms: float | None = None
        self.output_chunks = 0
        self.values: dict[str, str] = {}  # the id and model seen first
        self.changes: dict[str, _Change] = {}
        self.tool_seq: dict[object, int] = {}  # tool call (index or item id) -> last chunk
        self.item_call_ids: dict[str, str] = {}  # Responses item id -> call_id
        self.turn_starts: set[int] = set()  # positions of the first answers to a new request

    def client_message(self) -> None:
        """A WebSocket request arrived: the server's next answer is a new response."""
        self.turn_starts.add(len(self.seqs))
        self.values.clear()

    def gaps(self) -> list[Stall]:
        """Each silence between consecutive chunks, except one spent waiting on the client."""
        seqs, times = self.seqs, self.times
        return [
            Stall(seqs[i - 1], seqs[i], times[i - 1], times[i])
            for i in range(1, len(times))
            if i not in self.turn_starts
        ]

    def feed(self, seq: int, t_ms: float, raw: str | bytes) -> None:
        self.seqs.append(seq)
        self.times.append(t_ms)
        text = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
        event, data = _event_and_data(text)
        if data is None:
            if event is None and text.strip().startswith(":"):
                self.keepalives.append(seq)
            return
        self.assembler.feed(data, event)
        stripped = data.strip()
        if not stripped:
            return
        if stripped == "[DONE]":
            self.done_seq = seq
            return
        try:
            obj = json.loads(stripped)
        except (ValueError, RecursionError) as exc:
            self.invalid.append((seq, _first_line(text), _json_error(exc)))
            return
        if not isinstance(obj, dict):
            self.invalid.append((seq, _first_line(text), "JSON, but not an object"))
            return
        self._on_object(seq, t_ms, obj, event)

    def _on_object(self, seq: int, t_ms: float, obj: dict[str, Any], event: str | None) -> None:
        kind = obj.get("type") if isinstance(obj.get("type"), str) else event
        if obj.get("error") is not None:
            self.errors.append((seq, obj["error"]))
        elif kind == "error":
            self.errors.append((seq, obj))
        if self.responses:
            self._on_event(seq, obj, kind or "")
        elif self.messages:
            self._on_message_event(seq, obj, kind or "")
        else:
            self._track(seq, "id", obj.get("id"))
            self._track(seq, "model", obj.get("model"))
            if obj.get("usage") is not None:
                self.usage_seq = seq
            self._on_choice(seq, obj.get("choices"))
        if holds_output(obj, event, responses=self.responses):  # TTFT's one definition
            self.output_chunks += 1
            if self.first_output_ms is None:
                self.first_output_ms = t_ms

    def _track(self, seq: int, name: str, value: object) -> None:
        if not isinstance(value, str) or not value:
            return
        first = self.values.setdefault(name, value)
        if value != first and name not in self.changes:
            self.changes[name] = _Change(seq, first, value)

    def _on_choice(self, seq: int, choices: object) -> None:
        """Chat/completions chunk."""
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return
        choice = choices[0]
        self.last_choices_seq = seq
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            return
        tool_calls = delta.get("tool_calls")
        if isinstance(tool_calls, list):
            for position, fragment in enumerate(tool_calls):
                index = fragment.get("index") if isinstance(fragment, dict) else None
                self.tool_seq[index if type(index) is int else position] = seq

    def _on_event(self, seq: int, obj: dict[str, Any], kind: str) -> None:
        """Responses event."""
        response = obj.get("response")
        if isinstance(response, dict):
            self._track(seq, "id", response.get("id"))
            self._track(seq, "model", response.get("model"))
            if kind in ("response.completed", "response.incomplete", "response.failed"):
                self.terminal = (seq, kind, response)
                if response.get("usage") is not None:
                    self.usage_seq = seq
                if kind == "response.failed" and response.get("error") is not None:
                    self.errors.append((seq, response["error"]))
        item = obj.get("item")
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            if isinstance(item.get("call_id"), str):
                self.item_call_ids[item["id"]] = item["call_id"]
            if item.get("type") == "function_call":
                self.tool_seq[item["id"]] = seq
        if kind in _ARGUMENT_EVENTS and isinstance(obj.get("item_id"), str):
            self.tool_seq[obj["item_id"]] = seq

    def _on_message_event(self, seq: int, obj: dict[str, Any], kind: str) -> None:
        """Anthropic Messages event: id, model, usage, the terminal event, tool blocks."""
        if kind == "message_start" and isinstance(obj.get("message"), dict):
            self._track(seq, "id", obj["message"].get("id"))
            self._track(seq, "model", obj["message"].get("model"))
        elif kind == "message_delta":
            self.last_choices_seq = seq
            if obj.get("usage") is not None:
                self.usage_seq = seq
        elif kind == "message_stop":
            self.terminal = (seq, kind, obj)
        index = obj.get("index")
        block = obj.get("content_block")
        delta = obj.get("delta")
        if type(index) is int and (
            _get(block, "type") == "tool_use" or _get(delta, "type") == "input_json_delta"
        ):
            self.tool_seq[index] = seq

    def tool_call_seq(self, position: int, call_id: object) -> int | None:
        """The last chunk that added to the assembled tool call at `position`."""
        if not self.responses:
            keys = sorted(key for key in self.tool_seq if isinstance(key, int))
            return self.tool_seq[keys[position]] if position < len(keys) else None
        for item_id, seq in self.tool_seq.items():
            if item_id == call_id or self.item_call_ids.get(str(item_id)) == call_id:
                return seq
        return None


# --- the checks -------------------------------------------------------------------------

# Every finding, by name ("code" or "code.variant"): its severity and its message, one
# sentence a person can act on. The placeholders are filled from what the check found.
_FINDINGS: dict[str, tuple[str, str]] = {
    "invalid_json": (ERROR, "Chunk {seq} is not valid JSON: `{line}` ({why}); clients fail on it."),
    "error_in_stream": (
        ERROR,
        "Chunk {seq} carries an error inside a {status} stream: {error} (clients that only "
        "check the HTTP status miss it).",
    ),
    "missing_done": (
        ERROR,
        "The stream ended without `data: [DONE]` (last chunk: {seq}); clients that wait for "
        "it hang or report a broken stream.",
    ),
    "missing_completed": (
        ERROR,
        "The stream ended without `response.completed` (last chunk: {seq}); Codex treats "
        "this as a broken stream and resends the request.",
    ),
    "missing_completed.other_end": (
        WARNING,
        "Chunk {seq} ended the response with `{kind}`{why} instead of `response.completed`; "
        "clients report the turn as failed.",
    ),
    "missing_message_stop": (
        ERROR,
        "The stream ended without `message_stop` (last chunk: {seq}); Anthropic clients such "
        "as Claude Code treat the answer as incomplete and retry.",
    ),
    "no_finish_reason.messages": (
        WARNING,
        "No `message_delta` carried a `stop_reason` (last chunk: {seq}), so a client cannot "
        "tell a whole answer from one cut at max_tokens.",
    ),
    "no_finish_reason": (
        WARNING,
        "No chunk carried a `finish_reason` (the last answer chunk is {seq}), so a client "
        "cannot tell a whole answer from one cut at the length limit.",
    ),
    "cut_by_provider.silent": (
        ERROR,
        "The provider sent nothing for {seconds} s {where}, so Relayscope cut the stream; "
        "raise the provider's `timeout` if the model thinks that long.",
    ),
    "cut_by_provider": (
        ERROR,
        "The provider's connection ended early {where}{detail}, so the answer is incomplete; "
        "retry it, or ask the provider why.",
    ),
    "cut_by_client": (
        WARNING,
        "The client disconnected {where}, so the answer is incomplete; check the client's own "
        "timeout, or whether it was cancelled.",
    ),
    "interrupted": (WARNING, "The call was interrupted {where}: {error}"),
    "usage_missing.client": (
        WARNING,
        "The client asked for usage (`stream_options.include_usage`), but no chunk carried "
        "it; this provider may not support usage in streams, so count tokens another way.",
    ),
    "usage_missing.proxy": (
        WARNING,
        "Relayscope asked for usage (`stream_options.include_usage`) for you, but no chunk "
        "carried it; this provider may not support usage in streams, so count tokens "
        "another way.",
    ),
    "usage_missing.responses": (
        WARNING,
        "`{kind}` (chunk {seq}) carries no usage, so this call's tokens are unknown; the "
        "provider may not report usage for streams.",
    ),
    "usage_missing.cut": (
        INFO,
        "Usage was asked for but never arrived, because the stream was cut before its end; "
        "this call's tokens are unknown.",
    ),
    "usage_mismatch": (
        WARNING,
        "Usage says {reported} completion tokens{hidden}, far {side} than the output suggests "
        "({chars} characters ≈ {estimate:.0f} tokens at ~4 characters a token; {chunks} output "
        "chunks); the usage figures or the recorded output are unreliable.",
    ),
    "wrong_content_type": (
        WARNING,
        "The client asked for a stream but the response has {shown}, not `text/event-stream`; "
        "SDKs and Codex then read it as one body or a broken stream.",
    ),
    "wrong_content_type.no_chunks": (
        ERROR,
        "The client asked for a stream but the provider answered {shown} with one whole body; "
        "streaming clients such as Codex treat that as a broken stream and retry.",
    ),
    "compressed": (
        INFO,
        "The provider compressed the stream with {encoding} (recorded decoded); some proxies "
        "and clients hold compressed chunks back and deliver them in bursts.",
    ),
    "compressed.undecoded": (
        WARNING,
        "The provider compressed the stream with {encoding}, which Relayscope cannot decode, "
        "so the chunks are stored still encoded and cannot be read here.",
    ),
    "keepalive_comments": (
        INFO,
        "{what} (keep-alives), the first at chunk {seq}; clients skip them, but they count as "
        "chunks in the timing.",
    ),
    "id_changed": (
        WARNING,
        "Chunk {seq} has id `{after}`, but the chunks before it had `{before}`; clients that "
        "key on the id may split the answer in two.",
    ),
    "model_changed": (
        WARNING,
        "Chunk {seq} has model `{after}`, but the chunks before it had `{before}`; the "
        "gateway may have switched models mid-answer.",
    ),
    "tool_args_invalid_json": (
        ERROR,
        "Tool call {position} (`{name}`) has arguments that are not valid JSON{hint}: "
        "`{shown}` ({why}); the client cannot run it.",
    ),
    "stall": (
        WARNING,
        "Nothing arrived for {gap} between chunk {after} (at {start}) and chunk {seq}; the "
        "median gap is {median}, so the provider stalled there.",
    ),
    "stall.at_end": (
        WARNING,
        "Nothing arrived for {gap} after the last chunk ({seq}) before the connection closed; "
        "the provider held the stream open idle.",
    ),
    "more": (INFO, "{count} more {noun} from chunk {seq} on (only the first {limit} are listed)."),
}


class _Checks:
    """Turns a scan and the call's row into findings."""

    def __init__(
        self,
        call: dict[str, Any],
        scan: _Scan,
        assembled: Assembled,
        median: float | None,
        gaps: list[Stall],
    ) -> None:
        self.call = call
        self.scan = scan
        self.assembled = assembled
        self.median = median
        self.gaps = gaps
        self.findings: list[Finding] = []
        self.headers = _headers(call.get("response_headers"))
        self.live = call_facts.is_live(call)
        self.last_seq = scan.seqs[-1] if scan.seqs else None
        status = call.get("status")
        self.ok_status = status is None or 200 <= int(status) < 300
        content_type = self.headers.get("content-type", "")
        self.streamed = bool(scan.seqs) or (
            bool(call.get("stream")) and self.ok_status and "text/event-stream" in content_type
        )

    def add(self, finding: str, seq: int | None, **facts: object) -> None:
        severity, template = _FINDINGS[finding]
        code = finding.partition(".")[0]
        self.findings.append(Finding(code, severity, seq, template.format(seq=seq, **facts)))

    def add_each(
        self, finding: str, items: Sequence[tuple[int, Mapping[str, object]]], noun: str
    ) -> None:
        """One finding per chunk, the first MAX_PER_CODE of them, then one for the rest."""
        for seq, facts in items[:MAX_PER_CODE]:
            self.add(finding, seq, **facts)
        if len(items) > MAX_PER_CODE:
            severity, _ = _FINDINGS[finding]
            rest = items[MAX_PER_CODE:]
            _, template = _FINDINGS["more"]
            message = template.format(
                count=len(rest), noun=noun, seq=rest[0][0], limit=MAX_PER_CODE
            )
            code = finding.partition(".")[0]
            self.findings.append(Finding(code, severity, rest[0][0], message))

    def run(self) -> list[Finding]:
        cut = self._cut()
        self._chunks()
        if self.streamed and not self.live:
            if cut:
                self._usage_of_cut_stream()
            else:
                self._end()
                self._usage()
        self._headers()
        if not self.live:
            self._tool_arguments(cut)
        self._stalls(cut)
        return sorted(
            self.findings,
            key=lambda f: (_SEVERITY_RANK[f.severity], -1 if f.seq is None else f.seq),
        )

    def _chunks(self) -> None:
        scan = self.scan
        invalid = [(seq, {"line": line, "why": why}) for seq, line, why in scan.invalid]
        self.add_each("invalid_json", invalid, "chunks are not valid JSON")
        status = self.call.get("status") or 200
        errors = [(seq, {"status": status, "error": _error_text(e)}) for seq, e in scan.errors]
        self.add_each("error_in_stream", errors, "chunks carry errors")
        if scan.keepalives:
            count = len(scan.keepalives)
            what = f"{count} chunks are SSE comments" if count > 1 else "1 chunk is an SSE comment"
            self.add("keepalive_comments", scan.keepalives[0], what=what)
        for name, change in scan.changes.items():
            self.add(f"{name}_changed", change.seq, before=change.before, after=change.after)

    def _cut(self) -> bool:
        """Interrupted calls: who cut the connection. True if the stream was cut short."""
        if self.call.get("state") != "interrupted":
            return False
        error = str(self.call.get("error") or "")
        where = "before any chunk arrived"
        if self.last_seq is not None:
            where = f"after chunk {self.last_seq} (at {_seconds(self.scan.times[-1])})"
        silent, detail = _SILENCE.search(error), _DETAIL.search(error)
        if silent:
            self.add("cut_by_provider.silent", self.last_seq, seconds=silent[1], where=where)
        elif "provider" in error.lower():
            detail_text = f" with “{detail[1]}”" if detail else ""
            self.add("cut_by_provider", self.last_seq, where=where, detail=detail_text)
        elif "client" in error.lower():
            self.add("cut_by_client", self.last_seq, where=where)
        else:
            self.add("interrupted", self.last_seq, where=where, error=error or "no reason given.")
        return True

    def _end(self) -> None:
        """How a stream that was not cut ended: its terminator and its finish reason."""
        scan = self.scan
        if scan.responses:
            terminal = scan.terminal
            if terminal is None:
                self.add("missing_completed", self.last_seq)
            elif terminal[1] != "response.completed":
                reason = _get(terminal[2].get("incomplete_details"), "reason")
                why = f" (reason: {reason})" if reason else ""
                self.add("missing_completed.other_end", terminal[0], kind=terminal[1], why=why)
            return
        if scan.messages:
            if scan.terminal is None:
                self.add("missing_message_stop", self.last_seq)
            elif self.assembled.finish_reason is None:
                self.add("no_finish_reason.messages", self.last_seq)
            return
        if scan.done_seq is None:
            self.add("missing_done", self.last_seq)
        if self.assembled.finish_reason is None:
            last_answer = scan.last_choices_seq
            self.add("no_finish_reason", self.last_seq if last_answer is None else last_answer)

    def _usage_asked(self) -> str | None:
        """Who asked for stream usage: "client", "proxy" or None."""
        if read_request(_as_bytes(self.call.get("request_body"))).include_usage:
            return "client"
        if read_request(_as_bytes(self.call.get("upstream_request_body"))).include_usage:
            return "proxy"
        return None

    def _usage_of_cut_stream(self) -> None:
        # The cut finding explains a missing terminator; say only what it means for usage.
        if self._usage_asked() and self.assembled.usage is None:
            self.add("usage_missing.cut", None)

    def _usage(self) -> None:
        usage, terminal = self.assembled.usage, self.scan.terminal
        if usage is None and self.scan.responses and terminal is not None:
            self.add("usage_missing.responses", terminal[0], kind=terminal[1])
        elif usage is None and (asked := self._usage_asked()) is not None:
            self.add(f"usage_missing.{asked}", None)
        if usage is not None and usage.completion_tokens is not None:
            self._usage_mismatch(usage.completion_tokens, usage.reasoning_tokens)

    def _usage_mismatch(self, completion: int, reasoning_tokens: int | None) -> None:
        # Hidden reasoning counts in completion_tokens but never shows as text.
        reported = completion - (reasoning_tokens or 0)
        text = _output_text(self.assembled, with_reasoning=not reasoning_tokens)
        ascii_chars = sum(1 for ch in text if ch < "\x80")
        # About 4 characters a token in English and code, fewer in other scripts.
        estimate = ascii_chars / 4 + (len(text) - ascii_chars) / 1.5
        # A chunk of output is rarely less than a token, so many chunks raise the estimate
        # (but never lower it: some gateways re-chunk the text a character at a time).
        chunks = self.scan.output_chunks
        high = max(estimate, chunks)
        if reported > USAGE_FACTOR * high and reported - high > MIN_TOKENS_OFF:
            side = "more"
        elif reported * USAGE_FACTOR < estimate and estimate - reported > MIN_TOKENS_OFF:
            side = "fewer"
        else:
            return
        hidden = f" after {reasoning_tokens} hidden reasoning tokens" if reasoning_tokens else ""
        facts = {"chars": len(text), "estimate": estimate, "chunks": chunks}
        self.add(
            "usage_mismatch",
            self.scan.usage_seq,
            reported=reported,
            hidden=hidden,
            side=side,
            **facts,
        )

    def _headers(self) -> None:
        if self.call.get("transport") == "websocket" or not self.headers:
            return
        content_type = self.headers.get("content-type")
        wants_stream = bool(self.call.get("stream")) and self.ok_status
        if (self.scan.seqs or wants_stream) and "text/event-stream" not in (content_type or ""):
            shown = f"`{content_type}`" if content_type else "no Content-Type"
            name = "wrong_content_type" if self.scan.seqs else "wrong_content_type.no_chunks"
            self.add(name, None, shown=shown)
        if self.streamed:
            self._compression()

    def _compression(self) -> None:
        encoding = self.headers.get("content-encoding", "").strip()
        quirks = _json_list(self.call.get("quirks"))
        notes = [n for n in quirks if isinstance(n, str) and _ENCODING_NOTE.search(n)]
        if notes:
            match = _ENCODING_NOTE.search(notes[0])
            encoding = match[1] if match else encoding
        elif encoding in ("", "identity"):
            return
        undecoded = any("undecoded" in note for note in notes)
        self.add("compressed.undecoded" if undecoded else "compressed", None, encoding=encoding)

    def _tool_arguments(self, cut: bool) -> None:
        for position, call in enumerate(self.assembled.tool_calls):
            function = call.get("function")
            if call.get("type") == "custom" or not isinstance(function, dict):
                continue
            arguments = str(function.get("arguments") or "")
            try:
                json.loads(arguments)
            except (ValueError, RecursionError) as exc:
                seq = self.scan.tool_call_seq(position, call.get("id"))
                self.add(
                    "tool_args_invalid_json",
                    self.last_seq if seq is None else seq,
                    position=position,
                    name=function.get("name") or "?",
                    hint=" because the stream was cut" if cut else "",
                    shown=_shorten(arguments, 60) if arguments else "(empty)",
                    why=_json_error(exc),
                )

    def _stalls(self, cut: bool) -> None:
        scan = self.scan
        threshold = stall_threshold_ms(self.median)
        median = _seconds(self.median) if self.median is not None else "—"
        stalls = [gap for gap in self.gaps if gap.gap_ms >= threshold]
        facts = [
            (
                stall.at_seq,
                {
                    "gap": _seconds(stall.gap_ms),
                    "after": stall.after_seq,
                    "start": _seconds(stall.start_ms),
                    "median": median,
                },
            )
            for stall in stalls
        ]
        self.add_each("stall", facts, "stalls")
        total = _float(self.call.get("duration_ms"))
        if cut or self.live or total is None or not scan.times:
            return
        if total - scan.times[-1] >= threshold:
            self.add("stall.at_end", self.last_seq, gap=_seconds(total - scan.times[-1]))


def _output_text(assembled: Assembled, *, with_reasoning: bool) -> str:
    """Everything the model wrote that counts as completion tokens."""
    parts = [assembled.output_text, assembled.refusal]
    if with_reasoning:
        parts.append(assembled.reasoning_text)
    for call in assembled.tool_calls:
        body = call.get("function") or call.get("custom") or {}
        parts += [str(body.get(key) or "") for key in ("name", "arguments", "input")]
    return "".join(parts)


# --- small readers ----------------------------------------------------------------------


def _headers(value: object) -> dict[str, str]:
    """Response headers (a JSON list of [name, value]) by lower-case name; the first wins."""
    out: dict[str, str] = {}
    for pair in _json_list(value):
        if isinstance(pair, list) and len(pair) == 2:
            out.setdefault(str(pair[0]).lower(), str(pair[1]))
    return out


def _json_list(value: object) -> list[Any]:
    if not isinstance(value, str | bytes) or not value:
        return []
    try:
        loaded = json.loads(value)
    except ValueError:
        return []
    return loaded if isinstance(loaded, list) else []


def _as_bytes(value: object) -> bytes | None:
    if isinstance(value, str):
        return value.encode("utf-8")
    return value if isinstance(value, bytes) else None


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _get(obj: object, key: str) -> object:
    return obj.get(key) if isinstance(obj, dict) else None


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip() and not line.startswith(":"):
            return _shorten(line.strip(), 60)
    return ""


def _shorten(text: str, limit: int) -> str:
    flat = text.replace("\n", "⏎")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _error_text(error: object) -> str:
    if isinstance(error, dict):
        code = error.get("code") or error.get("type")
        message = error.get("message")
        if message:
            message = str(message).rstrip(".")
            return f"`{code}`: {message}" if code else message
        return f"`{_shorten(json.dumps(error, ensure_ascii=False), 80)}`"
    return f"`{_shorten(str(error), 80)}`"


def _gap_stats(gaps: list[Stall]) -> GapStats:
    """Median, p95 and longest of the gaps; `max_at_seq` is the chunk after the longest."""
    if not gaps:
        return GapStats(None, None, None, None)
    ordered = sorted(gap.gap_ms for gap in gaps)
    longest = max(gaps, key=lambda gap: gap.gap_ms)
    return GapStats(
        median=percentile(ordered, 0.5),
        p95=percentile(ordered, 0.95),
        max=longest.gap_ms,
        max_at_seq=longest.at_seq,
    )


def _event_and_data(text: str) -> tuple[str | None, str | None]:
    """An event's name and data; the usual one- and two-line events without the full parser."""
    body = text.rstrip("\r\n")
    if "\r" not in body:
        first, newline, rest = body.partition("\n")
        if first.startswith("data:") and not newline:
            return None, _field_value(first[5:])
        if first.startswith("event:") and rest.startswith("data:") and "\n" not in rest:
            return _field_value(first[6:]), _field_value(rest[5:])
    event, data, _ = sse_fields(text)
    return event, data


def _field_value(value: str) -> str:
    return value[1:] if value.startswith(" ") else value


def _json_error(exc: Exception) -> str:
    return str(exc) if isinstance(exc, json.JSONDecodeError) else "nested too deeply"


def _seconds(ms: float) -> str:
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.2f} s"
