"""Metadata the assets add to a materialization: previews and pictures, made one way everywhere.

Dagster already shows a table's row count (dagster/row_count, dagster/partition_row_count) and columns;
the assets add only what it does not know.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import dagster as dg
import pandas as pd

from signals_assets.weeks import PARTITION_COLUMN

PREVIEW_ROWS = 10


def preview(frame: pd.DataFrame, columns: Sequence[str] | None = None, rows: int = PREVIEW_ROWS) -> dg.MetadataValue:
    """The first rows of `frame` (without the partition column) as a markdown table."""
    shown = frame[list(columns)] if columns is not None else frame.drop(columns=[PARTITION_COLUMN], errors="ignore")
    return dg.MetadataValue.md(shown.head(rows).to_markdown(index=False))


def png_markdown(figure, alt: str) -> dg.MetadataValue:
    """A matplotlib figure as a PNG embedded in markdown (renders in the Dagster UI); closes the figure."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return dg.MetadataValue.md(f"![{alt}](data:image/png;base64,{encoded})")


def histogram(
    values: pd.Series, label: str, bins: int = 20, value_range: tuple[float, float] = (0, 1)
) -> dg.MetadataValue:
    """A histogram of `values` as markdown with a PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5, 2.5), dpi=80)
    axes.hist(values, bins=bins, range=value_range, color="#4f43dd")
    axes.set_xlabel(label)
    axes.set_ylabel("tickers")
    return png_markdown(figure, f"{label} histogram")
