"""Keeping secrets out of text and out of other libraries' log records: the mechanism every client shares.

A secret leaks in more forms than the one it was given in: inside a URL (percent-encoded, or with `+` for a space
as a query string writes it), escaped inside a JSON string, or plain. `hide` replaces every form, longest first so
that a form holding another goes whole. `RedactingFilter` rewrites every part of a log record a handler may print
(message, args, a message or traceback a formatter already wrote, the stack); a logger's filters run before any
handler, its own or its ancestors', so no handler sees the secret.

What else a client hides is said in its own module: the Stock News API's `token=` parameter in news/redaction.py,
URL query strings (presigned signatures) in numerai/log_redaction.py.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from urllib.parse import quote, quote_plus


def secret_forms(secret: str) -> set[str]:
    """The secret as written plainly, percent-encoded (`quote`, and `quote_plus` as a query string has it) and
    inside a JSON string."""
    return {secret, quote(secret, safe=""), quote_plus(secret, safe=""), json.dumps(secret)[1:-1]}


def contains_secret(text: str, secrets: Iterable[str | None]) -> bool:
    """Whether `text` shows any of the secrets, in any of their forms."""
    return any(form in text for secret in secrets if secret for form in secret_forms(secret))


def hide(text: str, secrets: Iterable[str | None], mark: str) -> str:
    """`text` with every form of every secret replaced by `mark` (longest first)."""
    forms = {form for secret in secrets if secret for form in secret_forms(secret)}
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, mark)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record so that neither its message, its args, a message or traceback a handler already
    formatted, nor its stack shows what `clean` removes; then lets it through."""

    def __init__(self, clean: Callable[[str], str]) -> None:
        super().__init__()
        self._clean = clean

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: logging would print msg and args to stderr as they are
            message = f"{record.msg} {record.args!r}"
        args = repr(record.args) if record.args else ""
        if self._clean(message) != message or self._clean(args) != args:
            # The args go too: some handlers (and logging's own error report) show them apart from the message.
            record.msg, record.args = self._clean(message), None
        if isinstance(getattr(record, "message", None), str):  # cached by a Formatter that ran already
            record.message = self._clean(record.message)
        if record.exc_info or record.exc_text:
            traceback = record.exc_text or logging.Formatter().formatException(record.exc_info)
            if self._clean(traceback) != traceback:
                # Formatters print exc_text when set; without exc_info no handler formats the raw exception.
                record.exc_info, record.exc_text = None, self._clean(traceback)
        if record.stack_info:
            record.stack_info = self._clean(record.stack_info)
        return True


def loggers_under(prefixes: Iterable[str], names: Iterable[str] = ()) -> list[logging.Logger]:
    """The loggers named by `prefixes` and `names`, and every other logger under a prefix that exists by now.

    A logger's filter sees only the records logged on that very logger, not those of its children, so a library's
    every logger that may print a secret needs one."""
    prefixes = tuple(prefixes)
    found = set(prefixes) | set(names)
    found |= {
        name
        for name in list(logging.root.manager.loggerDict)
        if any(name.startswith(f"{prefix}.") for prefix in prefixes)
    }
    return [logging.getLogger(name) for name in sorted(found)]
