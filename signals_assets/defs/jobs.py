"""The weekly job over every asset and check, its schedule, and the job that scores weeks again."""

from __future__ import annotations

import dagster as dg

from signals_assets.defs.partitions import weekly_partitions

weekly_signal_job = dg.define_asset_job(
    "weekly_signal",
    # The backtest report and Numerai's diagnostics read every week: each is materialized on its own, after a
    # backfill, not once a week (the diagnostics also send a file to Numerai and wait for its answer).
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets("backtest_report", "numerai_diagnostics"),
    partitions_def=weekly_partitions,
    description="Materialize one week: universe -> news -> headlines -> FinBERT -> signal -> submission -> upload.",
)

# signal_evaluation alone, reading the stored signal of its week and of the week before. For weeks materialized
# already: once Numerai's targets resolve (a week stays `pending` about 13 weeks), and after a backfill that ran
# several weeks at once, where a week may have been scored before the week before it was stored (its churn then
# missing). No news call, no FinBERT: seconds a week.
weekly_evaluation_job = dg.define_asset_job(
    "weekly_evaluation",
    selection=dg.AssetSelection.assets("signal_evaluation"),
    partitions_def=weekly_partitions,
    # One step: it runs in the run's own process whatever SIGNALS_EXECUTOR says (no process or pod to start).
    executor_def=dg.in_process_executor,
    description=(
        "Score materialized weeks again (signal_evaluation only): once their targets resolve, and after a "
        "backfill that ran weeks at once, so that each week's churn is against the week before it."
    ),
)

# Saturday 19:00 UTC, an hour after Numerai's Saturday round opens, for the week that just ended.
weekly_signal_schedule = dg.build_schedule_from_partitioned_job(weekly_signal_job, hour_of_day=19)
