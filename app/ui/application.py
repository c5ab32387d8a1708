"""Starts the desktop app (placeholder until the window lands)."""

from __future__ import annotations

from pathlib import Path

from app.core.config import Config


def run_app(*, config: Config, config_path: Path, db_path: Path) -> int:
    raise SystemExit("The desktop app is not built yet; use `relayscope proxy`.")
