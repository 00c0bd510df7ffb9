from tests.site.fixtures import site_server, site_url  # noqa: F401
