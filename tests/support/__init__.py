"""Test infrastructure: throwaway servers (PostgreSQL, Redis) and shared pytest fixtures."""
