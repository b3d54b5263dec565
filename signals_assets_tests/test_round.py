"""Never miss a round: the round sensor's retries and missed-upload alert at chosen times, the alert on a failed
weekly run, and numerai_upload's freshness policy.

Real requests to loopback webhooks (http.server in a thread), real runs in a temporary Dagster instance, the
warehouse in a temporary DuckDB file. The time is passed to `check_round`, which the sensor calls on the clock.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest

from signals_assets.alerts import AlertNotSent, post_alert, redact
from signals_assets.definitions import build_definitions
from signals_assets.defs.numerai.resources import NumeraiSignals
from signals_assets.defs.partitions import weekly_partitions
from signals_assets.defs.round import (
    UPLOAD_FRESHNESS,
    AlertWebhook,
    check_round,
    numerai_round,
    weekly_signal_failure_alert,
)
from signals_assets.numerai.round import SLOTS, Round
from signals_assets.weeks import Week

WEEK = Week.from_key("2025-06-07")  # closed Saturday 2025-06-14 00:00 UTC; its round closes Monday 06-16 14:30
FAKE_PUBLIC_ID, FAKE_SECRET_KEY, FAKE_TOKEN = "PUBLICID4ROUNDTEST", "s3cr3t-round-key-42", "stocknews-token-77"
SECRETS = (FAKE_PUBLIC_ID, FAKE_SECRET_KEY, FAKE_TOKEN)
SECRET_PATH = "/services/T0000/B0000/not-a-real-slack-path"  # a Slack webhook's path is its secret


def at(day: str, hhmm: str) -> datetime:
    """A time of the week after WEEK: day in ('sat', 'sun', 'mon')."""
    hours, minutes = (int(part) for part in hhmm.split(":"))
    offset = {"sat": 0, "sun": 1, "mon": 2}[day]
    return WEEK.end + timedelta(days=offset, hours=hours, minutes=minutes)


class Receiver:
    """A webhook on 127.0.0.1: records each JSON body; answers `statuses` in turn (then 200), or never (hang)."""

    def __init__(self, statuses: tuple[int, ...] = (), hang: bool = False):
        self.bodies: list[dict] = []
        self.paths: list[str] = []
        self._statuses = list(statuses)
        self._release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.bodies.append(json.loads(body))
                receiver.paths.append(self.path)
                if hang:
                    receiver._release.wait(10)  # past every client timeout; released when the test ends
                    return
                status = receiver._statuses.pop(0) if receiver._statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{SECRET_PATH}"

    def __enter__(self) -> Receiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


@pytest.fixture
def secrets_in_env(monkeypatch):
    for name, value in zip(("NUMERAI_PUBLIC_ID", "NUMERAI_SECRET_KEY", "STOCKNEWS_API_KEY"), SECRETS):
        monkeypatch.setenv(name, value)


def numerai(keys: bool = True) -> NumeraiSignals:
    public_id, secret_key, model = (FAKE_PUBLIC_ID, FAKE_SECRET_KEY, "my_model") if keys else (None, None, None)
    return NumeraiSignals(public_id=public_id, secret_key=secret_key, model_name=model, universe="sample")


def webhook(url: str | None, **kwargs) -> AlertWebhook:
    return AlertWebhook(url=url, **{"timeout_seconds": 2.0, "retries": 2, "backoff_seconds": 0.0, **kwargs})


def evaluate(instance, warehouse, now, *, cursor=None, keys=True, url=None, **webhook_kwargs):
    context = dg.build_sensor_context(instance=instance, cursor=cursor)
    return check_round(
        context, now, warehouse=warehouse, numerai=numerai(keys), alert_webhook=webhook(url, **webhook_kwargs)
    )


def failing_job():
    """A weekly job named like the real one whose numerai_upload step raises an error that shows every key."""

    @dg.asset(name="numerai_upload", partitions_def=weekly_partitions)
    def failing_upload() -> None:
        raise RuntimeError(
            f"Numerai answered 401 to Authorization: Token {FAKE_PUBLIC_ID}${FAKE_SECRET_KEY} "
            f"(news at https://stocknewsapi.com/api/v1?token={FAKE_TOKEN})"
        )

    job = dg.define_asset_job("weekly_signal", partitions_def=weekly_partitions)
    return dg.Definitions(assets=[failing_upload], jobs=[job]).resolve_job_def("weekly_signal")


def failed_run(instance):
    result = failing_job().execute_in_process(instance=instance, partition_key=WEEK.key, raise_on_error=False)
    assert not result.success
    return result


def record_upload(warehouse, status: str) -> None:
    with warehouse.connect() as connection:
        connection.execute(
            "CREATE TABLE signals.numerai_upload (week_start TIMESTAMP, friday VARCHAR, status VARCHAR, reason VARCHAR, "
            "model_name VARCHAR, submission_id VARCHAR, filename VARCHAR, uploaded_at VARCHAR)"
        )
        connection.execute(
            "INSERT INTO signals.numerai_upload VALUES (?, ?, ?, NULL, 'my_model', 'sub-123', 'signals.csv', ?)",
            [WEEK.week_start, str(WEEK.friday), status, "2025-06-14T19:40:00+00:00"],
        )


def assert_no_secret(text: str) -> None:
    for secret in (*SECRETS, SECRET_PATH):
        assert secret not in text


def test_the_slot_in_effect_at_each_time():
    round_ = Round(WEEK)
    assert round_.closes == datetime(2025, 6, 16, 14, 30, tzinfo=timezone.utc)
    expected = {("sat", "20:00"): None, ("sun", "07:59"): None, ("sun", "08:00"): "sunday-retry"}
    expected |= {("mon", "07:59"): "sunday-retry", ("mon", "08:30"): "monday-retry"}
    expected |= {("mon", "12:00"): "missed-upload", ("mon", "14:29"): "missed-upload", ("mon", "14:30"): None}
    assert {when: getattr(round_.slot_at(at(*when)), "name", None) for when in expected} == expected
    assert [slot.describe() for slot in SLOTS] == [
        "retry at Sunday 08:00 UTC",
        "retry at Monday 08:00 UTC",
        "missed-upload alert at Monday 12:00 UTC",
    ]


def test_saturday_evening_after_a_failed_run_is_left_to_the_schedule_and_run_retries(instance, warehouse):
    failed_run(instance)
    result = evaluate(instance, warehouse, at("sat", "20:00"))
    assert isinstance(result, dg.SkipReason)
    assert "Saturday's scheduled run" in result.skip_message and "2025-06-15 08:00 UTC" in result.skip_message


def test_sunday_morning_runs_a_week_not_uploaded_again_once_per_slot(instance, warehouse):
    failed_run(instance)
    result = evaluate(instance, warehouse, at("sun", "08:30"))
    (request,) = result.run_requests
    assert (request.partition_key, request.run_key) == (WEEK.key, f"{WEEK.key}-sunday-retry")
    assert result.cursor == f"{WEEK.key}-sunday-retry"

    again = evaluate(instance, warehouse, at("sun", "09:30"), cursor=result.cursor)
    assert isinstance(again, dg.SkipReason) and "acted already" in again.skip_message

    monday = evaluate(instance, warehouse, at("mon", "08:30"), cursor=result.cursor)
    (request,) = monday.run_requests
    assert (request.partition_key, request.run_key) == (WEEK.key, f"{WEEK.key}-monday-retry")


def test_an_uploaded_week_is_left_alone(instance, warehouse):
    record_upload(warehouse, "uploaded")
    for now in (at("sun", "08:30"), at("mon", "08:30"), at("mon", "12:00")):
        result = evaluate(instance, warehouse, now)
        assert isinstance(result, dg.SkipReason) and "is uploaded (submission sub-123" in result.skip_message


def test_a_skipped_upload_is_not_an_upload(instance, warehouse):
    record_upload(warehouse, "skipped")
    assert evaluate(instance, warehouse, at("sun", "08:30")).run_requests


def test_no_retry_while_a_run_of_the_week_is_in_progress(instance, warehouse):
    # (A queued run needs a code location's origin; a started one is the same case to the sensor.)
    started = instance.create_run_for_job(
        failing_job(), status=dg.DagsterRunStatus.STARTED, tags={"dagster/partition": WEEK.key}
    )
    result = evaluate(instance, warehouse, at("sun", "08:30"))
    assert isinstance(result, dg.SkipReason) and started.run_id in result.skip_message
    assert "no retry while it is" in result.skip_message
    # At the close, the alert goes out all the same, naming the run on its way.
    with Receiver() as receiver:
        evaluate(instance, warehouse, at("mon", "12:00"), url=receiver.url)
    assert f"run {started.run_id} of weekly_signal (started)" in receiver.bodies[0]["text"]


def test_no_retry_or_alert_when_uploading_is_not_enabled(instance, warehouse):
    for now in (at("sun", "08:30"), at("mon", "12:00")):
        result = evaluate(instance, warehouse, now, keys=False)
        assert isinstance(result, dg.SkipReason)
        assert "Uploading is not enabled" in result.skip_message
        assert "NUMERAI_PUBLIC_ID / NUMERAI_SECRET_KEY not set" in result.skip_message


def test_monday_noon_posts_the_missed_upload_alert_once(instance, warehouse, secrets_in_env):
    run = failed_run(instance)
    with Receiver() as receiver:
        result = evaluate(instance, warehouse, at("mon", "12:00"), url=receiver.url)
        assert result.cursor == f"{WEEK.key}-missed-upload" and not result.run_requests
        again = evaluate(instance, warehouse, at("mon", "12:05"), cursor=result.cursor, url=receiver.url)
        assert "acted already" in again.skip_message
    (body,) = receiver.bodies
    assert receiver.paths == [SECRET_PATH]
    assert body["kind"] == "missed_upload" and body["week"] == WEEK.key
    assert "has not uploaded" in body["text"] and "Mon 2025-06-16 14:30 UTC (in 2 h 30 min)" in body["text"]
    assert run.run_id in body["text"] and "step numerai_upload failed" in body["text"]
    assert body["latest_run"]["failed_steps"][0]["step"] == "numerai_upload"
    assert_no_secret(json.dumps(body))
    assert_no_secret(result.skip_reason.skip_message)


def test_without_a_webhook_the_sensor_says_what_it_would_have_posted(instance, warehouse):
    result = evaluate(instance, warehouse, at("mon", "12:00"), url=None)
    message = result.skip_reason.skip_message
    assert "SIGNALS_ALERT_WEBHOOK not set" in message and "it would say" in message
    assert f"week {WEEK.key}" in message and "has not uploaded" in message


def test_a_failed_weekly_run_is_posted_with_its_week_step_and_error_and_no_key(instance, secrets_in_env):
    result = failed_run(instance)
    with Receiver() as receiver:
        # The resources come through the context, as the daemon gives them.
        context = dg.build_run_status_sensor_context(
            sensor_name="weekly_signal_failure_alert",
            dagster_event=result.get_run_failure_event(),
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            resources={"alert_webhook": webhook(receiver.url), "numerai": numerai()},
        )
        skip = weekly_signal_failure_alert(context)
    (body,) = receiver.bodies
    assert body["kind"] == "run_failure" and body["week"] == WEEK.key and body["job"] == "weekly_signal"
    (step,) = body["failed_steps"]
    assert step["step"] == "numerai_upload" and "RuntimeError: Numerai answered 401" in step["error"]
    assert f"week {WEEK.key}" in body["text"] and "step numerai_upload failed" in body["text"]
    assert "Numerai answered 401" in body["text"] and result.run_id in body["text"]
    assert_no_secret(json.dumps(body))
    assert "Alert posted to SIGNALS_ALERT_WEBHOOK (http://127.0.0.1/...)" in skip.skip_message


def test_a_failed_run_of_the_real_weekly_job_is_posted_with_its_failed_step(
    instance, warehouse, tmp_path, no_secrets_in_env, monkeypatch
):
    # The universe file is missing, under a folder named like the secret key: the error shows the key.
    missing = tmp_path / FAKE_SECRET_KEY / "universe.csv"
    resources = {"warehouse": warehouse, "numerai": NumeraiSignals(universe=str(missing))}
    job = build_definitions(resources=resources).resolve_job_def("weekly_signal")
    result = job.execute_in_process(instance=instance, partition_key=WEEK.key, raise_on_error=False)
    assert not result.success
    monkeypatch.setenv("NUMERAI_SECRET_KEY", FAKE_SECRET_KEY)
    context = dg.build_run_status_sensor_context(
        sensor_name="weekly_signal_failure_alert",
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
    )
    with Receiver() as receiver:
        weekly_signal_failure_alert(context, alert_webhook=webhook(receiver.url), numerai=numerai(keys=False))
    (body,) = receiver.bodies
    (step,) = body["failed_steps"]
    assert (body["week"], body["job"], step["step"]) == (WEEK.key, "weekly_signal", "numerai_universe")
    assert "UniverseUnavailable: Universe file" in step["error"] and "does not exist" in step["error"]
    assert_no_secret(json.dumps(body))


def test_a_webhook_answering_500_then_200_gets_the_alert_on_the_retry():
    with Receiver(statuses=(500,)) as receiver:
        response = post_alert(receiver.url, {"text": "hello"}, timeout_s=2, retries=2, backoff_s=0)
    assert response.status_code == 200
    assert receiver.bodies == [{"text": "hello"}, {"text": "hello"}]


def test_a_webhook_that_never_answers_is_logged_without_its_path_and_the_sensor_goes_on(instance, warehouse, caplog):
    caplog.set_level(logging.DEBUG)
    with Receiver(hang=True) as receiver:
        with pytest.raises(AlertNotSent) as raised:
            post_alert(receiver.url, {"text": "hello"}, timeout_s=0.3, retries=1, backoff_s=0)
        result = evaluate(instance, warehouse, at("mon", "12:00"), url=receiver.url, timeout_seconds=0.3, retries=0)
    assert len(receiver.bodies) == 3  # two attempts of the direct post, one of the sensor's
    assert "SIGNALS_ALERT_WEBHOOK (http://127.0.0.1/...)" in str(raised.value)
    assert "timed out" in str(raised.value).lower()
    assert isinstance(result, dg.SkipReason) and "the alert was not posted" in result.skip_message
    assert "Retrying" in caplog.text  # urllib3's retry warning, which shows the request's path: redacted
    for text in (str(raised.value), result.skip_message, caplog.text):
        assert SECRET_PATH not in text and "not-a-real-slack-path" not in text


def test_redact_hides_keys_in_every_form():
    text = (
        f"Token {FAKE_PUBLIC_ID}${FAKE_SECRET_KEY} {json.dumps(FAKE_SECRET_KEY)} token={FAKE_TOKEN}&x=1 "
        f"https://host/path?signature={FAKE_SECRET_KEY.replace('-', '%2D')}"
    )
    cleaned = redact(text, [FAKE_PUBLIC_ID, FAKE_SECRET_KEY])
    assert_no_secret(cleaned)
    assert "%2D" not in cleaned


def test_numerai_upload_is_late_without_a_materialization_from_saturday_18_to_sunday_6_utc():
    spec = build_definitions().resolve_assets_def("numerai_upload").specs_by_key[dg.AssetKey("numerai_upload")]
    assert spec.freshness_policy == UPLOAD_FRESHNESS
    assert UPLOAD_FRESHNESS.deadline_cron == "0 6 * * 0" and UPLOAD_FRESHNESS.timezone == "UTC"
    assert UPLOAD_FRESHNESS.lower_bound_delta == timedelta(hours=36)


def test_the_definitions_carry_the_sensors_and_the_webhook(instance, warehouse):
    definitions = build_definitions()
    assert definitions.resolve_sensor_def("numerai_round").job_name == "weekly_signal"
    assert definitions.resolve_sensor_def("weekly_signal_failure_alert")
    assert "alert_webhook" in definitions.resources
    # The sensor itself, on the clock: without keys it never retries nor alerts, whatever the time.
    context = dg.build_sensor_context(
        instance=instance,
        resources={"warehouse": warehouse, "numerai": numerai(keys=False), "alert_webhook": webhook(None)},
    )
    result = numerai_round(context)
    assert isinstance(result, dg.SkipReason) and not getattr(result, "run_requests", None)
