"""Showing secrets without revealing them."""

ELLIPSIS = "\u2026"


def mask_secret(secret: str, visible: int = 4) -> str:
    """``R0ABCDEF...WXY12`` -> ``R0AB…XY12``: enough to tell keys apart, not to use one.

    Short values are masked entirely: showing 8 characters of a 10-character secret would
    reveal most of it.
    """
    if not secret:
        return ""
    if len(secret) < visible * 4:
        return ELLIPSIS * 3
    return f"{secret[:visible]}{ELLIPSIS}{secret[-visible:]}"
