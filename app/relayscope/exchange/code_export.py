"""Turns a recorded call into code that sends it again through Relayscope: curl or Python.

Python uses the openai SDK for OpenAI-format calls and the anthropic SDK for Anthropic
Messages calls (`client.messages.create`, every body field either a named parameter or in
`extra_body`, the recorded query in `extra_query`), else httpx with the body as recorded.
"""

from __future__ import annotations

import json
import shlex
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "ANTHROPIC_KEY_ENV",
    "API_KEY_ENV",
    "DOCSTRING",
    "MESSAGES_DOCSTRING",
    "as_curl",
    "as_python",
    "request_url",
]

#: The environment variable the snippets read the API key from; never a key itself.
API_KEY_ENV = "OPENAI_API_KEY"
#: The same for the anthropic SDK's snippets (Messages calls).
ANTHROPIC_KEY_ENV = "ANTHROPIC_API_KEY"

# Headers a snippet never copies: transport details the tool sets itself, the recorded (and
# redacted) credentials, and Relayscope's own bookkeeping headers for replays.
_TRANSPORT_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "upgrade",
        "expect",
        "accept-encoding",
        "proxy-connection",
        "authorization",
        "proxy-authorization",
        "api-key",
        "x-api-key",
        "x-goog-api-key",
        "cookie",
        "x-relayscope-token",
        "x-relayscope-replay-of",
        "x-relayscope-group",
    }
)
# Headers the openai SDK sets on its own; copying them would fight it.
_SDK_HEADERS = frozenset({"content-type", "accept", "user-agent"})
_SDK_HEADER_PREFIXES = ("x-stainless-", "openai-")

# Parameters each SDK method takes by name (stable across openai 1.x and later); anything
# else in a body goes through `extra_body`, which the SDK merges into the JSON unchanged.
_CHAT_PARAMS = frozenset(
    [
        "messages",
        "model",
        "audio",
        "frequency_penalty",
        "function_call",
        "functions",
        "logit_bias",
        "logprobs",
        "max_completion_tokens",
        "max_tokens",
        "metadata",
        "modalities",
        "n",
        "parallel_tool_calls",
        "prediction",
        "presence_penalty",
        "reasoning_effort",
        "response_format",
        "seed",
        "service_tier",
        "stop",
        "store",
        "stream",
        "stream_options",
        "temperature",
        "tool_choice",
        "tools",
        "top_logprobs",
        "top_p",
        "user",
    ]
)
_RESPONSES_PARAMS = frozenset(
    [
        "input",
        "model",
        "include",
        "instructions",
        "max_output_tokens",
        "metadata",
        "parallel_tool_calls",
        "previous_response_id",
        "reasoning",
        "store",
        "stream",
        "temperature",
        "text",
        "tool_choice",
        "tools",
        "top_p",
        "truncation",
        "user",
    ]
)
_COMPLETIONS_PARAMS = frozenset(
    [
        "model",
        "prompt",
        "best_of",
        "echo",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "max_tokens",
        "n",
        "presence_penalty",
        "seed",
        "stop",
        "stream",
        "stream_options",
        "suffix",
        "temperature",
        "top_p",
        "user",
    ]
)
_EMBEDDINGS_PARAMS = frozenset(["input", "model", "dimensions", "encoding_format", "user"])

#: What `client.messages.create` of the anthropic SDK names (the rest goes in extra_body).
MESSAGES_PARAMS = frozenset(
    [
        "max_tokens",
        "messages",
        "model",
        "metadata",
        "service_tier",
        "stop_sequences",
        "stream",
        "system",
        "temperature",
        "thinking",
        "tool_choice",
        "tools",
        "top_k",
        "top_p",
    ]
)
#: The path the anthropic SDK appends to its base_url.
MESSAGES_SUFFIX = "/v1/messages"
_MESSAGES_STREAM_LOOP = (
    "for event in stream:\n"
    '    if event.type == "content_block_delta" and event.delta.type == "text_delta":\n'
    '        print(event.delta.text, end="", flush=True)\n'
    "print()\n"
)
_MESSAGES_PRINT = (
    'for block in response.content:\n    if block.type == "text":\n        print(block.text)\n'
)

#: endpoint -> (SDK method, parameters it names, path suffix the SDK appends to base_url)
SDK_METHODS: dict[str, tuple[str, frozenset[str], str]] = {
    "chat.completions": ("client.chat.completions.create", _CHAT_PARAMS, "/chat/completions"),
    "responses": ("client.responses.create", _RESPONSES_PARAMS, "/responses"),
    "completions": ("client.completions.create", _COMPLETIONS_PARAMS, "/completions"),
    "embeddings": ("client.embeddings.create", _EMBEDDINGS_PARAMS, "/embeddings"),
}

