"""Shared vocabulary of sources and analysis: plain data and pure functions, no IO."""
