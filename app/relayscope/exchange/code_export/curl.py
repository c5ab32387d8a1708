"""A recorded call as a curl command."""

from __future__ import annotations

from relayscope.calls.record import CallRecord
from relayscope.exchange.code_export.literals import shell_word
from relayscope.exchange.code_export.recorded import (
    as_text,
    body_json,
    is_stream,
    recorded_headers,
    request_url,
)
from relayscope.exchange.code_export.sdk import API_KEY_ENV


def as_curl(call: CallRecord, base_url: str) -> str:
    """A curl command (bash, zsh, or any POSIX shell) that sends the recorded request through
    Relayscope.

    The body is sent exactly as recorded (a body holding NUL bytes goes through `printf`
    on standard input). The key comes from $OPENAI_API_KEY at run time. Every recorded value
    is one quoted word (`_shell_word`): none can add an argument, a command or an expansion.
    """
    method = as_text(call.get("method")) or "POST"
    body = as_text(call.get("request_body"))
    lines = [f"curl {shell_word(request_url(call, base_url))}"]
    if method != ("POST" if body else "GET"):
        lines.append(f"-X {shell_word(method)}")
    headers = recorded_headers(call)
    if body and not any(name.lower() == "content-type" for name, _ in headers):
        headers.insert(0, ("Content-Type", "application/json"))
    lines += [f"-H {shell_word(f'{name}: {value}')}" for name, value in headers]
    # Double quotes so the shell puts the key in; the recorded key is redacted anyway.
    lines.append(f'-H "Authorization: Bearer ${API_KEY_ENV}"')
    if is_stream(call, body_json(call)):
        lines.append("--no-buffer")  # show the events as they arrive
    prefix = ""
    if "\0" in body:  # printf %b turns \0000 back into a NUL; \\ into a backslash
        printf_body = body.replace("\\", "\\\\").replace("\0", "\\0000")
        prefix = f"printf '%b' {shell_word(printf_body)} | "
        lines.append("--data-binary @-")
    elif body:
        lines.append(f"--data-raw {shell_word(body)}")
    return prefix + " \\\n  ".join(lines) + "\n"
