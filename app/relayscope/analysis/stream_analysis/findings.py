"""Every finding the checks can report, by name: its severity and its message."""

from __future__ import annotations

from relayscope.analysis.stream_analysis.result import ERROR, INFO, WARNING

# Every finding, by name ("code" or "code.variant"): its severity and its message, one
# sentence a person can act on. The placeholders are filled from what the check found.
FINDINGS: dict[str, tuple[str, str]] = {
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
