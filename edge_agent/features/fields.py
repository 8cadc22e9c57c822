"""Reading numbers out of the package's JSON files, with errors that name the field."""

from __future__ import annotations

import numbers

__all__ = ["json_float"]


def json_float(value: object, what: str) -> float:
    """`value` as a float: a JSON number (not a boolean) within the range of a float; else ValueError
    saying `what` (the field's name as the reader should see it) and what was found."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{what} must be a number, got {value!r}")
    try:
        return float(value)
    except OverflowError:  # a JSON integer beyond any float
        raise ValueError(f"{what} is beyond the range of a float") from None