_STREAM_LOOPS = {
    "chat.completions": (
        "for chunk in stream:\n"
        "    if chunk.choices and chunk.choices[0].delta.content:\n"
        '        print(chunk.choices[0].delta.content, end="", flush=True)\n'
        "print()\n"
    ),
    "responses": (
        "for event in stream:\n"
        '    if event.type == "response.output_text.delta":\n'
        '        print(event.delta, end="", flush=True)\n'
        "print()\n"
    ),
    "completions": (
        "for chunk in stream:\n"
        "    if chunk.choices:\n"
        '        print(chunk.choices[0].text, end="", flush=True)\n'
        "print()\n"
    ),
}
_RESULT_PRINTS = {
    "chat.completions": "print(response.choices[0].message.content)\n",
    "responses": "print(response.output_text)\n",
    "completions": "print(response.choices[0].text)\n",
    "embeddings": 'print(len(response.data), "embeddings of", len(response.data[0].embedding))\n',
}


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _origin(base_url: str) -> str:
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}"


def request_url(call: dict[str, Any], base_url: str) -> str:
    """Where the call goes when sent again: Relayscope's address plus the path it was sent to."""
    path = _text(call.get("path"))
    if path.startswith("/"):
        return _origin(base_url) + path
    suffix = SDK_METHODS.get(_text(call.get("endpoint")), ("", frozenset(), ""))[2]
    return base_url.rstrip("/") + suffix


def _headers(call: dict[str, Any]) -> list[tuple[str, str]]:
    """The recorded request headers worth sending again (no credentials, no transport)."""
    try:
        pairs = json.loads(_text(call.get("request_headers")) or "[]")
    except ValueError:
        return []
    out: list[tuple[str, str]] = []
    for pair in pairs if isinstance(pairs, list) else []:
        if isinstance(pair, list | tuple) and len(pair) == 2:
            name, value = str(pair[0]), str(pair[1])
            if name.lower() not in _TRANSPORT_HEADERS and not name.lower().startswith(
                "x-stainless-"
            ):
                out.append((name, value))
    return out


def _body_json(call: dict[str, Any]) -> Any:
    try:
        return json.loads(_text(call.get("request_body")))
    except ValueError:
        return None


def _is_stream(call: dict[str, Any], body: Any) -> bool:
    if isinstance(body, dict) and "stream" in body:
        return body.get("stream") is True
    return bool(call.get("stream"))


# --- curl ---------------------------------------------------------------------------------


def _shell_word(value: str) -> str:
    """One shell word that is exactly `value` and prints as what it is.

    Printable text goes in POSIX single quotes (nothing inside is expanded: no `$(…)`, no
    backticks, and a `'` is closed, escaped and reopened). Text with a control character
    (a newline, ESC, U+2028, a bidi control) uses `$'…'` quoting with `\\xHH` escapes for
    its UTF-8 bytes, so pasting or printing the command never sends those characters to a
    terminal. A NUL cannot be part of a command-line argument and is left out.
    """
    value = value.replace("\0", "")
    if all(char.isprintable() for char in value):
        return shlex.quote(value)
    out = []
    for char in value:
        if char in "\\'":
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        else:
            out.extend(f"\\x{byte:02x}" for byte in char.encode("utf-8", "surrogatepass"))
    return "$'" + "".join(out) + "'"


def as_curl(call: dict[str, Any], base_url: str) -> str:
    """A curl command (bash, zsh, or any POSIX shell) that sends the recorded request through
    Relayscope.

    The body is sent exactly as recorded (a body holding NUL bytes goes through `printf`
    on standard input). The key comes from $OPENAI_API_KEY at run time. Every recorded value
    is one quoted word (`_shell_word`): none can add an argument, a command or an expansion.
    """
    method = _text(call.get("method")) or "POST"
    body = _text(call.get("request_body"))
    lines = [f"curl {_shell_word(request_url(call, base_url))}"]
    if method != ("POST" if body else "GET"):
        lines.append(f"-X {_shell_word(method)}")
    headers = _headers(call)
    if body and not any(name.lower() == "content-type" for name, _ in headers):
        headers.insert(0, ("Content-Type", "application/json"))
    lines += [f"-H {_shell_word(f'{name}: {value}')}" for name, value in headers]
    # Double quotes so the shell puts the key in; the recorded key is redacted anyway.
    lines.append(f'-H "Authorization: Bearer ${API_KEY_ENV}"')
    if _is_stream(call, _body_json(call)):
        lines.append("--no-buffer")  # show the events as they arrive
    prefix = ""
    if "\0" in body:  # printf %b turns \0000 back into a NUL; \\ into a backslash
        printf_body = body.replace("\\", "\\\\").replace("\0", "\\0000")
        prefix = f"printf '%b' {_shell_word(printf_body)} | "
        lines.append("--data-binary @-")
    elif body:
        lines.append(f"--data-raw {_shell_word(body)}")
    return prefix + " \\\n  ".join(lines) + "\n"


