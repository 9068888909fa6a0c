"""Accounts: who may sign in, and how often one may try.

- ``users``: roles, password hashes, server-side sessions, failed-login rules;
- ``tokens``: per-user API tokens for scripts;
- ``limits``: sliding-window rate limits shared by every server process (SQLite).

The package imports nothing on its own: import the module you need.
"""
