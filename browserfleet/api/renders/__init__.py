"""The Renders API family (browser7-compatible): renders, account balance, regions (``routes``,
``schemas``). Its errors use the default envelope (api/errors.py), ``GET /v1/account/balance``
included although it sits under the Automations family's ``/v1/account`` (browserfleet/families.py)."""

from browserfleet.api.renders.routes import router

__all__ = ["router"]
