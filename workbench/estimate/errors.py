"""The one error type the estimator raises: a one-line message naming the file or field."""

from __future__ import annotations


class EstimateError(ValueError):
    """Bad model files or settings; ``str(err)`` is one line with a hint."""
