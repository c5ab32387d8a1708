"""A recorded call as Python: the openai SDK for OpenAI-format calls, the anthropic SDK for
Messages calls, else httpx with the body as recorded."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

from relayscope.calls.record import CallRecord
from relayscope.exchange.code_export.literals import literal, string_literal
from relayscope.exchange.code_export.recorded import (
    as_text,
    body_json,
    is_stream,
    origin,
    recorded_headers,
    request_url,
)
from relayscope.exchange.code_export.sdk import (
    ANTHROPIC_KEY_ENV,
    API_KEY_ENV,
    MESSAGES_PARAMS,
    MESSAGES_PRINT,
    MESSAGES_STREAM_LOOP,
    MESSAGES_SUFFIX,
    RESULT_PRINTS,
    SDK_HEADER_PREFIXES,
    SDK_HEADERS,
    SDK_METHODS,
    STREAM_LOOPS,
)


def _sdk_base_url(call: CallRecord, base_url: str, suffix: str) -> str:
    """The base_url the SDK needs to reach the recorded path (it appends `suffix` itself)."""
    path = as_text(call.get("path")).partition("?")[0]
    if path.startswith("/") and path.endswith(suffix):
        return origin(base_url) + path[: -len(suffix)]
    return base_url.rstrip("/")


#: The docstring every Python snippet starts with; it holds no recorded value.
DOCSTRING = (
    '"""Sends a recorded call again through Relayscope.\n\n'
    f"Relayscope sends the provider's key from its config; {API_KEY_ENV} is only a\n"
    'placeholder here (or your Relayscope access token, if you set one)."""\n'
)


MESSAGES_DOCSTRING = DOCSTRING.replace(API_KEY_ENV, ANTHROPIC_KEY_ENV)


def _docstring(call: CallRecord, fixed: str = DOCSTRING) -> str:
    """The fixed docstring, then one comment naming the call; every recorded value in it is a
    quoted literal, so it stays on its one line whatever the value holds."""
    what = [f"call {string_literal(as_text(call.get('id')) or '?')}"]
    if call.get("endpoint"):
        what.append(string_literal(as_text(call.get("endpoint"))))
    for key in ("model", "provider"):
        if call.get(key):
            what.append(f"{key} {string_literal(as_text(call.get(key)))}")
    return fixed + f"\n# Recorded {', '.join(what)}\n\n"


def as_python(call: CallRecord, base_url: str) -> str:
    """Python that sends the recorded request again: the openai SDK where it fits, else httpx."""
    body = body_json(call)
    endpoint = as_text(call.get("endpoint"))
    method = as_text(call.get("method")) or "POST"
    if isinstance(body, dict) and method == "POST" and endpoint in SDK_METHODS:
        return _docstring(call) + _sdk_code(call, base_url, endpoint, body)
    path = as_text(call.get("path")).partition("?")[0]
    if (
        isinstance(body, dict)
        and method == "POST"
        and endpoint == "messages"
        and path.endswith(MESSAGES_SUFFIX)
        and _unique_query(call)
    ):
        return _docstring(call, MESSAGES_DOCSTRING) + _messages_code(call, base_url, body)
    if method == "GET" and endpoint == "models" and as_text(call.get("path")).endswith("/models"):
        return (
            _docstring(call)
            + _client_code(call, base_url, "/models")
            + ("\nfor model in client.models.list():\n    print(model.id)\n")
        )
    return _docstring(call) + _httpx_code(call, base_url, body)


def _client_code(call: CallRecord, base_url: str, suffix: str) -> str:
    return (
        "import os\n\nfrom openai import OpenAI\n\n"
        "client = OpenAI(\n"
        f"    base_url={literal(_sdk_base_url(call, base_url, suffix))},\n"
        f'    api_key=os.environ.get("{API_KEY_ENV}", "relayscope"),\n'
        ")\n"
    )


def _sdk_extra_headers(call: CallRecord) -> dict[str, str]:
    return {
        name: value
        for name, value in recorded_headers(call)
        if name.lower() not in SDK_HEADERS and not name.lower().startswith(SDK_HEADER_PREFIXES)
    }


