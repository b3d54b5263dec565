"""Alerts about the weekly round: what they say, and their post to a webhook (no Dagster here; the sensors that
send them are in defs/round.py).

An alert is JSON a Slack incoming webhook takes ({"text": ...}) with the same facts as fields for any other
receiver. It names the week, the run, the failed step and the error, never a key: every text is passed through
`redact`, which hides the project's secrets (NUMERAI_PUBLIC_ID, NUMERAI_SECRET_KEY, STOCKNEWS_API_KEY and any key
set in a run's config), `token=` values and URL query strings. A webhook URL is itself a secret (whoever has a
Slack webhook's path can post to the channel): only its scheme and host are ever shown.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from signals_assets.news import redaction as news_redaction
from signals_assets.numerai import log_redaction
from signals_assets.numerai.round import Round
from signals_assets.weeks import Week

WEBHOOK_ENV = "SIGNALS_ALERT_WEBHOOK"
SECRET_VARIABLES = ("NUMERAI_PUBLIC_ID", "NUMERAI_SECRET_KEY", "STOCKNEWS_API_KEY")
MAX_ERROR_CHARS = 1000
# Run config keys whose string values are hidden too: keys given at launch instead of in the environment.
_SECRET_CONFIG_WORDS = ("secret", "key", "token", "public_id", "password")
_MIN_SECRET_CHARS = 8  # shorter config values (a flag, a count) would blank out ordinary words
RETRY_STATUSES = frozenset({429, *range(500, 600)})


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """`text` without the secrets (plain, URL-encoded, JSON-escaped), `token=` values or URL query strings."""
    # URL query strings first (a whole `?token=...` goes), then any `token=` left outside a URL.
    return news_redaction.redact(log_redaction.redact(text, [secret for secret in secrets if secret]))


def secrets_in_config(config: object) -> list[str]:
    """String values of a run's config under keys that name a secret (numerai.config.secret_key, ...)."""
    found: list[str] = []
    if isinstance(config, Mapping):
        for name, value in config.items():
            if isinstance(value, str) and any(word in str(name).lower() for word in _SECRET_CONFIG_WORDS):
                if len(value) >= _MIN_SECRET_CHARS:
                    found.append(value)
            else:
                found.extend(secrets_in_config(value))
    elif isinstance(config, (list, tuple)):
        for item in config:
            found.extend(secrets_in_config(item))
    return found


def webhook_label(url: str) -> str:
    """The webhook as it may be shown: `SIGNALS_ALERT_WEBHOOK (https://hooks.slack.com/...)`, without its path."""
    parts = urlsplit(url)
    return f"{WEBHOOK_ENV} ({parts.scheme}://{parts.hostname or '?'}/...)"


