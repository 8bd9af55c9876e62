"""Log lines carry gateway-supplied strings (team, key alias and model names, PagerDuty's
answers): a newline in one of them would forge a log line that looks like the console's own.
Every handler the console's processes log through escapes control characters in the message;
a traceback attached to a record keeps its lines."""

from __future__ import annotations

import logging

# C0 and C1 control characters and Unicode's line and paragraph separators; a tab is kept.
_ESCAPES = {
    code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    for code in [*range(0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029]
    if code != 0x09
}
_ESCAPES |= {0x0A: "\\n", 0x0D: "\\r"}


def printable(text: str) -> str:
    """`text` with every control character written as its escape, on one line."""
    return text.translate(_ESCAPES)


class EscapeControlCharacters(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        safe = printable(message)
        if safe != message:
            record.msg, record.args = safe, None
        return True


def escape_in(handlers: list[logging.Handler]) -> None:
    """Add the filter to handlers set up outside Django's LOGGING (Celery's worker and beat)."""
    for handler in handlers:
        if not any(isinstance(f, EscapeControlCharacters) for f in handler.filters):
            handler.addFilter(EscapeControlCharacters())
