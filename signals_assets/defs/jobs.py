"""The weekly job over every asset and check, and its schedule."""

from __future__ import annotations

import dagster as dg

from signals_assets.defs.partitions import weekly_partitions

weekly_signal_job = dg.define_asset_job(
    "weekly_signal",
    # The backtest report reads every week: it is materialized on its own, after a backfill, not once a week.
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets("backtest_report"),
    partitions_def=weekly_partitions,
    description="Materialize one week: universe -> news -> headlines -> FinBERT -> signal -> submission -> upload.",
)

# Saturday 19:00 UTC, an hour after Numerai's Saturday round opens, for the week that just ended.
weekly_signal_schedule = dg.build_schedule_from_partitioned_job(weekly_signal_job, hour_of_day=19)
