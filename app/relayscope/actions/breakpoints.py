"""Breakpoint rules: which calls to hold before they go upstream (or before the client gets
the answer), and the decisions a person can take on a held call. Pure; no I/O."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

STAGES = ("request", "response")
DEFAULT_HOLD_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class Rule:
    """Hold calls matching every non-empty field (globs for provider and model)."""

    id: str
    stage: str = "request"
    provider: str = ""
    model: str = ""
    endpoint: str = ""
    text: str = ""  # a substring of the request body
    enabled: bool = True

    def matches(
        self, stage: str, provider: str | None, model: str | None, endpoint: str, body: bytes
    ) -> bool:
        if not self.enabled or stage != self.stage:
            return False
        if self.provider and not fnmatch.fnmatchcase(provider or "", self.provider):
            return False
        if self.model and not fnmatch.fnmatchcase(model or "", self.model):
            return False
        if self.endpoint and self.endpoint != endpoint:
            return False
        return not self.text or self.text.encode() in body


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a held call: continue (maybe with an edited body) or fail it."""

    action: str = "continue"  # "continue" or "fail"
    body: bytes | None = None  # the edited body, if any
    status: int = 500  # for "fail": the error the client gets
    message: str = ""
    by: str = "the app"


class RuleError(ValueError):
    """A rule or decision sent by the app is malformed (the message says which field)."""


def parse_rules(raw: object) -> list[Rule]:
    if not isinstance(raw, list):
        raise RuleError("rules must be a list")
    rules = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise RuleError(f"rule {index} must be an object")
        stage = item.get("stage", "request")
        if stage not in STAGES:
            raise RuleError(f"rule {index}: stage must be request or response")
        fields = {k: str(item.get(k) or "") for k in ("provider", "model", "endpoint", "text")}
        rules.append(
            Rule(
                id=str(item.get("id", index)),
                stage=stage,
                enabled=bool(item.get("enabled", True)),
                **fields,
            )
        )
    return rules


def parse_decision(command: dict[str, Any]) -> Decision:
    action = command.get("cmd")
    body = command.get("body")
    data = body.encode() if isinstance(body, str) else None
    by = str(command.get("by") or "the app")
    if action == "resume":
        return Decision("continue", data, by=by)
    if action == "fail":
        status = command.get("status", 500)
        if not isinstance(status, int) or not 400 <= status <= 599:
            raise RuleError("fail: status must be an HTTP error status (400-599)")
        message = str(command.get("message") or "Stopped at a Relayscope breakpoint.")
        return Decision("fail", None, status, message, by)
    raise RuleError(f"unknown command {action!r}")


def first_match(
    rules: list[Rule],
    stage: str,
    provider: str | None,
    model: str | None,
    endpoint: str,
    body: bytes,
) -> Rule | None:
    return next((r for r in rules if r.matches(stage, provider, model, endpoint, body)), None)
