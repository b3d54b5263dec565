"""The weekly partitions every asset shares, and the decorator for a weekly warehouse table."""

from __future__ import annotations

import dagster as dg

from signals_assets.weeks import FIRST_WEEK, PARTITION_COLUMN, Week, unknown_week_message


class SignalWeeks(dg.WeeklyPartitionsDefinition):
    """Dagster's weekly partitions (Saturday to Saturday, UTC), whose unknown-key error says which weeks exist
    and why the open week is not one yet: Dagster's own says only "Could not find a partition with key".

    Every path that takes a key from a user checks it here first: `dagster asset materialize --partition`,
    `dagster job launch`, run requests and `materialize(partition_key=...)`.
    """

    def validate_partition_key(self, partition_key, context) -> None:
        try:
            super().validate_partition_key(partition_key, context)
        except dg.DagsterUnknownPartitionError:
            raise dg.DagsterUnknownPartitionError(unknown_week_message(partition_key)) from None


weekly_partitions = SignalWeeks(start_date=FIRST_WEEK, day_offset=6, timezone="UTC")


def week_of(context) -> Week:
    """The week a step computes, from its partition time window.

    `context.partition_key` raises in a run over a partition range; the window works in both cases.
    """
    window = context.partition_time_window
    return Week.from_window(window.start, window.end)


def weekly_asset(*, group_name: str, **asset_kwargs):
    """`@asset` for a weekly table in the warehouse: the shared partitions and the partition column.

    `group_name` is the name of the defs/ folder the asset is defined in (the UI's asset group), given where the
    asset is defined so that the UI's link to its source opens that Python file."""
    metadata = {"partition_expr": PARTITION_COLUMN, **asset_kwargs.pop("metadata", {})}
    return dg.asset(partitions_def=weekly_partitions, metadata=metadata, group_name=group_name, **asset_kwargs)
