"""The web console at /console: officials' reports and stations' work in the browser.

Server-rendered pages (Jinja2), plain HTML forms, SVG charts drawn on the server, one
stylesheet; nothing loaded from the internet. Pages call the same services as the API, with
the same scoping, so no permission rule exists twice.
"""


def register(app) -> None:
    """Sign-in settings, then the pages (each module adds its own to the blueprint)."""
    from marketplace.console import officials, pages, signin, stations  # noqa: F401

    signin.init_app(app)
    app.register_blueprint(pages.blp)
