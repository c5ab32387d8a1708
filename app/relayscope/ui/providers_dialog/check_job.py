"""A provider's Test and the keyring probe (work for the dialog's jobs); answers in words."""

from __future__ import annotations

from collections.abc import Callable

from relayscope.actions.provider_check import ProviderCheck, check_provider
from relayscope.config import Provider, secrets

SHOWN_MODELS = 6


def describe(result: ProviderCheck) -> tuple[str, str, str]:
    if result.ok and result.models:
        shown = ", ".join(result.models[:SHOWN_MODELS])
        more = ", …" if len(result.models) > SHOWN_MODELS else ""
        n = len(result.models)
        text = f"✓ {n} model{'s' if n != 1 else ''}: {shown}{more}"
        return "ok", text, "\n".join(result.models)
    if result.ok:
        return "ok", f"✓ {result.message}", ""
    if result.warning:
        return "warning", f"⚠ {result.message}", ""
    return "error", f"✗ {result.message}", ""


def run_check(provider: Provider, key: Callable[[], str | None]) -> ProviderCheck:
    """One provider check (on a job's thread); a bug is shown as one rather than lost."""
    try:
        return check_provider(provider, key())
    except Exception as exc:
        return ProviderCheck(False, [], f"the check failed unexpectedly ({exc!r}).")


def keyring_available() -> bool:
    """Whether the system keyring answers (on a job's thread: it can take seconds)."""
    return secrets.key_store() is not None
