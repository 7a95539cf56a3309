"""Accounts: sign-up and confirmation links, passwords, lockout, second factor, sessions and tokens.

One module per concern; pages, the REST API and the CLI call these functions."""
