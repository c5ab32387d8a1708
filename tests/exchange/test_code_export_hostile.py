"""Generated curl and Python stay exactly what we meant, whatever a recorded value holds.

Every recorded field (id, model, endpoint, path, provider, method, header names and values,
body keys and values) and the base URL get hostile strings: `\"\"\"`, quotes, newlines, CR,
NUL, U+2028, NEL, ESC sequences, bidi controls, backslashes, `$(`, backticks. The Python is
parsed with `ast` and must hold only the statements a snippet has, with every value coming
back unchanged; the curl command is parsed by `shlex` and run by a real bash, and must give
exactly the argv we expect.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relayscope.exchange.code_export import API_KEY_ENV, DOCSTRING, SDK_METHODS, as_curl, as_python
from relayscope.exchange.code_export import request_url as url_of

PIECES = [
    '"""',
    "'''",
    "'",
    '"',
    "\n",
    "\r",
    "\r\n",
    "\x00",
    "\u2028",
    "\u2029",
    "\x85",
    "\\",
    "\\n",
    "$(",
    "$(id)",
    "`id`",
    "${HOME}",
    ";",
    "#",
    " ",
    "\t",
    "\x1b]0;pwned\x07",
    "\x1b[2J",
    "\x9b2J",
    "\x08",
    "\u202e",
    "\ufeff",
    "日本",
    "😀",
    ")\nimport os\nos.system('id')\n(",
    '"""\nimport os\n"""',
]
hostile = st.lists(st.sampled_from(PIECES) | st.text(max_size=3), max_size=6).map("".join)
# What a shell word or an HTTP header can carry at all: no NUL.
hostile_no_nul = hostile.map(lambda text: text.replace("\x00", ""))
printable = st.lists(
    st.sampled_from([p for p in PIECES if p.isprintable()])
    | st.text(st.characters(categories=["L", "N", "P", "S"]), max_size=3),
    max_size=6,
).map("".join)

FIXED_STATEMENTS = {
    ast.unparse(ast.parse(code))
    for code in [
        "import os",
        "import httpx",
        "from openai import OpenAI",
        f'headers["Authorization"] = "Bearer " + os.environ.get("{API_KEY_ENV}", "relayscope")',
        "print(response.choices[0].message.content)",
        "print(response.output_text)",
        "print(response.choices[0].text)",
        'print(len(response.data), "embeddings of", len(response.data[0].embedding))',
        "print()",
        "print(response.status_code)",
        "print(response.text)",
        "for model in client.models.list():\n    print(model.id)",
        "for chunk in stream:\n"
        "    if chunk.choices and chunk.choices[0].delta.content:\n"
        '        print(chunk.choices[0].delta.content, end="", flush=True)\n',
        'for event in stream:\n    if event.type == "response.output_text.delta":\n'
        '        print(event.delta, end="", flush=True)\n',
        "for chunk in stream:\n    if chunk.choices:\n"
        '        print(chunk.choices[0].text, end="", flush=True)\n',
    ]
}
LITERAL_NAMES = {"body", "extra_body", "extra_headers", "url", "headers", "content"}
SDK_CALL = re.compile(
    r"(response|stream) = client\.(chat\.completions|responses|completions|embeddings)\.create"
    r"\(\*\*body(, extra_body=extra_body)?(, extra_headers=extra_headers)?\)"
)


@dataclass
class Recorded:
    row: dict[str, Any]
    base_url: str
    body: dict[str, Any] | None  # the JSON body, or None for one that is not JSON
    headers: dict[str, str]  # the recorded headers a snippet should send again


@st.composite
def recorded_calls(draw: st.DrawFn, text: st.SearchStrategy[str] = hostile) -> Recorded:
    endpoint = draw(st.sampled_from([*SDK_METHODS, "models"]) | text)
    method = draw(st.sampled_from(["POST", "GET", "DELETE"]) | text)
    path = draw(st.sampled_from(["/v1", "/", "", "/openai/v1"])) + draw(text)
    # Header names a snippet copies (the transport and credential ones are dropped, see below).
    headers = draw(st.dictionaries(text.map(lambda t: "x-h" + t), text, max_size=3))
    body: Any = None
    raw = "not json: " + draw(text)
    if draw(st.booleans()):
        body = {"model": draw(text), "messages": [{"role": "user", "content": draw(text)}]}
        body |= draw(st.dictionaries(text, text | st.integers() | st.booleans(), max_size=3))
        if draw(st.booleans()):
            body["stream"] = draw(st.booleans())
        raw = json.dumps(body, ensure_ascii=draw(st.booleans()))
    elif draw(st.booleans()):
        raw = ""
    row = {
        "id": draw(text),
        "method": method,
        "path": path,
        "endpoint": endpoint,
        "provider": draw(text),
        "model": draw(text),
        "stream": int(draw(st.booleans())),
        "request_headers": json.dumps(
            [["authorization", "Bearer ****9f3a"], ["host", "127.0.0.1:8787"], *headers.items()]
        ),
        "request_body": raw,
    }
    base_url = "http://127.0.0.1:8787/" + draw(text)
    return Recorded(row, base_url, body, headers)


