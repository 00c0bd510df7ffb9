"""Everything a live session is on its node, and its node-local router.

* ``executor`` — :class:`SessionExecutor`: a dedicated browser per session, held until released,
  timed out, abandoned or crashed; ``process`` its browser process (arguments, DevTools port,
  stop), ``supervisor`` the node's own CDP connection to it (device profile, page set-up);
* ``live`` — :class:`LiveSession` and the node-local :class:`LiveSessions` registry; ``events``
  the bridges from the dispatcher's ready/release events to it;
* ``pipe`` — the CDP pipe from a client to the browser, through the protocol firewall;
* ``webdriver`` (chromedriver), ``live_view`` with ``live_input`` (the interactive viewer),
  ``devtools`` (Chromium's DevTools frontend);
* ``files`` (downloads, uploads), ``history`` with ``log`` (CDP traffic) and ``recording`` (rrweb),
  ``screencast`` and ``videos`` (recording downloads), ``captcha``, ``extensions``;
* ``routes/`` — the node-local router: connect, webdriver, live view, DevTools, files, logs and
  recordings, debug URLs. The embedded app mounts it, the node's internal app serves it, and the
  control plane relays to it the path segments it serves (api/relay.py).
"""
