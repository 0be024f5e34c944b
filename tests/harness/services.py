"""Fixtures: see tests/harness/__init__.py."""
