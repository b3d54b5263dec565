"""Keeping the Stock News API token out of every text: the one place that knows its forms.

The API takes its key as a `token` query parameter, so every request URL carries the secret. Nothing
outside this module decides how a token is hidden: messages, log lines and cache entries are passed
through `redact`, queries are described with `redacted_query`, and urllib3's own loggers (which print
request URLs when a retry happens, and at DEBUG) get `RedactTokenFilter`. How a secret is found in its
every form, and how a log record is rewritten, is signals_assets/redaction.py's, shared with Numerai's client.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from signals_assets import redaction

REDACTED = "***"
TOKEN_PARAM = "token"

_TOKEN_IN_TEXT = re.compile(r"(token=)[^&\s'\"]+", re.IGNORECASE)

# A logger's filter sees only the records logged on that very logger, not those of its children, so
# every urllib3 logger that may print a URL gets one.
URLLIB3_LOGGERS = (
    "urllib3",
    "urllib3.connection",
    "urllib3.connectionpool",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
)


def redact(text: str, secret: str | None = None) -> str:
    """`text` with `token=...` values and the secret itself (plain, URL-encoded or JSON-escaped) as ***."""
    return _TOKEN_IN_TEXT.sub(rf"\g<1>{REDACTED}", redaction.hide(text, [secret], REDACTED))


def contains_secret(text: str, secret: str | None) -> bool:
    return redaction.contains_secret(text, [secret])


def redacted_query(params: Mapping[str, Any]) -> str:
    """A request's query string as it may be shown: every parameter, the token as ***."""
    return urlencode({**params, TOKEN_PARAM: REDACTED}, safe="*")


def without_token(params: Mapping[str, Any]) -> dict[str, str]:
    """The query parameters minus the token, as strings (what a cache may key on)."""
    return {str(name): str(value) for name, value in params.items() if str(name).lower() != TOKEN_PARAM}


class RedactTokenFilter(redaction.RedactingFilter):
    """Rewrites a log record that shows a `token=` value, before any handler sees it."""

    def __init__(self) -> None:
        super().__init__(redact)


def install_urllib3_redaction() -> None:
    """Put `RedactTokenFilter` on urllib3's loggers (once): its retry warnings print the request URL."""
    for logger in redaction.loggers_under(["urllib3"], URLLIB3_LOGGERS):
        if not any(isinstance(existing, RedactTokenFilter) for existing in logger.filters):
            logger.addFilter(RedactTokenFilter())
