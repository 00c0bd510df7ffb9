"""The Sessions API family (browserbase-compatible): live browsers driven over CDP."""

from browserfleet.api.sessions.routes import router

__all__ = ["router"]
