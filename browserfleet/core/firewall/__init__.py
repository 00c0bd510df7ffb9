"""The protocol firewall: what a tenant may ask of a browser, parsed and checked before it gets there.

Tenants drive real browsers: raw CDP over a session's ``connectUrl`` (and the DevTools frontend),
WebDriver through ``seleniumRemoteUrl``, automation steps, the browsing agent's tools. Everything
they send is **parsed** (JSON, never matched as text) and checked against an **allow-list**:

* :mod:`.urls` — which URLs may be navigated to or fetched (web schemes only: no ``file:``,
  ``chrome:``, ``devtools:``, ``view-source:``…), shared by steps, agent tools, renders, fetch
  and webhooks;
* :mod:`.cdp` — every CDP method a client may call, and what happens to the parameters that
  carry a URL, a path, a proxy or a process argument (forced or refused);
* :mod:`.webdriver` — every WebDriver command a client may send (paths normalised before any
  decision), New Session capabilities built by the server only.

One policy for the embedded and the distributed paths: the node-local routers that pipe a client
to its browser apply it (the control plane only relays). docs/security.md lists every method and
what happens to it. The OS containment of the browsers (node/sandbox/) is a second, independent
layer: each layer is enough on its own for the cases it covers.
"""

from __future__ import annotations

from browserfleet.core.firewall.cdp import CdpPolicy, Forward, Refuse
from browserfleet.core.firewall.urls import BlockedUrl, check_navigable_url, check_web_url

__all__ = ["BlockedUrl", "CdpPolicy", "Forward", "Refuse", "check_navigable_url", "check_web_url"]
