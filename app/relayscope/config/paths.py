"""Where the configuration and the data live by default (platformdirs)."""

from __future__ import annotations

from pathlib import Path

import platformdirs

from relayscope.config.schema import APP_NAME


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME))


def default_db_path() -> Path:
    return default_data_dir() / "relayscope.db"
