"""The one exception type of the reference stage."""

from __future__ import annotations

from engine.errors import InputError


class ReferenceImageError(InputError):
    """A reference image that cannot work: the message names the file and what is wrong.

    (Named so as not to shadow Python's builtin ``ReferenceError``.)"""
