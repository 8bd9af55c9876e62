"""Filters on every handler the console's processes log through.

- Log lines carry gateway-supplied strings (team, key alias and model names, PagerDuty's
  answers): a newline in one of them would forge a log line that looks like the console's own.
  Control characters in the message are escaped; a traceback attached to a record keeps its
  lines.
- Celery's routine lines (a task received, a task succeeded, beat sending a tick: several
  every few seconds, whether anything happens or not) are DEBUG, not INFO: at INFO the log
  tells the story, one line per incident transition and per delivery outcome.
"""

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


# Celery's routine at INFO, by logger and the start of its message template: the worker's
# "Task ... received" and "... succeeded", and beat's "Scheduler: Sending due task". Start-up
# banners ("beat: Starting...") stay.
ROUTINE = {
    "celery.worker.strategy": "Task %(name)s[%(id)s] received",
    "celery.app.trace": "Task %(name)s[%(id)s] succeeded",
    "celery.beat": "Scheduler: Sending due task",
}


class RoutineAsDebug(logging.Filter):
    """Celery's routine INFO lines become DEBUG lines: shown only when DEBUG is."""

    def filter(self, record: logging.LogRecord) -> bool:
        routine = ROUTINE.get(record.name)
        if record.levelno != logging.INFO or not routine or not str(record.msg).startswith(routine):
            return True
        if not logging.getLogger().isEnabledFor(logging.DEBUG):
            return False
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


def install(handlers: list[logging.Handler]) -> None:
    """Add the filters to handlers set up outside Django's LOGGING (Celery's worker and beat)."""
    for handler in handlers:
        # In this order: the routine is recognised by its message template, which escaping
        # replaces with the formatted message.
        for kind in (RoutineAsDebug, EscapeControlCharacters):
            if not any(isinstance(f, kind) for f in handler.filters):
                handler.addFilter(kind())
