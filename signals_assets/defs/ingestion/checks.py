"""No look-ahead: the week's headlines were all published before the week closed."""

import dagster as dg
import pandas as pd

from signals_assets.defs.partitions import week_of, weekly_partitions


@dg.asset_check(asset="filtered_headlines", blocking=True, partitions_def=weekly_partitions)
def no_headline_from_the_future(
    context: dg.AssetCheckExecutionContext, filtered_headlines: pd.DataFrame
) -> dg.AssetCheckResult:
    """No headline the week uses was published at or after the window's end (no look-ahead)."""
    week = week_of(context)
    outside = filtered_headlines[~week.contains(filtered_headlines["published_at"])]
    return dg.AssetCheckResult(
        passed=outside.empty,
        metadata={
            "headlines_outside_window": len(outside),
            "window": f"[{week.start.isoformat()}, {week.end.isoformat()})",
            "latest_published_at": str(filtered_headlines["published_at"].max()) if len(filtered_headlines) else "none",
        },
    )
