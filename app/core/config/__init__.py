"""Relayscope's TOML configuration: providers, proxy settings, validation and default paths.

``schema`` is what a configuration holds (and the defaults), ``loading`` reads and validates
the file and its sections, ``providers`` one [[providers]] table, ``paths`` the default
locations, ``values`` the typed readers they share.
"""

from __future__ import annotations

from app.core.config.loading import (
    demo_by_default as demo_by_default,
)

# Every public name of the module this package replaced, for `from app.core.config import`.
from app.core.config.loading import (
    load_config as load_config,
)
from app.core.config.loading import (
    parse_config as parse_config,
)
from app.core.config.paths import (
    default_config_path as default_config_path,
)
from app.core.config.paths import (
    default_data_dir as default_data_dir,
)
from app.core.config.paths import (
    default_db_path as default_db_path,
)
from app.core.config.providers import (
    AUTH_MODES as AUTH_MODES,
)
from app.core.config.schema import (
    APP_NAME as APP_NAME,
)
from app.core.config.schema import (
    DEFAULT_HOST as DEFAULT_HOST,
)
from app.core.config.schema import (
    DEFAULT_MAX_BODY_BYTES as DEFAULT_MAX_BODY_BYTES,
)
from app.core.config.schema import (
    DEFAULT_PORT as DEFAULT_PORT,
)
from app.core.config.schema import (
    DEFAULT_UPSTREAM_TIMEOUT as DEFAULT_UPSTREAM_TIMEOUT,
)
from app.core.config.schema import (
    DEMO as DEMO,
)
from app.core.config.schema import (
    DEMO_PROVIDER as DEMO_PROVIDER,
)
from app.core.config.schema import (
    LOOPBACK_HOSTS as LOOPBACK_HOSTS,
)
from app.core.config.schema import (
    PLAYBACK as PLAYBACK,
)
from app.core.config.schema import (
    Config as Config,
)
from app.core.config.schema import (
    ConfigError as ConfigError,
)
from app.core.config.schema import (
    ModelPrice as ModelPrice,
)
from app.core.config.schema import (
    OtlpSettings as OtlpSettings,
)
from app.core.config.schema import (
    Provider as Provider,
)
from app.core.config.schema import (
    ProxySettings as ProxySettings,
)
from app.core.config.schema import (
    StorageSettings as StorageSettings,
)