def url_secrets(url: str) -> list[str]:
    """The webhook URL and its path with query: what an error or a library's log line must not show."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return [url, path] if len(path) > 1 else [url]


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_ERROR_CHARS else f"{text[:MAX_ERROR_CHARS]}... ({len(text)} characters)"


@dataclass(frozen=True)
class RunOutcome:
    """A run of a week as an alert tells it: which, how it ended, and each failed step with its error
    (step None: the run failed outside any step)."""

    run_id: str
    job: str
    status: str
    failed_steps: tuple[tuple[str | None, str], ...] = ()
    attempt: int = 1  # Dagster's run_retries start attempt 2, 3, ...

    def describe(self, secrets: Sequence[str | None]) -> str:
        attempt = f", attempt {self.attempt}" if self.attempt > 1 else ""
        head = f"run {self.run_id} of {self.job} ({self.status.lower()}{attempt})"
        if not self.failed_steps:
            return head
        steps = "; ".join(
            f"{'step ' + step if step else 'the run itself'} failed: {_clip(redact(error, secrets))}"
            for step, error in self.failed_steps
        )
        return f"{head}: {steps}"

    def fields(self, secrets: Sequence[str | None]) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "job": self.job,
            "status": self.status,
            "attempt": self.attempt,
            "failed_steps": [
                {"step": step, "error": _clip(redact(error, secrets))} for step, error in self.failed_steps
            ],
        }


def _week_line(week: Week) -> str:
    return f"week {week.key} (signal date Friday {week.friday})"


def rerun_hint(week_key: str) -> str:
    return (
        f"Run it again: Dagster UI, Jobs > weekly_signal > Materialize, partition {week_key}; or "
        f"`dagster asset materialize -m signals_assets.definitions --select '*numerai_upload' --partition {week_key}`."
    )


def failure_alert(week_key: str | None, run: RunOutcome, secrets: Sequence[str | None]) -> dict[str, object]:
    """The alert for a failed weekly run: the week, the run, each failed step and its error (redacted)."""
    try:
        week = Week.from_key(week_key) if week_key else None
    except ValueError:
        week = None
    which = _week_line(week) if week else f"partition {week_key or '(none)'}"
    text = f"Numerai Signals: {run.job} failed for {which}: {run.describe(secrets)}."
    fields: dict[str, object] = {"kind": "run_failure", "week": week_key, **run.fields(secrets)}
    if week:
        closes = Round(week).closes
        text += (
            f" Its round closes {closes:%a %Y-%m-%d %H:%M} UTC; a missed round sets the model's stake to 0. "
            f"{rerun_hint(week.key)} (The numerai_round sensor also runs it again Sunday and Monday 08:00 UTC.)"
        )
        fields["round_closes"] = closes.isoformat()
    return {"text": redact(text, secrets), **fields}


def missed_upload_alert(
    week: Week, now: datetime, latest_run: RunOutcome | None, model_name: str | None, secrets: Sequence[str | None]
) -> dict[str, object]:
    """The alert when the round's close approaches and the week has not uploaded."""
    closes = Round(week).closes
    left = max(closes - now, timedelta(0))
    hours, minutes = divmod(int(left.total_seconds()) // 60, 60)
    model = f"model {model_name}" if model_name else "the model"
    last = f"Latest run: {latest_run.describe(secrets)}." if latest_run else "No run of the week is recorded."
    text = (
        f"Numerai Signals: {_week_line(week)} has not uploaded, and the round closes {closes:%a %Y-%m-%d %H:%M} UTC "
        f"(in {hours} h {minutes:02d} min): a missed round sets the stake of {model} to 0. {last} {rerun_hint(week.key)}"
    )
    fields: dict[str, object] = {
        "kind": "missed_upload",
        "week": week.key,
        "round_closes": closes.isoformat(),
        "model_name": model_name,
        "latest_run": latest_run.fields(secrets) if latest_run else None,
    }
    return {"text": redact(text, secrets), **fields}


class AlertNotSent(RuntimeError):
    """The webhook did not take the alert; the message says why, without the webhook's path."""


def post_alert(
    url: str, payload: Mapping[str, object], *, timeout_s: float, retries: int, backoff_s: float
) -> requests.Response:
    """POST `payload` as JSON to the webhook; 429/5xx answers, timeouts and refused connections are retried up
    to `retries` times (urllib3's Retry; a retried post may arrive twice, better than not at all)."""
    hidden = url_secrets(url)
    retry = Retry(
        total=retries,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"POST"}),
        backoff_factor=backoff_s,
        raise_on_status=True,
    )
    body = json.dumps(payload, default=str).encode("utf-8")
    with requests.Session() as session:
        session.mount("http://", HTTPAdapter(max_retries=retry))
        session.mount("https://", HTTPAdapter(max_retries=retry))
        try:
            # urllib3 logs each retry with the request's path, which is the webhook's secret.
            with log_redaction.redacting_library_logs(hidden):
                response = session.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=timeout_s)
            response.raise_for_status()
        except requests.RequestException as error:
            raise AlertNotSent(
                f"{webhook_label(url)} did not take the alert (up to {retries + 1} attempt(s), "
                f"{timeout_s:g} s timeout each): {redact(str(error), hidden)}. Check that the webhook URL is "
                f"current (a Slack webhook is revoked when its app is removed) and that this host can reach it."
            ) from None
    return response
