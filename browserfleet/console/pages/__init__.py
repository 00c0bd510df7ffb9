"""The console's pages, one module per family of the API (and sign-in, overview, fleet, keys)."""
