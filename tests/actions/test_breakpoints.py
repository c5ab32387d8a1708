from __future__ import annotations

import pytest

from relayscope.actions.breakpoints import RuleError, first_match, parse_decision, parse_rules


def test_rules_match_on_every_given_field() -> None:
    rules = parse_rules(
        [
            {"id": "a", "provider": "gw", "model": "gpt-*"},
            {"id": "b", "stage": "response", "endpoint": "responses"},
            {"id": "c", "text": "secret plan", "enabled": False},
        ]
    )
    assert first_match(rules, "request", "gw", "gpt-5.2", "chat.completions", b"{}").id == "a"  # type: ignore[union-attr]
    assert first_match(rules, "request", "other", "gpt-5.2", "chat.completions", b"{}") is None
    assert first_match(rules, "response", "x", "y", "responses", b"").id == "b"  # type: ignore[union-attr]
    assert first_match(rules, "request", "x", "y", "other", b"secret plan") is None


@pytest.mark.parametrize("raw", ["nope", [1], [{"stage": "sideways"}]])
def test_malformed_rules_say_what_is_wrong(raw: object) -> None:
    with pytest.raises(RuleError):
        parse_rules(raw)


def test_decisions() -> None:
    assert parse_decision({"cmd": "resume", "body": "{}"}).body == b"{}"
    fail = parse_decision({"cmd": "fail", "status": 503, "message": "down"})
    assert (fail.action, fail.status, fail.message) == ("fail", 503, "down")
    with pytest.raises(RuleError):
        parse_decision({"cmd": "fail", "status": 200})
    with pytest.raises(RuleError):
        parse_decision({"cmd": "explode"})
