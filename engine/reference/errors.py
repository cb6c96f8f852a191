"""The one exception type of the reference stage."""

from __future__ import annotations


class ReferenceError(ValueError):
    """A reference image that cannot work: the message names the file and what is wrong."""
