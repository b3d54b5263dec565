"""Runs whose process died (kill -9, the OOM killer, a closed laptop lid) are marked failed.

Dagster's default run launcher cannot check a run worker's health, so a killed run stays STARTED for
good: it holds its place under `max_concurrent_runs` and its `gpu` pool slot, and every later run waits
behind it. This sensor, run by the daemon (`dagster dev`, `make ui`), finds started runs whose process
is gone and reports them failed, which frees their slots (a run launched through the queue is then
re-run by `run_retries`; re-run a `dagster asset materialize` run the same way it was started).
"""

import dagster as dg
import psutil

INTERVAL_S = 15  # a dead run holds the queue and the gpu slot: free them within seconds, at the cost of one query
ACTIVE = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


def run_process_id(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The pid of the process that executes the run ("Started process for run (pid: N)"), if recorded."""
    for record in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT, limit=20).records:
        metadata = record.event_log_entry.dagster_event.event_specific_data.metadata or {}
        if "pid" in metadata:
            return int(metadata["pid"].value)
    return None


def process_alive(pid: int, started_before: float) -> bool:
    """Whether process `pid` exists and is the one that started before `started_before` (a pid reused
    by a later process is not the run's)."""
    try:
        process = psutil.Process(pid)
        # A killed worker its parent has not reaped yet is a zombie: it runs nothing and holds no slot.
        return process.status() != psutil.STATUS_ZOMBIE and process.create_time() <= started_before + 1
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True  # another user's process we cannot inspect: trust the pid


@dg.sensor(
    minimum_interval_seconds=INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Marks runs whose process died (killed, out of memory) as failed, so they free their run and "
    "gpu pool slots. Local runs only (Dagster's default run launcher).",
)
def fail_runs_whose_process_died(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    instance = context.instance
    if not isinstance(instance.run_launcher, dg.DefaultRunLauncher):
        return dg.SkipReason("Runs are not local processes here: their launcher checks their health.")
    failed = []
    for record in instance.get_run_records(dg.RunsFilter(statuses=ACTIVE), limit=100):
        run = record.dagster_run
        pid = run_process_id(instance, run.run_id)
        if pid is None or process_alive(pid, record.start_time or record.create_timestamp.timestamp()):
            continue
        instance.report_run_failed(
            run,
            f"The run's process (pid {pid}) is gone: it was killed or ran out of memory. Marked failed by "
            "the fail_runs_whose_process_died sensor, which frees its slots; materialize the week again.",
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        failed.append(run.run_id)
        context.log.warning(f"Run {run.run_id}: process {pid} is gone; marked failed and freed its slots.")
    return dg.SkipReason(f"Marked {len(failed)} dead run(s) failed: {', '.join(failed)}" if failed else "No dead runs.")
