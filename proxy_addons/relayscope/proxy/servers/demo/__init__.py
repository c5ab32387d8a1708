"""The built-in `demo` provider: a small OpenAI-format server on the proxy's own event loop.

It is reached through the same routing, streaming and recording path as a real provider,
so a first run with no keys and no network shows exactly what real traffic looks like,
gaps between chunks included. `demo-agent` behaves like a coding agent's model, with tool
calls and prompt-cache reads (`demo_agent.py`).

``server`` is the h11 server (`DemoServer`), ``answer`` what it says (`DemoAnswer`),
``openai_answers`` its OpenAI-format streams and bodies (Anthropic Messages:
`demo_messages.py`).
"""

from __future__ import annotations

from relayscope.proxy.servers.demo.answer import ANSWERS as ANSWERS
from relayscope.proxy.servers.demo.answer import DEMO_MODELS as DEMO_MODELS
from relayscope.proxy.servers.demo.answer import DemoAnswer as DemoAnswer
from relayscope.proxy.servers.demo.server import DemoServer as DemoServer
