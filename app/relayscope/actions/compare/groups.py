"""Saved comparison groups: written through `GroupWriter`, read through the store."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from relayscope.actions.compare.targets import Group, Target
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
