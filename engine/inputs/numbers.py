"""Bounds on numbers read from files: an absurd number is an error at once, never minutes of work.

Exact decimals cost time in proportion to their digits and exponent (1e999999 in a 2 KB
submission made rounding quadratic), and Python refuses to turn more than 4,300 digits into
an int. Every number a submission, a context or a data file holds is read through here.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

MAX_DIGITS = 60
"""Significant digits a number may have (CMS's data has at most about 20)."""
MAX_EXPONENT = 60
"""How far the decimal point may move: 1e60 and 1e-60 are the extremes."""


class NumberTooLarge(ValueError):
    pass


def bounded_decimal(text: str) -> Decimal:
    """The exact Decimal of a number's text, or NumberTooLarge/ValueError, in time linear in the text."""
    stripped = text.strip()
    if len(stripped) > MAX_DIGITS + 20:
        raise NumberTooLarge(f"the number {stripped[:20]}… has more than {MAX_DIGITS} digits")
    try:
        value = Decimal(stripped)
    except InvalidOperation:
        raise ValueError(f"not a number: {stripped!r}") from None
    if not value.is_finite():
        raise ValueError(f"not a finite number: {stripped!r}")
    _check(value, stripped)
    return value


def bounded_int(text: str) -> int:
    stripped = text.strip()
    if len(stripped.lstrip("+-")) > MAX_DIGITS:
        raise NumberTooLarge(f"the number {stripped[:20]}… has more than {MAX_DIGITS} digits")
    return int(stripped)


def _check(value: Decimal, text: str) -> None:
    sign, digits, exponent = value.as_tuple()
    if len(digits) > MAX_DIGITS:
        raise NumberTooLarge(f"the number {text[:20]}… has more than {MAX_DIGITS} digits")
    if isinstance(exponent, int) and abs(value.adjusted()) > MAX_EXPONENT:
        raise NumberTooLarge(f"the number {text[:30]} is out of range (beyond 1e±{MAX_EXPONENT})")
