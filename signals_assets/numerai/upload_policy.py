"""Which week's submission goes to Numerai: decided without any request, so a backfill never talks to Numerai."""

from __future__ import annotations

from datetime import datetime

from signals_assets.weeks import Week, latest_complete_week


def reason_not_to_upload(
    week: Week, *, upload: bool, keys_set: bool, model_name: str | None, now: datetime | None = None
) -> str | None:
    """Why this week's submission is not uploaded, or None when it should be. Makes no request, so a
    backfilled week never talks to Numerai: only the latest complete week uploads, with upload on,
    both keys and a model name set."""
    latest = latest_complete_week(now)
    if week.start < latest.start:
        return f"week {week.key} is not the latest complete week ({latest.key}): backfills never upload"
    if week.start > latest.start:
        return f"week {week.key} has not closed yet (latest complete week: {latest.key}): only a closed week uploads"
    if not upload:
        return "upload is off (numerai resource, upload: false): the submission is built and validated only"
    if not keys_set:
        return "NUMERAI_PUBLIC_ID / NUMERAI_SECRET_KEY not set: set both to upload"
    if not model_name:
        return "NUMERAI_MODEL_NAME not set: set it to the Signals model to submit as"
    return None
