"""Keeping Numerai's API keys (and presigned signatures) out of every text, including other libraries' logs.

numerapi logs what Numerai answers: a GraphQL error's message at ERROR (numerapi.base_api), an HTTP error
with its reason phrase at ERROR (numerapi.utils), request bodies at DEBUG. When Numerai or a proxy echoes
the `Authorization: Token PUBLIC$SECRET` header in an error, numerapi would log the keys, and Dagster keeps
whatever reaches stderr in the run's compute logs. urllib3 logs each request line at DEBUG, presigned query
string included.

So while a Numerai call runs, `redacting_library_logs(keys)` puts a `KeyRedactingFilter` on every numerapi
and urllib3 logger: a logger's filters run before any handler (its own or its ancestors'), so no handler
ever sees the keys. It takes the filter off again afterwards: outside a call nothing is filtered and no key
stays referenced by a logger. `redact` is the one function that knows what to hide, for messages too.
"""

from __future__ import annotations

import json
import logging
import pkgutil
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from urllib.parse import quote

import numerapi

REDACTED = "<redacted>"
LIBRARY_PREFIXES = ("numerapi", "urllib3")
# A URL's query string (`https://host/path?...`), or one in a request line as urllib3 logs it ("GET /path?...").
_QUERY = re.compile(r"((?:https?://|\"[A-Z]+ /)[^\s?'\"]*)\?[^\s'\")]*")


def secret_forms(secret: str) -> set[str]:
    """The secret as written plainly, URL-encoded and inside a JSON string."""
    return {secret, quote(secret, safe=""), json.dumps(secret)[1:-1]}


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """`text` without the secrets (in any of their forms) and without URL query strings (presigned
    signatures are credentials)."""
    for secret in secrets:
        if secret:
            for form in sorted(secret_forms(secret), key=len, reverse=True):
                text = text.replace(form, REDACTED)
    return _QUERY.sub(rf"\1?{REDACTED}", text)


class KeyRedactingFilter(logging.Filter):
    """Rewrites a record so that neither its message, its args, a message or traceback a handler already
    formatted, nor its stack shows the secrets; then lets it through."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        super().__init__()
        self._secrets = tuple(secret for secret in secrets if secret)

    def _clean(self, text: str) -> str:
        return redact(text, self._secrets)

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


def library_loggers() -> list[logging.Logger]:
    """Every numerapi and urllib3 logger: one per numerapi module, and any other that exists by now.

    A logger's filter sees only the records logged on that very logger, not those of its children."""
    names = set(LIBRARY_PREFIXES)
    names |= {info.name for info in pkgutil.iter_modules(numerapi.__path__, "numerapi.")}
    names |= {
        name
        for name in list(logging.root.manager.loggerDict)
        if any(name.startswith(f"{prefix}.") for prefix in LIBRARY_PREFIXES)
    }
    return [logging.getLogger(name) for name in sorted(names)]


@contextmanager
def redacting_library_logs(secrets: Iterable[str | None]) -> Iterator[None]:
    """While inside, numerapi's and urllib3's loggers redact the secrets from every record."""
    log_filter = KeyRedactingFilter(secrets)
    loggers = library_loggers()
    for logger in loggers:
        logger.addFilter(log_filter)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(log_filter)
