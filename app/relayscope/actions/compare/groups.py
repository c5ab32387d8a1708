"""Saved comparison groups: written through `GroupWriter`, read through the store."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from relayscope.actions.compare.targets import Group, Target, TargetSummary
from relayscope.calls.record import CallRecord
from relayscope.store.call_store import CallStore, GroupWriter, StoreError


def save_group(store: CallStore, group: Group) -> None:
    """Save a group in `store`'s database, through a writer of its own (`GroupWriter`): the
    store itself only reads."""
    with GroupWriter(store.path) as writer:
        writer.save(_group_row(group))


def _group_row(group: Group) -> dict[str, Any]:
    return {
        "id": group.id,
        "created_at": group.created_at,
        "kind": group.kind,
        "name": group.name,
        "request_body": group.request_body,
        "targets": json.dumps([{"provider": t.provider, "model": t.model} for t in group.targets]),
        "path": group.path,
        "source_call_id": group.source_call_id,
    }


def load_group(store: CallStore, group_id: str) -> Group:
    """A saved group by its id or a unique prefix of it."""
    rows = store.groups_by_prefix(group_id)
    exact = [r for r in rows if r["id"] == group_id]
    if not rows:
        raise StoreError(f"No comparison group has an id starting with '{group_id}'.")
    if len(rows) > 1 and not exact:
        raise StoreError(f"'{group_id}' matches several comparison groups; type more of the id.")
    return _group((exact or rows)[0])


def list_groups(store: CallStore, *, limit: int = 100) -> list[Group]:
    """Saved groups, newest first."""
    return [_group(row) for row in store.recent_groups(limit)]


def _group(row: Mapping[str, Any]) -> Group:
    targets = json.loads(row["targets"] or "[]")
    return Group(
        id=row["id"],
        created_at=row["created_at"],
        name=row["name"] or "",
        request_body=row["request_body"] or "",
        targets=tuple(Target(t.get("provider"), t.get("model")) for t in targets),
        path=row["path"] or "",
        source_call_id=row["source_call_id"],
        kind=row["kind"] or "compare",
    )


def match_rows(targets: Sequence[Target], rows: Sequence[CallRecord]) -> list[TargetSummary | None]:
    """A reopened group's recorded calls, matched to its targets by provider and model, one
    call per target, in the targets' order (None: the target has no call).

    The copies run at once, so the calls' order says nothing about which target sent which.
    The most specific targets choose first: with ``fast`` and ``fast:gpt-4.1-mini``, the
    mini call belongs to the second whichever started first, and the first takes the rest.
    """
    left = list(rows)
    found: dict[int, CallRecord] = {}
    by_detail = sorted(range(len(targets)), key=lambda i: _loose(targets[i]))
    for index in by_detail:
        target = targets[index]
        match = next((r for r in left if _sent_to(target, r)), None)
        if match is not None:
            left.remove(match)
            found[index] = match
    return [
        TargetSummary.from_row(i, t, found[i]) if i in found else None
        for i, t in enumerate(targets)
    ]


def _loose(target: Target) -> int:
    """How many of a target's fields are left as recorded (0: provider and model both named)."""
    return (target.provider is None) + (target.model is None)


def _sent_to(target: Target, row: CallRecord) -> bool:
    return (target.provider is None or row.get("provider") == target.provider) and (
        target.model is None or row.get("model") == target.model
    )
