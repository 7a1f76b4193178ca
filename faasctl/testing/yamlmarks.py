"""Moved to ``faasctl.yamlmarks`` (the config file reads YAML too, and the core must not import
``faasctl.testing``); kept so earlier imports work."""

from faasctl.yamlmarks import *  # noqa: F403
from faasctl.yamlmarks import MarkedDict, MarkedList, read_marked, unknown_key_message  # noqa: F401
