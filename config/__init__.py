"""Configuration classes. Every key is read from the environment.

Development has a working default for every key (SQLite file, in-process Redis-compatible
store, WeChat sandbox credentials); Production has no default for any secret and refuses
to start without them, naming every missing key.
"""
from config.settings import (  # noqa: F401
    REQUIRED_PRODUCTION_KEYS,
    BaseConfig,
    ConfigError,
    DevelopmentConfig,
    ProductionConfig,
    TestingConfig,
    config_for_env,
)
