"""Turns a recorded call into code that sends it again through Relayscope: curl or Python.

Python uses the openai SDK for OpenAI-format calls and the anthropic SDK for Anthropic
Messages calls (`client.messages.create`, every body field either a named parameter or in
`extra_body`, the recorded query in `extra_query`), else httpx with the body as recorded.

`recorded` reads what a call sent, `literals` writes recorded values as inert shell words and
Python literals, `sdk` names what each SDK method takes, and `curl` and `python` put the
snippets together.
"""

from __future__ import annotations

from relayscope.exchange.code_export.curl import as_curl
from relayscope.exchange.code_export.python import DOCSTRING, MESSAGES_DOCSTRING, as_python
from relayscope.exchange.code_export.recorded import request_url
from relayscope.exchange.code_export.sdk import (
    ANTHROPIC_KEY_ENV,
    API_KEY_ENV,
    MESSAGES_PARAMS,
    SDK_METHODS,
)

__all__ = [
    "ANTHROPIC_KEY_ENV",
    "API_KEY_ENV",
    "DOCSTRING",
    "MESSAGES_DOCSTRING",
    "MESSAGES_PARAMS",
    "SDK_METHODS",
    "as_curl",
    "as_python",
    "request_url",
]
