"""Numerai: the week's universe (the submission file and its upload are in upload.py)."""

from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd

from signals_assets.defs.metadata import preview
from signals_assets.defs.numerai.data import NumeraiData
from signals_assets.defs.numerai.resources import LIVE, NumeraiSignals
from signals_assets.defs.partitions import week_of, weekly_asset
from signals_assets.defs.warehouse import Warehouse
from signals_assets.numerai.datasets import VALIDATION, NumeraiDataError
from signals_assets.numerai.signals_api import NumeraiError
from signals_assets.weeks import with_week_column

NUMERAI_CACHE = "numerai"  # under the warehouse's data_dir
UNIVERSE_COLUMNS = ["numerai_ticker", "bloomberg_ticker"]


def point_in_time_universe(
    context: dg.AssetExecutionContext, numerai: NumeraiSignals, numerai_data: NumeraiData, cache_dir: Path, friday: date
) -> tuple[pd.DataFrame | None, str]:
    """The tickers on `friday` in Numerai's historical data (validation.parquet) with where they came from,
    or None and why not (then the live universe is used)."""
    if numerai.universe != LIVE:
        return None, f"the universe is {numerai.universe!r} (NUMERAI_UNIVERSE), not Numerai's"
    try:
        files = numerai_data.files(cache_dir, numerai.api(), context.log)
        universe = files.universe_on(friday)
    except (NumeraiError, NumeraiDataError) as err:
        context.log.warning(f"Numerai's historical data could not be read, so the live universe is used: {err}")
        return None, f"Numerai's historical data could not be read: {err}"
    if universe is None:
        return None, f"{friday} is not a date of Numerai's historical data ({VALIDATION})"
    where = files.version_of(VALIDATION) or numerai_data.data_dir
    return universe, f"Numerai's {where}/{VALIDATION} on {friday}"


@weekly_asset(group_name="numerai", kinds={"numerai", "duckdb"})
def numerai_universe(
    context: dg.AssetExecutionContext, numerai: NumeraiSignals, numerai_data: NumeraiData, warehouse: Warehouse
) -> pd.DataFrame:
    """The tickers the week is mapped and validated against (numerai_ticker, bloomberg_ticker), and where
    they came from: with the live universe setting, the tickers on the week's Friday in Numerai's historical
    data when the Friday is one of its dates (point in time), else Numerai's live file; or the
    NUMERAI_UNIVERSE file, or the packaged sample."""
    week = week_of(context)
    cache_dir = warehouse.cache_dir(NUMERAI_CACHE)
    universe, origin = point_in_time_universe(context, numerai, numerai_data, cache_dir, week.friday)
    point_in_time, why_not = universe is not None, origin
    if universe is None:
        universe, origin = numerai.load_universe(numerai_data, cache_dir, context.log)
    frame = pd.DataFrame({"numerai_ticker": universe["numerai_ticker"].astype("string")})
    bloomberg = universe["bloomberg_ticker"] if "bloomberg_ticker" in universe.columns else universe["numerai_ticker"]
    frame["bloomberg_ticker"] = bloomberg.astype("string").fillna(frame["numerai_ticker"])
    frame = frame.dropna(subset=["numerai_ticker"]).drop_duplicates("numerai_ticker").reset_index(drop=True)
    if point_in_time:
        context.log.info(f"Week {week.key}: {len(frame)} universe tickers from {origin} (point in time).")
    else:
        context.log.info(
            f"Week {week.key}: {len(frame)} universe tickers from {origin}. Not point in time ({why_not}): a past "
            "week may include tickers listed later."
        )
    context.add_output_metadata({"source": origin, "point_in_time": point_in_time, "preview": preview(frame)})
    return with_week_column(frame[UNIVERSE_COLUMNS], week)
