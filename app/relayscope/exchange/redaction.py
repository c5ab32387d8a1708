"""Redaction for sharing: keys, credentials, query-string secrets, e-mails and patterns of
the person's choosing, replaced in any text, with a count of what was removed."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

MARK = "[redacted]"
#: Headers whose whole value is a credential.
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "api-key",
        "x-api-key",
        "cookie",
        "set-cookie",
        "x-goog-api-key",
        "openai-organization",
        "openai-project",
    }
)
# Key formats of the providers and platforms our users paste around, and bearer tokens.
_KEYS = re.compile(
    r"\b(?:sk-[A-Za-z0-9_\-]{12,}|sk-ant-[A-Za-z0-9_\-]{12,}|AIza[0-9A-Za-z_\-]{30,}"
    r"|gh[pousr]_[A-Za-z0-9]{20,}|xox[abpr]-[A-Za-z0-9\-]{10,}|AKIA[0-9A-Z]{16}"
    r"|hf_[A-Za-z0-9]{20,})"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-*]{6,}")
_QUERY_SECRET = re.compile(
    r"(?i)([?&](?:api[_-]?key|key|token|access[_-]?token|auth|secret|signature|sig"
    r"|password|client[_-]?secret|code)=)[^&#\s\"'<>]+"
)
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}\b")


@dataclass(slots=True)
class Redactor:
    """Replaces secrets in every text it is given and counts what it removed, by kind."""

    secrets: tuple[str, ...] = ()  # literal values (the configured provider keys)
    patterns: tuple[re.Pattern[str], ...] = ()
    emails: bool = False
    removed: Counter[str] = field(default_factory=Counter)

    def text(self, value: object) -> str:
        text = "" if value is None else str(value)
        for secret in self.secrets:
            if len(secret) >= 6 and secret in text:
                self.removed["configured provider key"] += text.count(secret)
                text = text.replace(secret, MARK)
        text = self._sub(_KEYS, text, "API key")
        text = self._sub(_BEARER, text, "bearer or basic credential", keep_group=1)
        text = self._sub(_QUERY_SECRET, text, "query-string secret", keep_group=1)
        if self.emails:
            text = self._sub(_EMAIL, text, "e-mail address")
        for pattern in self.patterns:
            text = self._sub(pattern, text, f"match of --redact-pattern {pattern.pattern!r}")
        return text

    def headers(self, pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        out = []
        for name, value in pairs:
            if name.lower() in SECRET_HEADERS:
                self.removed[f"{name.lower()} header"] += 1
                out.append((name, MARK))
            else:
                out.append((name, self.text(value)))
        return out

    def _sub(self, pattern: re.Pattern[str], text: str, kind: str, keep_group: int = 0) -> str:
        def replace(match: re.Match[str]) -> str:
            if match.group(0) == MARK:
                return MARK
            self.removed[kind] += 1
            kept = match.group(keep_group) if keep_group else ""
            return f"{kept} {MARK}" if keep_group and not kept.endswith("=") else kept + MARK

        return pattern.sub(replace, text)

    def summary(self) -> str:
        """What was removed, as one line for standard error."""
        if not self.removed:
            return "Redacted: nothing matched (no keys, credentials or patterns found)."
        parts = [f"{count} × {kind}" for kind, count in sorted(self.removed.items())]
        return "Redacted: " + ", ".join(parts) + "."
