"""Operations routes, shared by every family: ``routes`` (``/health``, ``/pressure``, ``/metrics``)
and ``nodes`` (``GET /v1/nodes``, with the admin key). browserfleet/families.py lists the routers."""
