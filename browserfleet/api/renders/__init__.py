"""The Renders API family (browser7-compatible): renders, account balance, regions (``routes``,
``schemas``). Its errors use the default envelope (api/errors.py), ``GET /v1/account/balance``
included although it sits under the Automations family's ``/v1/account`` (browserfleet/families.py).

``router`` is imported on first use: ``schemas`` alone (what ``browserfleet render --server``
validates its request with) does not load the engine behind the routes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from browserfleet.api.renders.routes import router

__all__ = ["router"]


def __getattr__(name: str) -> Any:
    if name == "router":
        from browserfleet.api.renders import routes

        return routes.router
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
