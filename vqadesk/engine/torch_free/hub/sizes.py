"""Byte counts as people read them, in the decimal units the Hub's pages use ("990 MB", "1.54 GB")."""

from __future__ import annotations

_UNITS = ((1_000_000_000_000, "TB"), (1_000_000_000, "GB"), (1_000_000, "MB"), (1_000, "kB"))


def format_bytes(count: int) -> str:
    """``"1.54 GB"``, ``"470 MB"``, ``"4.6 kB"``, ``"125 bytes"``: three significant digits at most."""
    for scale, unit in _UNITS:
        if count >= scale:
            value = count / scale
            digits = 0 if value >= 100 else 1 if value >= 10 else 2
            return f"{value:.{digits}f} {unit}"
    return f"{count} bytes" if count != 1 else "1 byte"
