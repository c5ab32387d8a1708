"""Terminal views of recorded calls: `relayscope calls` and `relayscope show`."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relayscope.analysis import diagnostics
from relayscope.analysis.cost import Pricer
from relayscope.analysis.stream_analysis import ERROR, INFO, WARNING, StreamAnalysis, analyse
from relayscope.analysis.stream_stats import event_label
from relayscope.calls.safe_text import visible, visible_json
from relayscope.config import Config
from relayscope.protocols import multipart
from relayscope.store.call_store import CallFilter, CallStore, StoreError


def open_store(db_path: Path) -> CallStore | None:
    """The recording database for a CLI command, or None after saying why it cannot open."""
    try:
        return CallStore(db_path, create=False)
    except StoreError as exc:
        print(f"relayscope: {visible(exc)}", file=sys.stderr)
        return None


def run(args: argparse.Namespace, db_path: Path, config: Config | None = None) -> int:
    store = open_store(db_path)
    if store is None:
        return 1
    pricer = Pricer.from_config(config)
    try:
        if args.command == "calls":
            return _calls(store, args, pricer)
        if args.command == "diagnose":
            return _diagnose(store, args, pricer)
        return _show(store, args, config, pricer)
    except StoreError as exc:
        print(f"relayscope: {visible(exc)}", file=sys.stderr)
        return 1
    finally:
        store.close()


def _calls(store: CallStore, args: argparse.Namespace, pricer: Pricer) -> int:
    flt = CallFilter(text=args.search, errors_only=args.errors)
    rows = store.list_calls(flt, limit=args.limit)
    if args.json:
        for row in rows:
            print(visible_json(json.dumps(_with_cost(row, pricer), ensure_ascii=False)))
        return 0
    print(
        f"{'id':21} {'time':8} {'provider':10} {'model':22} {'status':>6} {'state':11} "
        f"{'ttft':>7} {'dur':>8} {'tokens':>11} {'cost':>9}"
    )
    for row in rows:
        print(f"{format_row(row)} {pricer.price(row).text():>9}")
    total = store.count_calls(flt)
    if total > len(rows):
        print(f"… {total - len(rows)} more (use -n)")
    return 0


def format_ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f}ms" if value < 10_000 else f"{value / 1000:.1f}s"


def format_row(row: dict[str, Any]) -> str:
    """One line of `relayscope calls`; recorded values are escaped (`safe_text.visible`)."""
    time = visible(row.get("started_at"))[11:19]
    tokens = "—"
    if row.get("prompt_tokens") is not None or row.get("completion_tokens") is not None:
        tokens = f"{row.get('prompt_tokens') or 0}/{row.get('completion_tokens') or 0}"
    return (
        f"{visible(row['id']):21} {time:8} {visible(row.get('provider') or '-')[:10]:10} "
        f"{visible(row.get('model') or '-')[:22]:22} {visible(row.get('status') or '—'):>6} "
        f"{visible(row.get('state')):11} {format_ms(row.get('ttft_ms')):>7} "
        f"{format_ms(row.get('duration_ms')):>8} {tokens:>11}"
    )


def _with_cost(row: dict[str, Any], pricer: Pricer) -> dict[str, Any]:
    """A row for JSON output, with its cost (`usd` null when unknown) and the price's source."""
    return _jsonable(row) | {"cost": pricer.price(row).as_json()}


def _show(store: CallStore, args: argparse.Namespace, config: Config | None, pricer: Pricer) -> int:
    call_id = store.resolve_id(args.id)
    call = store.get_call(call_id)
    assert call is not None
    if args.as_code:
        print(_snippet(call, args.as_code, config), end="")
        return 0
    if args.json:
        print(visible_json(json.dumps(_with_cost(call, pricer), ensure_ascii=False, indent=2)))
        return 0
    for key in (
        "id",
        "started_at",
        "method",
        "path",
        "provider",
        "model",
        "status",
        "state",
        "error",
        "ttft_ms",
        "first_byte_ms",
        "duration_ms",
        "hold_ms",
        "chunk_count",
        "finish_reason",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "cached_tokens",
        "reasoning_tokens",
        "replay_of",
        "client",
    ):
        if call.get(key) is not None:
            print(f"{key:18} {visible(call[key])}")
    if call.get("note"):
        print(f"{'note':18} {visible(call['note'])}")
    if call.get("connection_id"):
        print(f"{'connection':18} {visible(connection_summary(store, call['connection_id']))}")
    cost = pricer.price(call)
    print(f"{'cost':18} {visible(cost.text())} ({visible(cost.basis)})")
    if call.get("output_text"):
        print("\n" + visible(call["output_text"], multiline=True))
    if args.stream:
        colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        width = max(80, shutil.get_terminal_size((100, 24)).columns) if colour else 100
        chunks = store.chunks(call["id"])
        for line in stream_report(call, chunks, width=width, colour=colour):
            print(line)
    return 0


