"""Errors that handprop reports to users as a message, never as a traceback."""


class HandpropError(Exception):
    """Base class: the command line prints the message and exits with status 2."""


class DataError(HandpropError):
    """A data file is missing, truncated, corrupt, or fails its checksum."""


class ConfigError(HandpropError, ValueError):
    """A configuration value or file is invalid; the message names the field."""
