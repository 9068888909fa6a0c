"""Entry point: ``flask --app app run`` and ``gunicorn app:app`` both use this.

The outer layer: it builds the web app and gives it the ``yizhan`` commands, so
``flask --app app <command>`` works as ``yizhan <command>`` does.
"""

from stations.cli import register_commands
from stations.web import create_app

app = register_commands(create_app())
