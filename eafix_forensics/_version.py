"""The package version (pyproject.toml's), on the ground floor so the bundle writer can record it."""

__version__ = "0.1.0"
