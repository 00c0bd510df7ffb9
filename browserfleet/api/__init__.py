"""HTTP façades: one package per API family (renders, sessions, automations, browsing) and the
operations routes (ops); they validate, authenticate, call core, shape replies. What they share:
errors (the envelopes' machinery), deps (the fleet, the caller's project), body_limit, relay.
browserfleet/families.py declares the families."""
