"""Readers of the wire formats we record: OpenAI and Anthropic bodies, SSE, codings."""
