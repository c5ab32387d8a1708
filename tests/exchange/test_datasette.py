"""The database as sqlite-utils and Datasette see it: search, the views, facets, chunks → calls."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from datasette.app import Datasette
from sqlite_utils import Database

from relayscope.store import schema
from relayscope.store.call_store import CallFilter, CallStore
from tests.exchange.test_export import AGGREGATED, ERROR, RESPONSES, SOCKET, STREAM, seed_calls

ROOT = Path(__file__).resolve().parents[2]
METADATA = json.loads((ROOT / "docs" / "datasette-metadata.json").read_text())


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    # Named as the default database is: the metadata describes the database "relayscope".
    return seed_calls(tmp_path / "relayscope.db")


def test_sqlite_utils_finds_the_index_and_searches_prompts_and_answers(db_path: Path) -> None:
    db = Database(db_path)
    calls = db["calls"]
    assert calls.detect_fts() == "calls_fts"  # type: ignore[union-attr]
    by_prompt = [row["id"] for row in calls.search("Paris")]  # type: ignore[union-attr]
    assert by_prompt == [RESPONSES]  # in the request's input, not in any answer
    by_answer = {row["id"] for row in calls.search("world")}  # type: ignore[union-attr]
    assert by_answer == {STREAM, AGGREGATED}  # "Hello world"; the cut stream got to "Hello"
    assert [fk.other_table for fk in db["chunks"].foreign_keys] == ["calls"]  # type: ignore[union-attr]
    assert [fk.other_table for fk in db["chunk_packs"].foreign_keys] == ["calls"]  # type: ignore[union-attr]
    db.close()


def test_relayscope_search_still_finds_prompt_and_answer_text(db_path: Path) -> None:
    store = CallStore(db_path)
    try:
        found = {c["id"] for c in store.list_calls(CallFilter(text="weather paris"), limit=10)}
        assert found == {RESPONSES}
        found = {c["id"] for c in store.list_calls(CallFilter(text="sunn"), limit=10)}
        assert found == {RESPONSES, SOCKET}  # by prefix, in the answer ("It is sunny.")
        assert store.count_calls(CallFilter(text="rate limit")) == 0  # errors are not text
    finally:
        store.close()


def datasette_get(db_path: Path, path: str) -> Any:
    async def get() -> Any:
        ds = Datasette([str(db_path)], metadata=METADATA)
        response = await ds.client.get(path)
        assert response.status_code == 200, response.text
        return response.json()

    return asyncio.run(get())


def test_datasette_searches_calls_with_the_shipped_metadata(db_path: Path) -> None:
    found = datasette_get(db_path, "/relayscope/calls.json?_search=Paris&_shape=objects")
    assert [row["id"] for row in found["rows"]] == [RESPONSES]
    assert found["human_description_en"].startswith("where search matches")


def test_datasette_facets_calls_as_the_metadata_says(db_path: Path) -> None:
    page = datasette_get(db_path, "/relayscope/calls.json?_size=0")
    facets = page["facet_results"]
    facets = facets.get("results", facets)  # the shape differs across Datasette versions
    assert {"provider", "model", "status", "state"} <= set(facets)
    states = {item["value"]: item["count"] for item in facets["state"]["results"]}
    assert states["error"] == 1 and states["interrupted"] == 1


def test_datasette_shows_the_views_and_links_chunks_to_their_call(db_path: Path) -> None:
    usage = datasette_get(db_path, "/relayscope/token_usage.json?_shape=array")
    by_model = {(row["model"], row["day"]): row for row in usage}
    assert by_model[("fake-1", "2026-11-21")]["prompt_tokens"] == 9 + 12
    errors = datasette_get(db_path, "/relayscope/error_rates.json?_shape=array")
    assert {(row["provider"], row["status"]) for row in errors} >= {("fake", 429)}
    # A finished stream's chunks are one pack (relayscope.store.stream_packs), linked to its call.
    packs = datasette_get(
        db_path, f"/relayscope/chunk_packs.json?call_id={STREAM}&_labels=on&_shape=array"
    )
    assert packs[0]["call_id"]["value"] == STREAM  # a link to the call, not a bare string
    assert ERROR not in json.dumps(packs)


@pytest.mark.parametrize(
    "table", ["calls", "chunks", "chunk_packs", "body_pieces", "groups", "connections"]
)
def test_the_metadata_describes_every_column(db_path: Path, table: str) -> None:
    db = Database(db_path)
    columns = set(db[table].columns_dict)  # type: ignore[union-attr]
    db.close()
    described = set(METADATA["databases"]["relayscope"]["tables"][table]["columns"])
    assert sorted(columns - described) == []
    assert sorted(described - columns) == []


def test_an_older_database_keeps_its_search_through_the_migration(tmp_path: Path) -> None:
    db = Database(tmp_path / "old.db")
    schema.migrations.apply(db, stop_before="m012_datasette_ready")
    db["calls"].insert({"id": "c1", "model": "m", "provider": "p", "path": "/v1/chat/completions"})  # type: ignore[union-attr]
    db["chunks"].insert({"call_id": "c1", "seq": 0, "t_ms": 1.0, "data": "data: {}\n\n"})  # type: ignore[union-attr]
    db.execute(
        "INSERT INTO calls_fts (rowid, model, provider, path, prompt_text, output_text)"
        " SELECT rowid, model, provider, path, 'an old prompt about kittens', 'purr' FROM calls"
    )
    db.conn.commit()
    schema.apply(db)
    assert db.execute("SELECT prompt_text FROM calls").fetchone() == (
        "an old prompt about kittens",
    )
    assert [row["id"] for row in db["calls"].search("kittens")] == ["c1"]  # type: ignore[union-attr]
    assert db.execute("SELECT count(*) FROM chunks").fetchone() == (1,)
    db.close()
