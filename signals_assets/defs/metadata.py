"""Metadata the assets add to a materialization: previews and pictures, made one way everywhere.

Dagster already shows a table's row count (dagster/row_count, dagster/partition_row_count) and columns;
the assets add only what it does not know.

Metadata is stored in the instance's event log (and again as the asset's latest materialization) and shown
by the UI, so news text never reaches it as it came: a preview shows at most PREVIEW_CELL_CHARS characters
of a cell, escaped so that the UI's markdown renders it as plain text (a headline `![x](http://...)` would
otherwise make every browser that opens the preview fetch that address), and every text, markdown or JSON
value is capped at MAX_METADATA_CHARS (`bounded`, `bounded_metadata`). One 10 MB headline once made events
of over 100 MB: pandas' markdown table pads every row to the widest cell.
"""

from __future__ import annotations

import base64
import datetime
import io
import json
import numbers
import re
from collections.abc import Mapping, Sequence

import dagster as dg
import numpy as np
import pandas as pd

from signals_assets.weeks import PARTITION_COLUMN

PREVIEW_ROWS = 10
# Characters of a preview cell shown: a headline and more, never a whole article.
PREVIEW_CELL_CHARS = 200
# Characters of one text, markdown or JSON metadata value: a preview of PREVIEW_ROWS rows of cut cells fits.
MAX_METADATA_CHARS = 64 * 1024
ELLIPSIS = "…"

# Markdown that could turn news text into a link, an image, code, emphasis or a new table cell: backslash-
# escaped (`:` and `@` stop GFM's bare-URL and e-mail links, `www.` too); `&`, `<`, `>` become entities, so
# no raw HTML (a tag, a comment, an autolink <http://...>) and no entity survives.
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_~\[\]()!|:@])")
_WWW = re.compile(r"(?i)(www)\.")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def truncated(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, the last one an ellipsis when anything was cut."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + ELLIPSIS


def markdown_text(value: object, limit: int = PREVIEW_CELL_CHARS) -> str:
    """`value` as one line of inert markdown: whitespace (newlines too) collapsed to single spaces, cut to
    `limit` shown characters, then escaped so that it renders as exactly that text."""
    raw = str(value)
    # Only the start is read (a 10 MB headline would take a second per cell); whitespace it drops is made up
    # for four times over, and a text cut here ends with the ellipsis all the same.
    scanned = " ".join(_CONTROL.sub(" ", raw[: 4 * limit]).split())
    text = truncated(scanned + (ELLIPSIS if len(raw) > 4 * limit else ""), limit)
    escaped = _WWW.sub(r"\1\\.", _MARKDOWN_PUNCTUATION.sub(r"\\\1", text))
    return "".join(_ENTITIES.get(char, char) for char in escaped)


# Cells that cannot carry markup: left to pandas to format, as before.
_PLAIN = (bool, np.bool_, numbers.Number, datetime.date, datetime.timedelta, np.datetime64, np.timedelta64)


def _markdown_cell(value: object) -> object:
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return ""  # pandas would write <NA>, which markdown reads as an HTML tag
    return value if isinstance(value, _PLAIN) else markdown_text(value)


def preview(frame: pd.DataFrame, columns: Sequence[str] | None = None, rows: int = PREVIEW_ROWS) -> dg.MetadataValue:
    """The first rows of `frame` (without the partition column) as a markdown table; text cells cut to
    PREVIEW_CELL_CHARS characters and escaped (`markdown_text`), the table capped at MAX_METADATA_CHARS."""
    shown = frame[list(columns)] if columns is not None else frame.drop(columns=[PARTITION_COLUMN], errors="ignore")
    shown = shown.head(rows).copy()
    for column in shown.columns:
        if not (pd.api.types.is_numeric_dtype(shown[column]) or pd.api.types.is_datetime64_any_dtype(shown[column])):
            shown[column] = shown[column].astype(object).map(_markdown_cell)
    return bounded(dg.MetadataValue.md(shown.to_markdown(index=False)))


def bounded(value: object, limit: int = MAX_METADATA_CHARS) -> object:
    """A metadata value no longer than `limit` characters: text and markdown cut (markdown between lines, so a
    table stays a table) with a note of what was left out, JSON (a dict, a list) thinned to its first entries
    with long strings cut; numbers, paths and other values as they are. A value within `limit` is unchanged."""
    if isinstance(value, str):
        return _cut_text(value, limit)
    if isinstance(value, dg.TextMetadataValue):
        return value if len(value.value) <= limit else dg.MetadataValue.text(_cut_text(value.value, limit))
    if isinstance(value, dg.MarkdownMetadataValue):
        return value if len(value.value) <= limit else dg.MetadataValue.md(_cut_markdown(value.value, limit))
    if isinstance(value, dg.JsonMetadataValue):
        return value if _json_size(value.value) <= limit else dg.MetadataValue.json(_thinned(value.value, limit))
    if isinstance(value, dg.MetadataValue):
        return value  # a path, a number, a table schema: nothing a user's text can grow (some are tuples inside)
    if isinstance(value, (dict, list, tuple)):
        return value if _json_size(value) <= limit else dg.MetadataValue.json(_thinned(value, limit))
    return value


def bounded_metadata(metadata: Mapping[str, object], limit: int = MAX_METADATA_CHARS) -> dict[str, object]:
    """`metadata` with every value `bounded`: for add_output_metadata, a check result or a Failure."""
    return {key: bounded(value, limit) for key, value in metadata.items()}


def _left_out(characters: int, limit: int) -> str:
    return f"{ELLIPSIS} ({characters:,} more characters left out: metadata keeps at most {limit:,})"


def _cut_text(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    room = max(limit - len(_left_out(len(text), limit)) - 1, 0)
    return text[:room] + " " + _left_out(len(text) - room, limit)


def _cut_markdown(text: str, limit: int) -> str:
    room = max(limit - len(_left_out(len(text), limit)) - 2, 0)
    cut = text[:room]
    if "\n" in cut:
        cut = cut[: cut.rindex("\n")]
    return cut + "\n\n" + _left_out(len(text) - len(cut), limit)


def _json_size(value: object) -> int:
    return len(json.dumps(value, default=str))


def _cut_strings(value: object) -> object:
    if isinstance(value, str):
        return truncated(value, PREVIEW_CELL_CHARS)
    if isinstance(value, Mapping):
        return {truncated(str(key), PREVIEW_CELL_CHARS): _cut_strings(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_cut_strings(item) for item in value]
    return value


def _thinned(value: object, limit: int) -> object:
    """JSON within `limit`: long strings cut, then only the first entries of a dict or list that fit, with an
    entry saying how many were left out."""
    value = _cut_strings(value)
    if _json_size(value) <= limit:
        return value
    entries = list(value.items()) if isinstance(value, Mapping) else list(value) if isinstance(value, list) else None
    if entries is None:
        return _cut_text(json.dumps(value, default=str), limit)
    note_room, size, kept = 120, 2, []
    for entry in entries:
        size += _json_size(list(entry) if isinstance(value, Mapping) else entry) + 2
        if size > limit - note_room:
            break
        kept.append(entry)
    note = f"{ELLIPSIS} {len(entries) - len(kept):,} more entries left out: metadata keeps at most {limit:,} characters"
    return {**dict(kept), ELLIPSIS: note} if isinstance(value, Mapping) else [*kept, note]


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
