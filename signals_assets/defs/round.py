"""Never miss a round: Numerai sets a model's stake to 0 for a round it misses (Saturday 18:00 to Monday 14:30 UTC).

- UPLOAD_FRESHNESS: numerai_upload's freshness policy; the UI shows it late when no week has materialized it
  between Saturday 18:00 and Sunday 06:00 UTC.
- numerai_round: when the latest week has not uploaded, runs weekly_signal for it again on Sunday 08:00 and
  Monday 08:00 UTC, and alerts on Monday 12:00 UTC (the slots in signals_assets/numerai/round.py).
- weekly_signal_failure_alert: posts each failed weekly_signal run, its failed step and error.
Alerts go to SIGNALS_ALERT_WEBHOOK (the alert_webhook resource); unset, the sensors log what they would say.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Literal

import dagster as dg
import duckdb
from pydantic import Field

from signals_assets.alerts import (
    SECRET_VARIABLES,
    WEBHOOK_ENV,
    AlertNotSent,
    RunOutcome,
    failure_alert,
    missed_upload_alert,
    post_alert,
    secrets_in_config,
    webhook_label,
)
from signals_assets.defs.environment import from_env, is_set
from signals_assets.defs.jobs import weekly_signal_job
from signals_assets.defs.numerai.resources import NumeraiSignals
from signals_assets.defs.warehouse import SCHEMA, Warehouse, WarehouseLocked
from signals_assets.numerai.round import Round, round_at
from signals_assets.numerai.upload_policy import reason_not_to_upload
from signals_assets.weeks import PARTITION_COLUMN, Week

# Dagster's own run tags.
PARTITION_TAG, BACKFILL_TAG, RETRY_NUMBER_TAG = "dagster/partition", "dagster/backfill", "dagster/retry_number"
ROUND_SLOT_TAG = "signals/round_slot"  # on the runs numerai_round requests: which slot started them
ROUND_INTERVAL_S = 300
IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]

# Late when no week has materialized numerai_upload between Saturday 18:00 (the round opens; the schedule runs
# at 19:00) and Sunday 06:00 UTC. Dagster looks at the latest materialization of any week, and a `skipped` upload
# is a materialization too: the round sensor below reads the upload's status itself.
UPLOAD_FRESHNESS = dg.FreshnessPolicy.cron(deadline_cron="0 6 * * 0", lower_bound_delta=timedelta(hours=36))

Delivery = Literal["sent", "unset", "failed"]


class AlertWebhook(dg.ConfigurableResource):
    """Where alerts about the weekly round are posted: a Slack-compatible incoming webhook taking JSON."""

    url: str | None = Field(
        default=from_env(WEBHOOK_ENV),
        repr=False,
        description="Incoming webhook URL (env SIGNALS_ALERT_WEBHOOK), e.g. a Slack one; a secret, never logged "
        "(only its host). Unset: the sensors log what they would have posted.",
    )
    timeout_seconds: float = Field(default=10.0, gt=0, description="Timeout of each post to the webhook.")
    retries: int = Field(default=2, ge=0, description="Retries of a post answered 429/5xx, timed out or refused.")
    backoff_seconds: float = Field(default=1.0, ge=0, description="Backoff factor between retries (urllib3).")

    def deliver(self, payload: dict[str, object], log: logging.Logger) -> tuple[Delivery, str]:
        """Post the alert; never raises. Returns how it went and a line saying so (the URL's path never in it)."""
        if not self.url:
            line = f"{WEBHOOK_ENV} not set, so no alert was posted; it would say: {payload['text']}"
            log.warning(line)
            return "unset", line
        try:
            post_alert(
                self.url, payload, timeout_s=self.timeout_seconds, retries=self.retries, backoff_s=self.backoff_seconds
            )
        except AlertNotSent as error:
            log.error(str(error))
            return "failed", str(error)
        line = f"Alert posted to {webhook_label(self.url)}."
        log.info(line)
        return "sent", line


def known_secrets(numerai: NumeraiSignals, run_config: object = None) -> list[str]:
    """Every key an alert must not show: the project's secret variables, the numerai resource's keys, and keys
    given in a run's config."""
    from_environment = [dg.EnvVar(name).get_value() for name in SECRET_VARIABLES if is_set(name)]
    found = [*from_environment, numerai.public_id, numerai.secret_key, *secrets_in_config(run_config)]
    return [secret for secret in found if secret]


def uploaded_row(warehouse: Warehouse, week: Week) -> dict | None:
    """The week's `uploaded` row of signals.numerai_upload; None when it has none (or the table does not exist)."""
    try:
        with warehouse.connect() as connection:
            frame = connection.execute(
                f"SELECT submission_id, model_name, uploaded_at FROM {SCHEMA}.numerai_upload "
                f"WHERE {PARTITION_COLUMN} = ? AND status = 'uploaded'",
                [week.week_start],
            ).fetchdf()
    except duckdb.CatalogException:
        return None
    return None if frame.empty else frame.iloc[0].to_dict()


def recorded_upload(instance: dg.DagsterInstance, week: Week) -> dict | None:
    """The metadata of the week's latest numerai_upload materialization when it says `uploaded`, else None."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("numerai_upload"), asset_partitions=[week.key]), limit=1
    ).records
    materialization = records[0].asset_materialization if records else None
    metadata = {name: value.value for name, value in (materialization.metadata if materialization else {}).items()}
    return metadata if metadata.get("status") == "uploaded" else None


def failed_steps(instance: dg.DagsterInstance, run_id: str) -> tuple[tuple[str | None, str], ...]:
    """Each failed step of a run and its error, read from the run's events."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records
    events = [record.event_log_entry.dagster_event for record in records]
    return tuple((event.step_key, error_text(event)) for event in events if event is not None)


def error_text(event: dg.DagsterEvent) -> str:
    """A failure event's error: the step's own exception under Dagster's wrapper ("Error occurred while executing
    op ..."), whose message says the cause and the fix; not a library error it was raised from."""
    error = getattr(event.event_specific_data, "error", None)
    if error is None:
        return event.message or "no error recorded"
    while error.cause is not None and error.message.startswith("dagster."):
        error = error.cause
    name, _, message = error.message.strip().partition(": ")
    return f"{name.rsplit('.', 1)[-1]}: {message}" if message else error.message.strip()


def outcome(instance: dg.DagsterInstance, run: dg.DagsterRun) -> RunOutcome:
    steps = failed_steps(instance, run.run_id) if run.status == dg.DagsterRunStatus.FAILURE else ()
    return RunOutcome(run.run_id, run.job_name, run.status.value, steps, 1 + int(run.tags.get(RETRY_NUMBER_TAG, 0)))


def runs_of_week(instance: dg.DagsterInstance, week: Week, statuses=None) -> list[dg.DagsterRun]:
    """The week's runs (any job), newest first."""
    return list(instance.get_runs(filters=dg.RunsFilter(tags={PARTITION_TAG: week.key}, statuses=statuses), limit=20))


def check_round(
    context: dg.SensorEvaluationContext,
    now: datetime,
    *,
    warehouse: Warehouse,
    numerai: NumeraiSignals,
    alert_webhook: AlertWebhook,
) -> dg.SensorResult | dg.SkipReason:
    """What numerai_round does at `now`: the sensor passes the clock, tests a chosen time."""
    round_ = round_at(now)
    week, slot = round_.week, round_.slot_at(now)
    if slot is None:
        return dg.SkipReason(round_.why_no_slot(now))
    key = round_.slot_key(slot)
    if context.cursor == key:
        return dg.SkipReason(f"The {slot.describe()} for week {week.key} has acted already (cursor {key}).")
    keys_set = bool(numerai.public_id and numerai.secret_key)
    reason = reason_not_to_upload(
        week, upload=numerai.upload, keys_set=keys_set, model_name=numerai.model_name, now=now
    )
    if reason:
        return dg.SkipReason(
            f"Uploading is not enabled, so there is no round to keep for week {week.key} ({reason}): no retry and "
            "no missed-upload alert."
        )
    in_flight = runs_of_week(context.instance, week, IN_FLIGHT)
    if slot.action == "retry" and in_flight:
        run = in_flight[0]
        return dg.SkipReason(
            f"Run {run.run_id} ({run.job_name}, {run.status.value.lower()}) of week {week.key} is on its way: no "
            f"retry while it is ({slot.describe()}; looked at again in {ROUND_INTERVAL_S // 60} min)."
        )
    # DuckDB lets one process at a time open the file: while a run of the week holds it, Dagster's record of the
    # upload is read instead, so that the sensor never makes that run's step fail on the lock.
    try:
        uploaded = recorded_upload(context.instance, week) if in_flight else uploaded_row(warehouse, week)
    except WarehouseLocked as error:
        if slot.action == "retry":  # a run started now would fail on the same lock
            return dg.SkipReason(f"The warehouse is busy, so week {week.key}'s upload is unknown; next tick: {error}")
        uploaded = recorded_upload(context.instance, week)
    if uploaded:
        return dg.SkipReason(
            f"Week {week.key} is uploaded (submission {uploaded.get('submission_id')}, model {uploaded.get('model_name')}, "
            f"{uploaded.get('uploaded_at')}): nothing to do."
        )
    if slot.action == "retry":
        context.log.info(f"Week {week.key} has not uploaded by the {slot.describe()}: running weekly_signal again.")
        request = dg.RunRequest(run_key=key, partition_key=week.key, tags={ROUND_SLOT_TAG: slot.name})
        return dg.SensorResult(run_requests=[request], cursor=key)
    return _alert_missed(context, now, round_, key, numerai, alert_webhook)


def _alert_missed(
    context: dg.SensorEvaluationContext,
    now: datetime,
    round_: Round,
    key: str,
    numerai: NumeraiSignals,
    alert_webhook: AlertWebhook,
) -> dg.SensorResult | dg.SkipReason:
    runs = runs_of_week(context.instance, round_.week)
    latest = outcome(context.instance, runs[0]) if runs else None
    payload = missed_upload_alert(round_.week, now, latest, numerai.model_name, known_secrets(numerai))
    delivery, line = alert_webhook.deliver(payload, context.log)
    if delivery == "failed":  # the cursor stays: the next tick, until the close, posts it again
        return dg.SkipReason(f"Week {round_.week.key} has not uploaded; the alert was not posted: {line}")
    return dg.SensorResult(skip_reason=f"Week {round_.week.key} has not uploaded. {line}", cursor=key)


@dg.sensor(
    job=weekly_signal_job,
    minimum_interval_seconds=ROUND_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Keeps the latest week's Numerai round: when the week has not uploaded, runs weekly_signal for it "
    "again on Sunday 08:00 and Monday 08:00 UTC (not while a run of the week is on its way), and posts an alert to "
    "SIGNALS_ALERT_WEBHOOK on Monday 12:00 UTC (the round closes 14:30). Only when uploading is enabled.",
)
def numerai_round(
    context: dg.SensorEvaluationContext, warehouse: Warehouse, numerai: NumeraiSignals, alert_webhook: AlertWebhook
) -> dg.SensorResult | dg.SkipReason:
    return check_round(
        context, datetime.now(timezone.utc), warehouse=warehouse, numerai=numerai, alert_webhook=alert_webhook
    )


@dg.run_failure_sensor(
    monitored_jobs=[weekly_signal_job],
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Posts each failed weekly_signal run (the week, the failed step and its error, keys redacted) to "
    "SIGNALS_ALERT_WEBHOOK; unset, logs what it would say. Backfill runs are left to the backfill's page.",
)
def weekly_signal_failure_alert(
    context: dg.RunFailureSensorContext, alert_webhook: AlertWebhook, numerai: NumeraiSignals
) -> dg.SkipReason | None:
    run = context.dagster_run
    if BACKFILL_TAG in run.tags:
        # A backfill fails weeks by the dozen and never uploads: its page in the UI lists them.
        return dg.SkipReason(f"Run {run.run_id} belongs to backfill {run.tags[BACKFILL_TAG]}: no alert.")
    steps = tuple((event.step_key, error_text(event)) for event in context.get_step_failure_events())
    if not steps:  # the run failed outside its steps (its process died, a launch error)
        steps = ((None, context.failure_event.message or "no error recorded"),)
    attempt = 1 + int(run.tags.get(RETRY_NUMBER_TAG, 0))
    failed = RunOutcome(run.run_id, run.job_name, run.status.value, steps, attempt)
    payload = failure_alert(run.tags.get(PARTITION_TAG), failed, known_secrets(numerai, run.run_config))
    _, line = alert_webhook.deliver(payload, context.log)
    return dg.SkipReason(line)
