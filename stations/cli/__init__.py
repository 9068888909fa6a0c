"""The ``yizhan`` command line, built on Flask's CLI (``flask --app app …`` works too).

Commands live beside their part of the product: ``registry`` (init, demo, import,
export, backup, restore), ``users``, ``unions`` (the union tree), ``ledger`` (ledger import,
report), ``coverage`` (coverage, gaps, suggest, demand) and ``network`` (street networks);
``common`` holds what they share.
The web app does not know its commands: the outer layer — ``app.py``, the ``yizhan``
entry point below, the tests' fixtures — calls ``register_commands(app)``.
"""

from __future__ import annotations

from flask.cli import FlaskGroup

__all__ = ["main", "register_commands"]


def register_commands(app):
    """Add every ``yizhan`` command to ``app.cli``; returns the app."""
    from . import coverage, ledger, network, registry, unions, users

    for module in (registry, users, unions, ledger, coverage, network):
        for command in module.COMMANDS:
            app.cli.add_command(command)
    return app


def _create_app():
    from ..web import create_app

    return register_commands(create_app())


main = FlaskGroup(create_app=_create_app, add_default_commands=True,
                  help="Yizhan 驿站: station registry commands. Database path from YIZHAN_DB.")
