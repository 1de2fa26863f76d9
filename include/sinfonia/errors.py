"""The one kind of error the command line prints as one line, without a traceback or its type."""

from __future__ import annotations


class UserError(Exception):
    """A failure the person running the command can act on: the message says what to do."""
