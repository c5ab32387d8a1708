"""Relayscope's TOML configuration: providers, proxy settings, validation and default paths.

``schema`` is what a configuration holds (and the defaults), ``loading`` reads and validates
the file and its sections, ``providers`` one [[providers]] table, ``paths`` the default
locations, ``values`` the typed readers they share.
"""

from __future__ import annotations

from relayscope.config.loading import (
    demo_by_default as demo_by_default,
)

# Every public name of the module this package replaced, for `from relayscope.config import`.
from relayscope.config.loading import (
    load_config as load_config,
)
from relayscope.config.loading import (
    parse_config as parse_config,
)
from relayscope.config.paths import (
    default_config_path as default_config_path,
)
from relayscope.config.paths import (
    default_data_dir as default_data_dir,
)
from relayscope.config.paths import (
    default_db_path as default_db_path,
)
from relayscope.config.providers import (
    AUTH_MODES as AUTH_MODES,
)
from relayscope.config.schema import (
    APP_NAME as APP_NAME,
)
from relayscope.config.schema import (
    DEFAULT_HOST as DEFAULT_HOST,
)
from relayscope.config.schema import (
    DEFAULT_MAX_BODY_BYTES as DEFAULT_MAX_BODY_BYTES,
)
from relayscope.config.schema import (
    DEFAULT_PORT as DEFAULT_PORT,
)
from relayscope.config.schema import (
    DEFAULT_UPSTREAM_TIMEOUT as DEFAULT_UPSTREAM_TIMEOUT,
)
from relayscope.config.schema import (
    DEMO as DEMO,
)
from relayscope.config.schema import (
    DEMO_PROVIDER as DEMO_PROVIDER,
)
from relayscope.config.schema import (
    LOOPBACK_HOSTS as LOOPBACK_HOSTS,
)
from relayscope.config.schema import (
    PLAYBACK as PLAYBACK,
)
from relayscope.config.schema import (
    Config as Config,
)
from relayscope.config.schema import (
    ConfigError as ConfigError,
)
from relayscope.config.schema import (
    ModelPrice as ModelPrice,
)
from relayscope.config.schema import (
    OtlpSettings as OtlpSettings,
)
from relayscope.config.schema import (
    Provider as Provider,
)
from relayscope.config.schema import (
    ProxySettings as ProxySettings,
)
from relayscope.config.schema import (
    StorageSettings as StorageSettings,
)
