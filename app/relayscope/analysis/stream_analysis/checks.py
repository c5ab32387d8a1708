"""The checks: a scan of the chunks and the call's row turned into findings (the stream's
end, a cut, usage, headers and compression, tool arguments, ids and models, stalls)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

from relayscope.analysis.stream_analysis.findings import FINDINGS
from relayscope.analysis.stream_analysis.readers import (
    as_bytes,
    as_float,
    error_text,
    get_key,
    headers_of,
    json_error,
    json_list,
    seconds,
    shorten,
)
from relayscope.analysis.stream_analysis.result import SEVERITY_RANK, Finding, stall_threshold_ms
from relayscope.analysis.stream_analysis.scan import Scan
from relayscope.analysis.stream_stats import Stall
from relayscope.calls import facts as call_facts
from relayscope.calls.record import CallRecord
from relayscope.protocols.openai_format import Assembled, read_request

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


class Checks:
    """Turns a scan and the call's row into findings."""

    def __init__(
        self,
        call: CallRecord,
        scan: Scan,
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
        self.headers = headers_of(call.get("response_headers"))
        self.live = call_facts.is_live(call)
        self.last_seq = scan.seqs[-1] if scan.seqs else None
        status = call.get("status")
        self.ok_status = status is None or 200 <= int(status) < 300
        content_type = self.headers.get("content-type", "")
        self.streamed = bool(scan.seqs) or (
            bool(call.get("stream")) and self.ok_status and "text/event-stream" in content_type
        )

    def add(self, finding: str, seq: int | None, **facts: object) -> None:
        severity, template = FINDINGS[finding]
        code = finding.partition(".")[0]
        self.findings.append(Finding(code, severity, seq, template.format(seq=seq, **facts)))

    def add_each(
        self, finding: str, items: Sequence[tuple[int, Mapping[str, object]]], noun: str
    ) -> None:
        """One finding per chunk, the first MAX_PER_CODE of them, then one for the rest."""
        for seq, facts in items[:MAX_PER_CODE]:
            self.add(finding, seq, **facts)
        if len(items) > MAX_PER_CODE:
            severity, _ = FINDINGS[finding]
            rest = items[MAX_PER_CODE:]
            _, template = FINDINGS["more"]
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
            key=lambda f: (SEVERITY_RANK[f.severity], -1 if f.seq is None else f.seq),
        )

    def _chunks(self) -> None:
        scan = self.scan
        invalid = [(seq, {"line": line, "why": why}) for seq, line, why in scan.invalid]
        self.add_each("invalid_json", invalid, "chunks are not valid JSON")
        status = self.call.get("status") or 200
        errors = [(seq, {"status": status, "error": error_text(e)}) for seq, e in scan.errors]
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
            where = f"after chunk {self.last_seq} (at {seconds(self.scan.times[-1])})"
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
                reason = get_key(terminal[2].get("incomplete_details"), "reason")
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
        if read_request(as_bytes(self.call.get("request_body"))).include_usage:
            return "client"
        if read_request(as_bytes(self.call.get("upstream_request_body"))).include_usage:
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
        quirks = json_list(self.call.get("quirks"))
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
                    shown=shorten(arguments, 60) if arguments else "(empty)",
                    why=json_error(exc),
                )

    def _stalls(self, cut: bool) -> None:
        scan = self.scan
        threshold = stall_threshold_ms(self.median)
        median = seconds(self.median) if self.median is not None else "—"
        stalls = [gap for gap in self.gaps if gap.gap_ms >= threshold]
        facts = [
            (
                stall.at_seq,
                {
                    "gap": seconds(stall.gap_ms),
                    "after": stall.after_seq,
                    "start": seconds(stall.start_ms),
                    "median": median,
                },
            )
            for stall in stalls
        ]
        self.add_each("stall", facts, "stalls")
        total = as_float(self.call.get("duration_ms"))
        if cut or self.live or total is None or not scan.times:
            return
        if total - scan.times[-1] >= threshold:
            self.add("stall.at_end", self.last_seq, gap=seconds(total - scan.times[-1]))


def _output_text(assembled: Assembled, *, with_reasoning: bool) -> str:
    """Everything the model wrote that counts as completion tokens."""
    parts = [assembled.output_text, assembled.refusal]
    if with_reasoning:
        parts.append(assembled.reasoning_text)
    for call in assembled.tool_calls:
        body = call.get("function") or call.get("custom") or {}
        parts += [str(body.get(key) or "") for key in ("name", "arguments", "input")]
    return "".join(parts)
