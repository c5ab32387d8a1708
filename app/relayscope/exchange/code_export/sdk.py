"""What the snippets name: the key's environment variables, the headers never copied, and
for each SDK method the parameters it takes by name and the code that prints its answer."""

from __future__ import annotations

#: The environment variable the snippets read the API key from; never a key itself.
API_KEY_ENV = "OPENAI_API_KEY"
#: The same for the anthropic SDK's snippets (Messages calls).
ANTHROPIC_KEY_ENV = "ANTHROPIC_API_KEY"

# Headers a snippet never copies: transport details the tool sets itself, the recorded (and
# redacted) credentials, and Relayscope's own bookkeeping headers for replays.
TRANSPORT_HEADERS = frozenset(
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
SDK_HEADERS = frozenset({"content-type", "accept", "user-agent"})
SDK_HEADER_PREFIXES = ("x-stainless-", "openai-")

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
MESSAGES_STREAM_LOOP = (
    "for event in stream:\n"
    '    if event.type == "content_block_delta" and event.delta.type == "text_delta":\n'
    '        print(event.delta.text, end="", flush=True)\n'
    "print()\n"
)
MESSAGES_PRINT = (
    'for block in response.content:\n    if block.type == "text":\n        print(block.text)\n'
)

#: endpoint -> (SDK method, parameters it names, path suffix the SDK appends to base_url)
SDK_METHODS: dict[str, tuple[str, frozenset[str], str]] = {
    "chat.completions": ("client.chat.completions.create", _CHAT_PARAMS, "/chat/completions"),
    "responses": ("client.responses.create", _RESPONSES_PARAMS, "/responses"),
    "completions": ("client.completions.create", _COMPLETIONS_PARAMS, "/completions"),
    "embeddings": ("client.embeddings.create", _EMBEDDINGS_PARAMS, "/embeddings"),
}

STREAM_LOOPS = {
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
RESULT_PRINTS = {
    "chat.completions": "print(response.choices[0].message.content)\n",
    "responses": "print(response.output_text)\n",
    "completions": "print(response.choices[0].text)\n",
    "embeddings": 'print(len(response.data), "embeddings of", len(response.data[0].embedding))\n',
}
