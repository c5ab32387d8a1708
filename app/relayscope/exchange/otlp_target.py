"""Where OpenTelemetry spans go: the config's `[otlp]` and the standard `OTEL_*` variables.

Kept apart from `otlp.py` so that deciding whether to export costs no import of the
OpenTelemetry SDK (about half a second at the worker's start).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from relayscope.config import OtlpSettings

__all__ = ["PROTOCOLS", "OtlpError", "OtlpTarget", "resolve_target"]

PROTOCOLS = ("http/protobuf", "http/json")
_CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


class OtlpError(Exception):
    """Spans cannot be sent (a setting is wrong, or the collector did not take them)."""


@dataclass(frozen=True, slots=True)
class OtlpTarget:
    """Where and how spans are sent, settings and environment resolved."""

    traces_url: str
    headers: tuple[tuple[str, str], ...] = ()
    protocol: str = "http/protobuf"
    capture_content: bool = False


def resolve_target(
    settings: OtlpSettings,
    environ: Mapping[str, str] | None = None,
    *,
    endpoint: str | None = None,
) -> OtlpTarget | None:
    """The target, or None when no endpoint is set anywhere (or OTEL_SDK_DISABLED=true)."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    if endpoint or settings.endpoint:
        url = _traces_url(endpoint or settings.endpoint)
    elif env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        url = env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"].strip()  # a signal URL: used as is
    elif env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        url = _traces_url(env["OTEL_EXPORTER_OTLP_ENDPOINT"])
    else:
        return None
    protocol = (
        env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    if protocol not in PROTOCOLS:
        raise OtlpError(
            f"OTLP protocol {protocol!r} is not supported: Relayscope sends OTLP over HTTP "
            "(http/protobuf, or http/json); set OTEL_EXPORTER_OTLP_PROTOCOL to one of them "
            "and point the endpoint at the collector's HTTP port (usually 4318)."
        )
    capture = settings.capture_content or env.get(_CAPTURE_ENV, "").strip().lower() == "true"
    return OtlpTarget(url, settings.headers, protocol, capture)


def _traces_url(endpoint: str) -> str:
    """`http://host:4318` → `http://host:4318/v1/traces` (a full traces URL is kept)."""
    endpoint = endpoint.strip().rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else endpoint + "/v1/traces"
