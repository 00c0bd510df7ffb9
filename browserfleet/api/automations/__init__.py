"""The Automations API family (Browserbear-style): tasks, runs with outputs and video, account."""

from browserfleet.api.automations.routes import router

__all__ = ["router"]
