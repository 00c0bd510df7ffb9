"""One typed settings object, read from the environment (prefix ``BROWSERFLEET_``) and CLI flags.

Built by :func:`load_settings` at start-up and passed down; nothing reads the environment at
import time. See docs/configuration.md for the reference table (keep it in step with this package).

Its fields, checks and derived values live in a mixin per concern: server.py (server, store,
accounts), nodes.py, browsers.py (Chromium flags, pool, containment), egress.py (egress policy,
upstream proxies), captcha.py, sessions.py, automations.py, search.py, browsing.py (the agent's
model), distributed.py and renders.py (renders, retention).
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from browserfleet.core.errors import Misconfigured
from browserfleet.settings.automations import AutomationMixin
from browserfleet.settings.browsers import CHROMIUM_FLAGS, POOL_FLAGS, SESSION_FLAGS, BrowserMixin
from browserfleet.settings.browsing import BrowsingMixin
from browserfleet.settings.captcha import CaptchaMixin
from browserfleet.settings.distributed import DistributedMixin
from browserfleet.settings.egress import EgressMixin
from browserfleet.settings.nodes import LocalNode, NodeMixin
from browserfleet.settings.renders import RenderMixin
from browserfleet.settings.search import SearchMixin
from browserfleet.settings.server import ServerMixin
from browserfleet.settings.sessions import SessionMixin

__all__ = ["CHROMIUM_FLAGS", "POOL_FLAGS", "SESSION_FLAGS", "LocalNode", "Settings", "load_settings"]


# Settings is the only BaseSettings: the mixins are plain models, one per concern, so the environment
# fills every field of every mixin and every mixin's validators run on the one object. Pydantic
# collects fields from the last base first, so the bases are listed backwards and model_fields
# reads server first (DistributedMixin extends ServerMixin, whose fields its checks read).
class Settings(
    RenderMixin,
    DistributedMixin,
    BrowsingMixin,
    SearchMixin,
    AutomationMixin,
    SessionMixin,
    CaptchaMixin,
    EgressMixin,
    BrowserMixin,
    NodeMixin,
    ServerMixin,
    BaseSettings,
):
    model_config = SettingsConfigDict(env_prefix="BROWSERFLEET_", extra="ignore")


def load_settings(**overrides: Any) -> Settings:
    """Environment first, then explicit overrides (CLI flags); ``None`` overrides are ignored."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        settings = Settings(**given)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        raise Misconfigured(f"invalid settings (BROWSERFLEET_*): {problems}") from exc
    # private to the server's user when created here (an existing one is checked at start:
    # store/private.py); browsers never see it either way (node/sandbox/)
    os.makedirs(settings.data_dir, mode=0o700, exist_ok=True)
    return settings
