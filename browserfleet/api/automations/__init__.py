"""The Automations API family (Browserbear-style): ``routes`` (auth, account, tasks, runs with
outputs and video, run files; the family's error envelope) with its ``schemas``, ``feeds`` and
``webhooks`` (the project's webhook signing secret). browserfleet/families.py lists the routers."""

from browserfleet.api.automations.routes import router

__all__ = ["router"]
