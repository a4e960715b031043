"""The web console at /console: officials' reports and stations' work in the browser.

Server-rendered pages (Jinja2), plain HTML forms, SVG charts drawn on the server, one
stylesheet, and a few lines of script where a page follows a job (it fetches its panel again
while the job runs); nothing loaded from the internet. Pages call the same services as the API, with
the same scoping, so no permission rule exists twice.
"""


def register(app) -> None:
    """Sign-in settings, then the pages (each module adds its own to the blueprint)."""
    from marketplace.console import (  # noqa: F401
        officials,
        pages,
        payouts,
        signin,
        station_imports,
        station_livestreams,
        station_mappings,
        station_products,
        stations,
    )

    signin.init_app(app)
    app.register_blueprint(pages.blp)