# --- `show --stream`: the stream debugger ---------------------------------------------------

_MARKS = {ERROR: "✗", WARNING: "!", INFO: "i"}
_HEAD = 20  # chunks shown at the start of a long stream
_TAIL = 10  # and at its end
_EVENT_WIDTH = 26
_ALL_UP_TO = _HEAD + _TAIL + 10  # streams this short are shown whole


@dataclass(frozen=True, slots=True)
class _Colours:
    """ANSI colours for severities; off unless stdout is a terminal (and NO_COLOR is unset)."""

    on: bool

    def severity(self, severity: str, text: str) -> str:
        if not self.on:
            return text
        code = {ERROR: "31;1", WARNING: "33", INFO: "2"}.get(severity, "0")
        return f"\x1b[{code}m{text}\x1b[0m"


def connection_summary(store: CallStore, connection_id: str) -> str:
    """One line about the WebSocket that carried a call: when, how many calls, who closed it."""
    row = store.get_connection(connection_id)
    if row is None:
        return f"{connection_id} (not recorded)"
    text = f"{connection_id} WebSocket opened {row['started_at']}, {row['call_count'] or 0} calls"
    if row["state"] == "open":
        return text + ", still open"
    code = f" ({row['close_code']}{': ' + row['close_reason'] if row['close_reason'] else ''})"
    who = f" by the {row['closed_by']}" if row["closed_by"] else ""
    return f"{text}, closed{who}{code if row['close_code'] else ''}"


def stream_report(
    call: dict[str, Any],
    chunks: list[dict[str, Any]],
    *,
    width: int = 100,
    colour: bool = False,
) -> list[str]:
    """Summary, timeline and findings of one call's stream, as lines of text."""
    colours = _Colours(on=colour)
    analysis = analyse(call, chunks)
    lines = ["", *_stream_summary(call, analysis)]
    if chunks:
        lines += ["", *_timeline(chunks, analysis, width, colours)]
    lines += ["", *_findings(analysis, width, colours)]
    return lines


def _stream_summary(call: dict[str, Any], analysis: StreamAnalysis) -> list[str]:
    ttft = f"TTFT {_ms(analysis.ttft_ms)}"
    if analysis.first_byte_ms is not None:
        ttft += f" (first byte {_ms(analysis.first_byte_ms)})"
    speed = analysis.output_tokens_per_s
    rate = f"{speed:,.1f} tok/s" if speed is not None else "tok/s —"
    lines = [
        f"Stream   {analysis.chunk_count:,} chunks · {ttft} · total {_ms(analysis.total_ms)}"
        f" · {rate}"
    ]
    if analysis.gap_median_ms is None:
        lines.append("Gaps     — (fewer than two chunks)")
    else:
        lines.append(
            f"Gaps     median {_ms(analysis.gap_median_ms)} · p95 {_ms(analysis.gap_p95_ms)}"
            f" · max {_ms(analysis.gap_max_ms)} before chunk {analysis.longest_stall_seq}"
        )
    return lines


def _timeline(
    chunks: list[dict[str, Any]], analysis: StreamAnalysis, width: int, colours: _Colours
) -> list[str]:
    """One line per chunk; a long stream shows its start, end, longest stall and findings."""
    worst: dict[int, str] = {}
    for finding in reversed(analysis.findings):  # findings come worst first
        if finding.seq is not None:
            worst[finding.seq] = finding.severity
    index_of = {chunk["seq"]: i for i, chunk in enumerate(chunks)}
    lines = [f"  {'seq':>5} {'t':>8} {'+gap':>9}  {'event':<{_EVENT_WIDTH}} delta"]
    previous_index, previous_t = -1, 0.0
    for i in _shown(len(chunks), analysis, index_of, worst):
        if i > previous_index + 1:
            lines.append(f"  {'':>5} … {i - previous_index - 1:,} chunks …")
        chunk = chunks[i]
        if i > 0:
            previous_t = chunks[i - 1]["t_ms"]
        severity = worst.get(chunk["seq"])
        mark = colours.severity(severity, _MARKS[severity]) if severity else " "
        lines.append(mark + _chunk_line(chunk, chunk["t_ms"] - previous_t, width - 1))
        previous_index = i
    return lines


