"""Flask commands. Each domain contributes its own group; this file only registers them."""

from flask import Flask


def register(app: Flask) -> None:
    from seed.commands import seed_cli

    app.cli.add_command(seed_cli)
