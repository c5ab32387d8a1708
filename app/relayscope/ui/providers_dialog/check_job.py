"""A provider's Test, run off the GUI thread, and its answer in words; the keyring probe."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, Signal

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


class CheckSignals(QObject):
    finished = Signal(int, object)  # token, ProviderCheck


class CheckJob(QRunnable):
    """Runs one provider check on a pool thread; the answer comes back as a queued signal."""

    def __init__(self, token: int, provider: Provider, key: Callable[[], str | None]) -> None:
        super().__init__()
        self.token, self.provider, self.key = token, provider, key
        self.signals = CheckSignals()

    def run(self) -> None:
        try:
            result = check_provider(self.provider, self.key())
        except Exception as exc:  # a bug, shown as one rather than lost in a thread
            result = ProviderCheck(False, [], f"the check failed unexpectedly ({exc!r}).")
        self.signals.finished.emit(self.token, result)


class KeyringProbe(QRunnable):
    """Asks (on a pool thread: it can take seconds) whether the system keyring answers."""

    def __init__(self) -> None:
        super().__init__()
        self.signals = CheckSignals()

    def run(self) -> None:
        self.signals.finished.emit(0, secrets.key_store() is not None)
