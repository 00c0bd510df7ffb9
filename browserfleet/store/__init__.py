"""Persistence: SQLAlchemy models and repository, Alembic migrations, blob storage.

The only package that imports SQLAlchemy; everything above it talks to :class:`Store`.
"""