# --- Python -------------------------------------------------------------------------------


_FLOAT_WORDS = {"nan": 'float("nan")', "inf": 'float("inf")', "-inf": 'float("-inf")'}


_PYTHON_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _python_escape(char: str) -> str:
    if char in _PYTHON_ESCAPES:
        return _PYTHON_ESCAPES[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _string_literal(text: str) -> str:
    """A double-quoted Python string literal holding only printable characters.

    Every character a terminal, an editor or the tokenizer could take for something else
    (newlines, U+2028, NUL, ESC, bidi controls, lone surrogates) is written as an escape, so a
    recorded value can neither end the literal nor hide or reorder the code around it.
    """
    return (
        '"'
        + "".join(
            char if char.isprintable() and char not in '"\\' else _python_escape(char)
            for char in text
        )
        + '"'
    )


def _literal(value: Any, indent: int = 0) -> str:
    """A Python literal that reads like the JSON it came from (double quotes, 4 spaces)."""
    if isinstance(value, str):
        return _string_literal(value)
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return _FLOAT_WORDS.get(repr(value), repr(value))
    inner = " " * (indent + 4)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [
            f"{inner}{_string_literal(str(k))}: {_literal(v, indent + 4)}" for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        items = [f"{inner}{_literal(v, indent + 4)}" for v in value]
        return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"
    return _string_literal(str(value))


def _sdk_base_url(call: dict[str, Any], base_url: str, suffix: str) -> str:
    """The base_url the SDK needs to reach the recorded path (it appends `suffix` itself)."""
    path = _text(call.get("path")).partition("?")[0]
    if path.startswith("/") and path.endswith(suffix):
        return _origin(base_url) + path[: -len(suffix)]
    return base_url.rstrip("/")


#: The docstring every Python snippet starts with; it holds no recorded value.
DOCSTRING = (
    '"""Sends a recorded call again through Relayscope.\n\n'
    f"Relayscope sends the provider's key from its config; {API_KEY_ENV} is only a\n"
    'placeholder here (or your Relayscope access token, if you set one)."""\n'
)


MESSAGES_DOCSTRING = DOCSTRING.replace(API_KEY_ENV, ANTHROPIC_KEY_ENV)


def _docstring(call: dict[str, Any], fixed: str = DOCSTRING) -> str:
    """The fixed docstring, then one comment naming the call; every recorded value in it is a
    quoted literal, so it stays on its one line whatever the value holds."""
    what = [f"call {_string_literal(_text(call.get('id')) or '?')}"]
    if call.get("endpoint"):
        what.append(_string_literal(_text(call.get("endpoint"))))
    for key in ("model", "provider"):
        if call.get(key):
            what.append(f"{key} {_string_literal(_text(call.get(key)))}")
    return fixed + f"\n# Recorded {', '.join(what)}\n\n"


def as_python(call: dict[str, Any], base_url: str) -> str:
    """Python that sends the recorded request again: the openai SDK where it fits, else httpx."""
    body = _body_json(call)
    endpoint = _text(call.get("endpoint"))
    method = _text(call.get("method")) or "POST"
    if isinstance(body, dict) and method == "POST" and endpoint in SDK_METHODS:
        return _docstring(call) + _sdk_code(call, base_url, endpoint, body)
    path = _text(call.get("path")).partition("?")[0]
    if (
        isinstance(body, dict)
        and method == "POST"
        and endpoint == "messages"
        and path.endswith(MESSAGES_SUFFIX)
        and _unique_query(call)
    ):
        return _docstring(call, MESSAGES_DOCSTRING) + _messages_code(call, base_url, body)
    if method == "GET" and endpoint == "models" and _text(call.get("path")).endswith("/models"):
        return (
            _docstring(call)
            + _client_code(call, base_url, "/models")
            + ("\nfor model in client.models.list():\n    print(model.id)\n")
        )
    return _docstring(call) + _httpx_code(call, base_url, body)


def _client_code(call: dict[str, Any], base_url: str, suffix: str) -> str:
    return (
        "import os\n\nfrom openai import OpenAI\n\n"
        "client = OpenAI(\n"
        f"    base_url={_literal(_sdk_base_url(call, base_url, suffix))},\n"
        f'    api_key=os.environ.get("{API_KEY_ENV}", "relayscope"),\n'
        ")\n"
    )


def _sdk_extra_headers(call: dict[str, Any]) -> dict[str, str]:
    return {
        name: value
        for name, value in _headers(call)
        if name.lower() not in _SDK_HEADERS and not name.lower().startswith(_SDK_HEADER_PREFIXES)
    }


def _sdk_code(call: dict[str, Any], base_url: str, endpoint: str, body: dict[str, Any]) -> str:
    function, known, suffix = SDK_METHODS[endpoint]
    named = {k: v for k, v in body.items() if k in known}
    extra = {k: v for k, v in body.items() if k not in known}
    headers = _sdk_extra_headers(call)
    code = _client_code(call, base_url, suffix) + f"\nbody = {_literal(named)}\n"
    arguments = ["**body"]
    if extra:
        code += f"# Not named parameters of {function}(); sent in the JSON body as they are.\n"
        code += f"extra_body = {_literal(extra)}\n"
        arguments.append("extra_body=extra_body")
    if headers:
        code += f"extra_headers = {_literal(headers)}\n"
        arguments.append("extra_headers=extra_headers")
    streaming = _is_stream(call, body) and endpoint in _STREAM_LOOPS
    result = "stream" if streaming else "response"
    code += f"\n{result} = {function}({', '.join(arguments)})\n"
    return code + (_STREAM_LOOPS[endpoint] if streaming else _RESULT_PRINTS[endpoint])


def _unique_query(call: dict[str, Any]) -> bool:
    """A query the SDK's extra_query (a dict) can say: no name twice."""
    query = parse_qsl(urlsplit(_text(call.get("path"))).query, keep_blank_values=True)
    return len({name for name, _ in query}) == len(query)


def _messages_code(call: dict[str, Any], base_url: str, body: dict[str, Any]) -> str:
    """The anthropic SDK's `messages.create` with the recorded body, headers and query."""
    named = {k: v for k, v in body.items() if k in MESSAGES_PARAMS}
    extra = {k: v for k, v in body.items() if k not in MESSAGES_PARAMS}
    headers = {
        name: value
        for name, value in _headers(call)
        if name.lower() not in _SDK_HEADERS and not name.lower().startswith("x-stainless-")
    }
    query = parse_qsl(urlsplit(_text(call.get("path"))).query, keep_blank_values=True)
    code = (
        "import os\n\nfrom anthropic import Anthropic\n\n"
        "client = Anthropic(\n"
        f"    base_url={_literal(_sdk_base_url(call, base_url, MESSAGES_SUFFIX))},\n"
        f'    api_key=os.environ.get("{ANTHROPIC_KEY_ENV}", "relayscope"),\n'
        "    timeout=600,\n"
        ")\n"
        f"\nbody = {_literal(named)}\n"
    )
    arguments = ["**body"]
    if extra:
        code += "# Not named parameters of client.messages.create(); sent in the JSON body.\n"
        code += f"extra_body = {_literal(extra)}\n"
        arguments.append("extra_body=extra_body")
    if headers:
        code += f"extra_headers = {_literal(headers)}\n"
        arguments.append("extra_headers=extra_headers")
    if query:
        code += f"extra_query = {_literal(dict(query))}\n"
        arguments.append("extra_query=extra_query")
    streaming = _is_stream(call, body)
    result = "stream" if streaming else "response"
    code += f"\n{result} = client.messages.create({', '.join(arguments)})\n"
    return code + (_MESSAGES_STREAM_LOOP if streaming else _MESSAGES_PRINT)


def _httpx_code(call: dict[str, Any], base_url: str, body: Any) -> str:
    method = _text(call.get("method")) or "POST"
    headers = dict(_headers(call))
    code = "import os\n\nimport httpx\n\n"
    code += f"url = {_literal(request_url(call, base_url))}\n"
    code += f"headers = {_literal(headers)}\n"
    code += (
        f'headers["Authorization"] = "Bearer " + os.environ.get("{API_KEY_ENV}", "relayscope")\n'
    )
    raw = _text(call.get("request_body"))
    if body is not None:
        code += f"body = {_literal(body)}\n"
        payload = ", json=body"
    elif raw:
        code += f"content = {_literal(raw)}\n"
        payload = ", content=content"
    else:
        payload = ""
    request = f"{_literal(method)}, url, headers=headers{payload}, timeout=600"
    if _is_stream(call, body):
        return code + (
            f"\nwith httpx.stream({request}) as response:\n"
            "    print(response.status_code)\n"
            "    for line in response.iter_lines():\n"
            "        print(line)\n"
        )
    return code + (
        f"\nresponse = httpx.request({request})\n"
        "print(response.status_code)\nprint(response.text)\n"
    )
