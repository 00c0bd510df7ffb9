"""The local test website (``create_site`` in ``app.py``, ``SiteServer`` in ``server.py``)."""
