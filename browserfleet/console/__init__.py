"""The web console: server-rendered pages (Jinja2, autoescaped) over the same core services the
API families call, with small islands of JavaScript (the step editor, the replay, the videos).

``app.py`` builds its ASGI app, mounted by the control-plane app at ``/console``; ``auth.py``
signs a browser in with an API key (a session cookie) and guards forms with CSRF tokens;
``pages/`` has one module per part of it. docs/console.md shows each page.
"""