def _shown(
    count: int, analysis: StreamAnalysis, index_of: dict[int, int], worst: dict[int, str]
) -> list[int]:
    if count <= _ALL_UP_TO:
        return list(range(count))
    keep = set(range(_HEAD)) | set(range(count - _TAIL, count))
    if analysis.longest_stall_seq in index_of:
        i = index_of[analysis.longest_stall_seq]
        keep.update(range(i - 2, i + 3))
    for seq in list(worst)[:30]:
        if seq in index_of:
            keep.update(range(index_of[seq] - 1, index_of[seq] + 2))
    return sorted(i for i in keep if 0 <= i < count)


def _chunk_line(chunk: dict[str, Any], gap: float, width: int) -> str:
    data = chunk["data"]
    text = data if isinstance(data, str) else bytes(data).decode("utf-8", "replace")
    label = event_label(text)
    event = visible(label.event_type)
    if len(event) > _EVENT_WIDTH and event.startswith("response."):
        event = event.removeprefix("response.")
    if chunk.get("direction") == "client":
        event = "→ " + event  # the client's message on a WebSocket
    head = (
        f" {chunk['seq']:>5} {_ms(chunk['t_ms']):>8} {'+' + _ms(gap):>9}  "
        f"{_cut(event, _EVENT_WIDTH):<{_EVENT_WIDTH}} "
    )
    delta = visible(_flat(label.delta_text))
    return (head + _cut(delta, max(10, width - len(head)))).rstrip()


def _findings(analysis: StreamAnalysis, width: int, colours: _Colours) -> list[str]:
    if not analysis.findings:
        return ["Findings: none; the stream looks healthy."]
    lines = [f"Findings ({len(analysis.findings)})"]
    indent = " " * 18
    for finding in analysis.findings:
        where = f"#{finding.seq}" if finding.seq is not None else "—"
        head = f"  {finding.severity:<8} {where:<6} "
        wrapped = textwrap.wrap(
            visible(finding.message),
            width=width,
            initial_indent=head,
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        )
        wrapped[0] = wrapped[0].replace(
            finding.severity, colours.severity(finding.severity, finding.severity), 1
        )
        lines += wrapped
    return lines


def _ms(value: float | None) -> str:
    """3.2 ms, 412 ms, 3.48 s, 125 s."""
    if value is None:
        return "—"
    if value < 10 and value != int(value):
        return f"{value:.1f} ms"
    if value < 1000:
        return f"{value:.0f} ms"
    return f"{value / 1000:.2f} s" if value < 100_000 else f"{value / 1000:.0f} s"


def _flat(text: str) -> str:
    return text.replace("\r\n", "⏎").replace("\n", "⏎").replace("\r", "⏎").replace("\t", "→")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _snippet(call: dict[str, Any], language: str, config: Config | None) -> str:
    """`show --as curl|python`: the code that sends the call again through this proxy. The
    literal builders in code_export keep every recorded value printable and inert."""
    from relayscope.cli_actions import base_url
    from relayscope.exchange.code_export import as_curl, as_python

    url = base_url(config or Config())
    return as_curl(call, url) if language == "curl" else as_python(call, url)


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: (v.decode("utf-8", "replace") if isinstance(v, bytes) else v) for k, v in row.items()}
    form = multipart.call_form(row)
    if form is not None:  # a file's bytes are summed up, never mangled into U+FFFD
        out["request_body"] = form
    return out


def _diagnose(store: CallStore, args: argparse.Namespace, pricer: Pricer) -> int:
    if args.provider:
        if args.provider not in store.providers():
            known = ", ".join(visible(name) for name in store.providers()) or "none yet"
            print(
                f"relayscope: no recorded calls from provider '{visible(args.provider)}' "
                f"(recorded providers: {known}).",
                file=sys.stderr,
            )
            return 1
        reports = [diagnostics.diagnose(store, args.provider, pricer=pricer)]
    else:
        reports = diagnostics.diagnose_all(store, pricer=pricer)
    if args.report_format == "json":
        print(visible_json(diagnostics.as_json(reports)))
    else:
        print(visible(diagnostics.as_markdown(reports).rstrip(), multiline=True))
    return 0