# --- Python ---------------------------------------------------------------------------------


def _expected_sdk_base(rec: Recorded, suffix: str) -> str:
    parts = urlsplit(rec.base_url)
    path = rec.row["path"].partition("?")[0]
    if path.startswith("/") and path.endswith(suffix):
        return f"{parts.scheme}://{parts.netloc}" + path[: -len(suffix)]
    return rec.base_url.rstrip("/")


def _is_stream(rec: Recorded) -> bool:
    if rec.body is not None and "stream" in rec.body:
        return rec.body["stream"] is True
    return bool(rec.row["stream"])


def _pop_literal(stmt: ast.stmt, find: Callable[[Any], ast.expr]) -> Any:
    """The literal value of one node of `stmt`, which is then replaced by the name RECORDED."""
    node = find(stmt.value if isinstance(stmt, ast.Assign | ast.Expr) else stmt)
    value = ast.literal_eval(node)
    placeholder = ast.Name("RECORDED", ast.Load())
    for parent in ast.walk(stmt):
        for field, child in ast.iter_fields(parent):
            if child is node:
                setattr(parent, field, placeholder)
            elif isinstance(child, list) and node in child:
                child[child.index(node)] = placeholder
    return value


def _first_call_argument(node: Any) -> ast.expr:
    if isinstance(node, ast.With):
        node = node.items[0].context_expr
    assert isinstance(node, ast.Call), ast.dump(node)
    return node.args[0]


def _check_python(rec: Recorded) -> None:
    source = as_python(rec.row, rec.base_url)
    # Only printable characters and plain newlines: no line break, control or bidi character
    # from the data reaches the file, an editor or a terminal.
    assert all(char.isprintable() or char == "\n" for char in source), repr(source)
    tree = ast.parse(source)
    docstring, *statements = tree.body
    assert isinstance(docstring, ast.Expr) and isinstance(docstring.value, ast.Constant)
    assert docstring.value.value == ast.literal_eval(DOCSTRING)
    literals: dict[str, Any] = {}
    calls: list[ast.stmt] = []
    for stmt in statements:
        code = ast.unparse(stmt)
        if code in FIXED_STATEMENTS:
            continue
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            name = getattr(stmt.targets[0], "id", None)
            if name in LITERAL_NAMES:
                assert name not in literals
                literals[name] = ast.literal_eval(stmt.value)
                continue
            if name == "client":
                endpoint = rec.row["endpoint"]
                suffix = SDK_METHODS[endpoint][2] if endpoint in SDK_METHODS else "/models"
                base = _pop_literal(stmt, lambda node: node.keywords[0].value)
                assert base == _expected_sdk_base(rec, suffix)
                assert ast.unparse(stmt) == (
                    f"client = OpenAI(base_url=RECORDED, "
                    f"api_key=os.environ.get({API_KEY_ENV!r}, 'relayscope'))"
                )
                continue
        calls.append(stmt)
    method = rec.row["method"] or "POST"
    sdk = rec.body is not None and method == "POST" and rec.row["endpoint"] in SDK_METHODS
    listing = (
        not sdk
        and method == "GET"
        and rec.row["endpoint"] == "models"
        and rec.row["path"].endswith("/models")
    )
    if sdk:
        assert len(calls) == 1 and SDK_CALL.fullmatch(ast.unparse(calls[0])), calls
        assert {**literals["body"], **literals.get("extra_body", {})} == rec.body
        assert literals.get("extra_headers", {}) == rec.headers
        assert set(literals) <= {"body", "extra_body", "extra_headers"}
    elif listing:
        assert calls == [] and literals == {}
    else:
        payload = ""
        if rec.body is not None:
            payload = ", json=body"
            assert literals.pop("body") == rec.body
        elif rec.row["request_body"]:
            payload = ", content=content"
            assert literals.pop("content") == rec.row["request_body"]
        assert literals == {"url": url_of(rec.row, rec.base_url), "headers": rec.headers}
        request = f"RECORDED, url, headers=headers{payload}, timeout=600"
        if _is_stream(rec):
            expected = (
                f"with httpx.stream({request}) as response:\n"
                "    print(response.status_code)\n"
                "    for line in response.iter_lines():\n"
                "        print(line)"
            )
        else:
            expected = f"response = httpx.request({request})"
        assert len(calls) == 1
        assert _pop_literal(calls[0], _first_call_argument) == method
        assert ast.unparse(calls[0]) == expected


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(recorded_calls())
def test_python_snippet_holds_only_the_expected_statements(rec: Recorded) -> None:
    _check_python(rec)


