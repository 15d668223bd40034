"""hotline's own configuration: one YAML file, validated at start with errors that name the key."""

from engine.config.model import Config, ConfigError, check_flows, load_config

__all__ = ["Config", "ConfigError", "check_flows", "load_config"]
