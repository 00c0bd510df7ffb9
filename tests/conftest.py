"""Shared pytest configuration for the browserfleet test suite.

Fixtures for the throwaway servers (PostgreSQL, ...) come from tests/support/fixtures.py.
"""

pytest_plugins = ["tests.support.fixtures"]