def test_a_model_name_that_closes_the_docstring_is_only_a_string(tmp_path: Any) -> None:
    marker = tmp_path / "pwned"
    model = f'"""\nimport os; os.system("touch {marker}")\n"""'
    row = {
        "id": "c1",
        "method": "POST",
        "path": "/v1/chat/completions",
        "endpoint": "chat.completions",
        "provider": model,
        "model": model,
        "request_headers": "[]",
        "request_body": json.dumps({"model": model, "messages": []}),
    }
    _check_python(Recorded(row, "http://127.0.0.1:8787/v1", json.loads(row["request_body"]), {}))
    source = as_python(row, "http://127.0.0.1:8787/v1")
    # The snippet, minus its last statement (the call itself), runs and touches nothing.
    runnable = "\n".join(source.splitlines()[:-2]).replace("from openai import OpenAI", "")
    exec(compile(runnable.replace("client = OpenAI(", "client = dict("), "s", "exec"), {})
    assert not marker.exists()


# --- curl -----------------------------------------------------------------------------------


def _expected_argv(rec: Recorded, *, key: str) -> list[str]:
    raw = rec.row["request_body"]
    method = rec.row["method"] or "POST"
    argv = ["curl", url_of(rec.row, rec.base_url).replace("\x00", "")]
    if method != ("POST" if raw else "GET"):
        argv += ["-X", method.replace("\x00", "")]
    if raw:
        argv += ["-H", "Content-Type: application/json"]
    for name, value in rec.headers.items():
        argv += ["-H", f"{name}: {value}".replace("\x00", "")]
    argv += ["-H", f"Authorization: Bearer {key}"]
    if _is_stream(rec):
        argv.append("--no-buffer")
    if "\x00" in raw:
        argv += ["--data-binary", "@-"]
    elif raw:
        argv += ["--data-raw", raw]
    return argv


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(recorded_calls(printable))
def test_curl_command_of_printable_values_splits_into_exactly_the_expected_argv(
    rec: Recorded,
) -> None:
    command = as_curl(rec.row, rec.base_url)
    words = [word for word in shlex.split(command) if word != "\n"]  # "\\\n" continuations
    assert words == _expected_argv(rec, key=f"${API_KEY_ENV}")


# A stand-in for curl that prints its argv (and what it reads for @-), NUL-separated.
_FAKE_CURL = 'curl() { printf \'%s\\0\' curl "$@"; [ "${@: -1}" = @- ] && cat >&2; return 0; }\n'


def _bash_argv(command: str) -> tuple[list[str], bytes]:
    done = subprocess.run(
        ["bash", "-c", _FAKE_CURL + command],
        capture_output=True,
        env={**os.environ, API_KEY_ENV: "sk-test", "LC_ALL": "C.UTF-8"},
        timeout=30,
        check=True,
    )
    return done.stdout.decode("utf-8", "surrogatepass").split("\x00")[:-1], done.stderr


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(recorded_calls(hostile))
def test_curl_command_gives_bash_exactly_the_recorded_values(rec: Recorded) -> None:
    command = as_curl(rec.row, rec.base_url)
    assert all(char.isprintable() or char == "\n" for char in command), repr(command)
    argv, stdin = _bash_argv(command)
    assert argv == _expected_argv(rec, key="sk-test")
    if "\x00" in rec.row["request_body"]:
        assert stdin == rec.row["request_body"].encode()


def test_a_quote_in_a_header_cannot_run_a_command(tmp_path: Any) -> None:
    marker = tmp_path / "pwned"
    row = {
        "method": "POST",
        "path": "/v1/chat/completions",
        "endpoint": "chat.completions",
        "request_headers": json.dumps([["x-a", f"'; touch {marker}; echo '$(touch {marker})`"]]),
        "request_body": '{"model": "m"}\n$(touch ' + str(marker) + ")",
    }
    argv, _ = _bash_argv(as_curl(row, "http://127.0.0.1:8787/v1"))
    assert not marker.exists()
    assert f"x-a: '; touch {marker}; echo '$(touch {marker})`" in argv
