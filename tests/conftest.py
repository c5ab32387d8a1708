"""Test-wide settings: Qt draws offscreen (no display needed)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests never touch the person's real keyring (workers they start inherit this too).
os.environ["RELAYSCOPE_NO_KEYRING"] = "1"
# Nor the person's OpenTelemetry collector: every OTEL_* setting is the test's own to make.
for _name in [name for name in os.environ if name.startswith("OTEL_")]:
    del os.environ[_name]
