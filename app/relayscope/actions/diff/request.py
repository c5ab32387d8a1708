"""The request side of a diff: messages matched one by one, parameters, any JSON value."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any

from relayscope.actions.diff.changes import MessageChange, RequestDiff, ValueChange, canonical_json


def diff_requests(body_a: object, body_b: object) -> RequestDiff:
    obj_a, obj_b = _json_object(body_a), _json_object(body_b)
    key_a, key_b = _messages_key(obj_a), _messages_key(obj_b)
    items_a, items_b = _items(obj_a, key_a), _items(obj_b, key_b)
    changes, prefix = _message_changes(items_a, items_b)
    skip = {key_a, key_b} - {None}
    params = _param_changes(
        {k: v for k, v in (obj_a or {}).items() if k not in skip},
        {k: v for k, v in (obj_b or {}).items() if k not in skip},
    )
    return RequestDiff(
        messages_key=key_b or key_a,
        count_a=len(items_a),
        count_b=len(items_b),
        unchanged_prefix=prefix,
        messages=tuple(changes),
        params=tuple(params),
        text_a=_pretty(body_a, obj_a),
        text_b=_pretty(body_b, obj_b),
    )


def _text(body: object) -> str:
    if body is None:
        return ""
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body).decode("utf-8", "replace")
    return str(body)


def _json_object(body: object) -> dict[str, Any] | None:
    try:
        value = json.loads(_text(body)) if body else None
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _pretty(body: object, obj: dict[str, Any] | None) -> str:
    if obj is None:
        return _text(body)
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, indent=2)


def _messages_key(obj: dict[str, Any] | None) -> str | None:
    if obj is None:
        return None
    if isinstance(obj.get("messages"), list):
        return "messages"
    if isinstance(obj.get("input"), list | str):
        return "input"
    return None


def _items(obj: dict[str, Any] | None, key: str | None) -> list[Any]:
    if obj is None or key is None:
        return []
    value = obj[key]
    return [{"role": "user", "content": value}] if isinstance(value, str) else list(value)


def _message_changes(a: list[Any], b: list[Any]) -> tuple[list[MessageChange], int]:
    keys_a, keys_b = [canonical_json(m) for m in a], [canonical_json(m) for m in b]
    matcher = difflib.SequenceMatcher(None, keys_a, keys_b, autojunk=False)
    changes: list[MessageChange] = []
    prefix = 0
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            if i1 == 0 and j1 == 0:
                prefix = i2
            continue
        pairs = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        removed = []
        added = []
        for k in range(pairs):
            old, new = a[i1 + k], b[j1 + k]
            if _role(old) == _role(new):
                changes.append(
                    MessageChange(
                        "changed",
                        i1 + k,
                        j1 + k,
                        _role(new),
                        old,
                        new,
                        _name(new),
                        tuple(value_changes(old, new)),
                    )
                )
            else:
                removed.append(i1 + k)
                added.append(j1 + k)
        removed += range(i1 + pairs, i2)
        added += range(j1 + pairs, j2)
        changes += [
            MessageChange("removed", i, None, _role(a[i]), a[i], None, _name(a[i])) for i in removed
        ]
        changes += [
            MessageChange("added", None, j, _role(b[j]), None, b[j], _name(b[j])) for j in added
        ]
    return changes, prefix


def _role(message: Any) -> str:
    if isinstance(message, dict):
        role = message.get("role")
        kind = message.get("type")
        if isinstance(role, str) and role:
            return role
        if isinstance(kind, str) and kind:
            return kind
    return "?"


def _name(message: Any) -> str:
    name = message.get("name") if isinstance(message, dict) else None
    return name if isinstance(name, str) else ""


def _param_changes(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[ValueChange]:
    out: list[ValueChange] = []
    for key in sorted(set(a) | set(b)):
        if key not in b:
            out.append(ValueChange(key, "removed", old=a[key]))
        elif key not in a:
            out.append(ValueChange(key, "added", new=b[key]))
        elif canonical_json(a[key]) != canonical_json(b[key]):
            out.append(ValueChange(key, "changed", a[key], b[key]))
    return out


def value_changes(a: Any, b: Any, path: str = "") -> list[ValueChange]:
    """Where two JSON values differ, down to the leaves (key order never matters)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[ValueChange] = []
        for key in sorted(set(a) | set(b)):
            where = f"{path}.{key}" if path else str(key)
            if key not in b:
                out.append(ValueChange(where, "removed", old=a[key]))
            elif key not in a:
                out.append(ValueChange(where, "added", new=b[key]))
            else:
                out += value_changes(a[key], b[key], where)
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            c
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for c in value_changes(x, y, f"{path}[{i}]")
        ]
    if canonical_json(a) != canonical_json(b):
        return [ValueChange(path, "changed", a, b)]
    return []
