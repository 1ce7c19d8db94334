"""Reads this stack's config from the Pulumi runtime into validated ``Settings``."""

from __future__ import annotations

import pulumi
from pulumi.runtime import config as runtime_config

from flux_monitoring.config.settings import Settings, load_settings
from flux_monitoring.contract import PROJECT

_PREFIX = f"{PROJECT}:"


def _all_config() -> dict[str, str]:
    # Every key, not only the known ones, so that a misspelt top-level key is reported too.
    merged = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    return {key: value for key, value in merged.items() if value is not None}


def read_settings() -> Settings:
    """Validate the stack config, raising ``SettingsError`` before any resource is registered."""
    config = _all_config()
    raw = {key[len(_PREFIX) :]: value for key, value in config.items() if key.startswith(_PREFIX)}
    secret_keys = {
        key[len(_PREFIX) :]
        for key in config
        if key.startswith(_PREFIX)
        and (pulumi.runtime.is_config_secret(key) or key in runtime_config.get_config_secret_keys_env())
    }
    # A cluster's name in the fleet defaults to its stack's.
    raw.setdefault("cluster", pulumi.get_stack())
    settings = load_settings(raw, secret_keys=secret_keys, kube_context=config.get("kubernetes:context"))
    for warning in settings.warnings:
        pulumi.log.warn(warning)
    return settings
