"""Redaction for shared pages: what goes, what stays, and the count of what was removed."""

from __future__ import annotations

import re

from relayscope.exchange.redaction import MARK, Redactor


def test_keys_credentials_and_query_secrets_go_the_rest_stays() -> None:
    redactor = Redactor(secrets=("my-configured-key-123",))
    text = redactor.text(
        "use sk-proj-Abc123Def456Ghi789 or my-configured-key-123; "
        "Authorization: Bearer abcdef.ghijkl; GET /v1/x?key=AIzaXYZ&page=2&token=t0k3n"
    )
    for gone in ("Abc123Def456", "my-configured-key", "abcdef.ghijkl", "AIzaXYZ", "t0k3n"):
        assert gone not in text, gone
    assert "Bearer [redacted]" in text and "?key=[redacted]&page=2&token=[redacted]" in text
    assert redactor.removed == {
        "configured provider key": 1,
        "API key": 1,
        "bearer or basic credential": 1,
        "query-string secret": 2,
    }


def test_emails_and_patterns_only_when_asked() -> None:
    plain = Redactor()
    assert (
        plain.text("write to jane@example.com re ACME-1") == "write to jane@example.com re ACME-1"
    )
    assert plain.summary().startswith("Redacted: nothing matched")
    strict = Redactor(emails=True, patterns=(re.compile(r"ACME-\d+"),))
    assert strict.text("write to jane@example.com re ACME-1") == f"write to {MARK} re {MARK}"
    assert strict.summary() == (
        "Redacted: 1 × e-mail address, 1 × match of --redact-pattern 'ACME-\\\\d+'."
    )


def test_credential_headers_are_removed_whole() -> None:
    redactor = Redactor()
    headers = redactor.headers(
        [("Authorization", "Bearer ****1234"), ("Cookie", "a=b"), ("User-Agent", "codex")]
    )
    assert headers == [("Authorization", MARK), ("Cookie", MARK), ("User-Agent", "codex")]
    assert redactor.removed == {"authorization header": 1, "cookie header": 1}
