"""The Renders API family (browser7-compatible): renders, account balance, regions."""

from browserfleet.api.renders.routes import router

__all__ = ["router"]
