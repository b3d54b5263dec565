"""The weekly partitions every asset shares, and the decorator for a weekly warehouse table."""

from __future__ import annotations

import dagster as dg

from signals_assets.weeks import FIRST_WEEK, PARTITION_COLUMN, Week

weekly_partitions = dg.WeeklyPartitionsDefinition(start_date=FIRST_WEEK, day_offset=6, timezone="UTC")


def week_of(context) -> Week:
    """The week a step computes, from its partition time window.

    `context.partition_key` raises in a run over a partition range; the window works in both cases.
    """
    window = context.partition_time_window
    return Week.from_window(window.start, window.end)


def weekly_asset(**asset_kwargs):
    """`@asset` for a weekly table in the warehouse: the shared partitions and the partition column."""
    metadata = {"partition_expr": PARTITION_COLUMN, **asset_kwargs.pop("metadata", {})}
    return dg.asset(partitions_def=weekly_partitions, metadata=metadata, **asset_kwargs)
