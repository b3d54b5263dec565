"""Keeping Numerai's API keys (and presigned signatures) out of every text, including other libraries' logs.

numerapi logs what Numerai answers: a GraphQL error's message at ERROR (numerapi.base_api), an HTTP error
with its reason phrase at ERROR (numerapi.utils), request bodies at DEBUG. When Numerai or a proxy echoes
the `Authorization: Token PUBLIC$SECRET` header in an error, numerapi would log the keys, and Dagster keeps
whatever reaches stderr in the run's compute logs. urllib3 logs each request line at DEBUG, presigned query
string included.

So while a Numerai call runs, `redacting_library_logs(keys)` puts a `KeyRedactingFilter` on every numerapi
and urllib3 logger: a logger's filters run before any handler (its own or its ancestors'), so no handler
ever sees the keys. It takes the filter off again afterwards: outside a call nothing is filtered and no key
stays referenced by a logger. `redact` is the one function that knows what to hide, for messages too; how a
secret is found in its every form, and how a record is rewritten, is signals_assets/redaction.py's.
"""

from __future__ import annotations

import logging
import pkgutil
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import numerapi

from signals_assets import redaction

REDACTED = "<redacted>"
LIBRARY_PREFIXES = ("numerapi", "urllib3")
# A URL's query string (`https://host/path?...`), or one in a request line as urllib3 logs it ("GET /path?...").
_QUERY = re.compile(r"((?:https?://|\"[A-Z]+ /)[^\s?'\"]*)\?[^\s'\")]*")


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """`text` without the secrets (in any of their forms) and without URL query strings (presigned
    signatures are credentials)."""
    return _QUERY.sub(rf"\1?{REDACTED}", redaction.hide(text, secrets, REDACTED))


class KeyRedactingFilter(redaction.RedactingFilter):
    """Rewrites a record so that no part a handler may print shows the secrets; then lets it through."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        kept = tuple(secret for secret in secrets if secret)
        super().__init__(lambda text: redact(text, kept))


def library_loggers() -> list[logging.Logger]:
    """Every numerapi and urllib3 logger: one per numerapi module, and any other that exists by now.

    A logger's filter sees only the records logged on that very logger, not those of its children."""
    modules = [info.name for info in pkgutil.iter_modules(numerapi.__path__, "numerapi.")]
    return redaction.loggers_under(LIBRARY_PREFIXES, modules)


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
