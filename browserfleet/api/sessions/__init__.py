"""The Sessions API family (browserbase-compatible): live browsers driven over CDP.

The control plane's endpoints of the family are here: ``routes`` (``/v1/sessions``: create, get,
list, update) with its ``schemas`` and the family's error envelope, ``contexts`` (saved browser
profiles), ``extensions``, ``projects`` (and usage), ``fetch`` (``POST /v1/fetch``, its envelope
adds the fetch's id) and ``search`` (``POST /v1/search``); browserfleet/families.py lists their
routers. What needs the session's live browser or
its node — ``connect`` (the CDP proxy), ``webdriver``, ``live``, ``devtools``, ``debug``,
``downloads``, ``uploads``, ``logs``, ``recording`` — is the node-local router
(browserfleet/node/session/routes/): the embedded app mounts it, the node's internal app
(node_app.py) serves it, and in distributed mode the control plane relays to it (api/relay.py).
"""

from browserfleet.api.sessions.routes import router

__all__ = ["router"]