def _sdk_code(call: CallRecord, base_url: str, endpoint: str, body: dict[str, Any]) -> str:
    function, known, suffix = SDK_METHODS[endpoint]
    named = {k: v for k, v in body.items() if k in known}
    extra = {k: v for k, v in body.items() if k not in known}
    headers = _sdk_extra_headers(call)
    code = _client_code(call, base_url, suffix) + f"\nbody = {literal(named)}\n"
    arguments = ["**body"]
    if extra:
        code += f"# Not named parameters of {function}(); sent in the JSON body as they are.\n"
        code += f"extra_body = {literal(extra)}\n"
        arguments.append("extra_body=extra_body")
    if headers:
        code += f"extra_headers = {literal(headers)}\n"
        arguments.append("extra_headers=extra_headers")
    streaming = is_stream(call, body) and endpoint in STREAM_LOOPS
    result = "stream" if streaming else "response"
    code += f"\n{result} = {function}({', '.join(arguments)})\n"
    return code + (STREAM_LOOPS[endpoint] if streaming else RESULT_PRINTS[endpoint])


def _unique_query(call: CallRecord) -> bool:
    """A query the SDK's extra_query (a dict) can say: no name twice."""
    query = parse_qsl(urlsplit(as_text(call.get("path"))).query, keep_blank_values=True)
    return len({name for name, _ in query}) == len(query)


def _messages_code(call: CallRecord, base_url: str, body: dict[str, Any]) -> str:
    """The anthropic SDK's `messages.create` with the recorded body, headers and query."""
    named = {k: v for k, v in body.items() if k in MESSAGES_PARAMS}
    extra = {k: v for k, v in body.items() if k not in MESSAGES_PARAMS}
    headers = {
        name: value
        for name, value in recorded_headers(call)
        if name.lower() not in SDK_HEADERS and not name.lower().startswith("x-stainless-")
    }
    query = parse_qsl(urlsplit(as_text(call.get("path"))).query, keep_blank_values=True)
    code = (
        "import os\n\nfrom anthropic import Anthropic\n\n"
        "client = Anthropic(\n"
        f"    base_url={literal(_sdk_base_url(call, base_url, MESSAGES_SUFFIX))},\n"
        f'    api_key=os.environ.get("{ANTHROPIC_KEY_ENV}", "relayscope"),\n'
        "    timeout=600,\n"
        ")\n"
        f"\nbody = {literal(named)}\n"
    )
    arguments = ["**body"]
    if extra:
        code += "# Not named parameters of client.messages.create(); sent in the JSON body.\n"
        code += f"extra_body = {literal(extra)}\n"
        arguments.append("extra_body=extra_body")
    if headers:
        code += f"extra_headers = {literal(headers)}\n"
        arguments.append("extra_headers=extra_headers")
    if query:
        code += f"extra_query = {literal(dict(query))}\n"
        arguments.append("extra_query=extra_query")
    streaming = is_stream(call, body)
    result = "stream" if streaming else "response"
    code += f"\n{result} = client.messages.create({', '.join(arguments)})\n"
    return code + (MESSAGES_STREAM_LOOP if streaming else MESSAGES_PRINT)


def _httpx_code(call: CallRecord, base_url: str, body: Any) -> str:
    method = as_text(call.get("method")) or "POST"
    headers = dict(recorded_headers(call))
    code = "import os\n\nimport httpx\n\n"
    code += f"url = {literal(request_url(call, base_url))}\n"
    code += f"headers = {literal(headers)}\n"
    code += (
        f'headers["Authorization"] = "Bearer " + os.environ.get("{API_KEY_ENV}", "relayscope")\n'
    )
    raw = as_text(call.get("request_body"))
    if body is not None:
        code += f"body = {literal(body)}\n"
        payload = ", json=body"
    elif raw:
        code += f"content = {literal(raw)}\n"
        payload = ", content=content"
    else:
        payload = ""
    request = f"{literal(method)}, url, headers=headers{payload}, timeout=600"
    if is_stream(call, body):
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
