"""Ready-to-paste text that points a client (Codex CLI, Claude Code, the OpenAI SDK, curl) at
Relayscope."""

from __future__ import annotations

import json
import shlex

#: The built-in demo provider's model: works with no keys and no network.
DEMO_MODEL = "demo-1"
#: The environment variable the Codex snippet names (Codex refuses to start if it is unset).
CODEX_ENV_KEY = "RELAYSCOPE_KEY"


def codex_snippet(base_url: str, model: str = DEMO_MODEL) -> str:
    """A Codex CLI `config.toml` fragment that sends every turn through Relayscope."""
    return (
        f"# Top of ~/.codex/config.toml; also run: export {CODEX_ENV_KEY}=any\n"
        f"model = {json.dumps(model)}  # or any model your providers serve\n"
        'model_provider = "relayscope"\n'
        "\n"
        "[model_providers.relayscope]\n"
        'name = "Relayscope"\n'
        f"base_url = {json.dumps(base_url)}\n"
        f'env_key = "{CODEX_ENV_KEY}"\n'
        'wire_api = "responses"\n'
    )


def claude_code_snippet(base_url: str) -> str:
    """A shell line that starts Claude Code through Relayscope. Claude Code (like Anthropic's
    SDKs) adds /v1/messages to ANTHROPIC_BASE_URL itself, so the base URL loses its /v1."""
    root = base_url.rstrip("/").removesuffix("/v1")
    return (
        "# Relayscope adds the provider's real key; any key works here.\n"
        "# claude-* models go to a provider serving /v1/messages\n"
        f"# (⚙ Providers); add --model {DEMO_MODEL} to try the demo.\n"
        f"ANTHROPIC_BASE_URL={shlex.quote(root)} \\\n"
        "  ANTHROPIC_API_KEY=any claude\n"
    )


def sdk_snippet(base_url: str, model: str = DEMO_MODEL) -> str:
    """A runnable Python example using the official `openai` package."""
    return (
        "from openai import OpenAI\n"
        "\n"
        "# Relayscope adds each provider's real key; any api_key works here.\n"
        f'client = OpenAI(base_url={json.dumps(base_url)}, api_key="any")\n'
        "reply = client.chat.completions.create(\n"
        f"    model={json.dumps(model)},\n"
        '    messages=[{"role": "user", "content": "Hello!"}],\n'
        ")\n"
        "print(reply.choices[0].message.content)\n"
    )


def curl_snippet(base_url: str, model: str = DEMO_MODEL) -> str:
    """A streaming request from a terminal (POSIX shell quoting)."""
    # Two lines, so the snippet fits half the welcome page (JSON allows the line break).
    head = json.dumps({"model": model, "stream": True})[:-1]
    messages = json.dumps([{"role": "user", "content": "Hello!"}])
    body = f'{head},\n       "messages": {messages}}}'
    return (
        f"curl -N {shlex.quote(base_url + '/chat/completions')} \\\n"
        "  -H 'content-type: application/json' \\\n"
        f"  -d {shlex.quote(body)}\n"
    )
