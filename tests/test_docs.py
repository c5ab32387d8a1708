"""The README documents every CLI option and every database column (docs tested against code)."""

from __future__ import annotations

import argparse
from pathlib import Path

from relayscope.cli.main import build_parser
from relayscope.store.call_store import open_database
from relayscope.store.schema import CALL_COLUMNS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_every_cli_option_is_in_the_readme() -> None:
    parser = build_parser()
    missing = []
    for name, sub in _subparsers(parser).items():
        if f"relayscope {name}" not in README:
            missing.append(f"relayscope {name}")
        for action in sub._actions:
            for option in action.option_strings:
                if option.startswith("--") and option != "--help" and option not in README:
                    missing.append(f"{name} {option}")
    assert missing == []


def test_every_calls_column_is_in_the_readme(tmp_path: Path) -> None:
    db = open_database(tmp_path / "r.db")  # every migration applied
    columns = [row[1] for row in db.execute("PRAGMA table_info(calls)").fetchall()]
    db.conn.close()
    assert set(CALL_COLUMNS) <= set(columns)
    missing = [column for column in columns if f"`{column}`" not in README]
    assert missing == []
