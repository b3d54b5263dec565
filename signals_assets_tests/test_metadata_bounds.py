"""Metadata stays small and inert whatever the news says: preview cells are cut and escaped, every text-like
value is capped, and a week with a 10 MB headline leaves a Dagster instance of a few MB."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path

import dagster as dg
import pandas as pd
from dagster._core.events import StepMaterializationData
from dagster._serdes import serialize_value
from markdown_it import MarkdownIt

from signals_assets.definitions import build_definitions
from signals_assets.defs import metadata
from signals_assets.defs.ingestion.resources import StockNewsAPI
from signals_assets.defs.metadata import preview
from signals_assets.defs.numerai.data import NumeraiData
from signals_assets.defs.numerai.resources import NumeraiSignals
from signals_assets.defs.sentiment.resources import FinBERT
from signals_assets.defs.signal.resources import SignalSettings
from signals_assets.defs.warehouse import warehouse_io_manager
from signals_assets.news.articles import parse_tickers
from signals_assets.news.sample import sample_articles, sample_tickers, sample_universe
from signals_assets.news.ticker_map import build_ticker_map
from signals_assets.weeks import Week
from signals_assets_tests.stocknews_server import FAKE_TOKEN, FakeStockNewsAPI, api_item

HOSTILE = (
    "![x](http://127.0.0.1:9/pixel.png) [click](https://example.invalid/a) <script>alert(1)</script> "
    '<img src="x" onerror="alert(1)"> | `rm -rf` **bold** <https://example.invalid> www.example.invalid '
    "someone@example.invalid \\| &lt;b&gt;\nsecond line\r\n| --- |"
)
TEN_MB = 10 * 1024 * 1024
# Written out rather than imported, so that the week's test reads the same before and after the cap.
PREVIEW_BOUND = 64 * 1024
# A week of the sample's news, and the bound on the Dagster instance that week (plus a 10 MB headline) leaves.
WEEK = Week.from_key("2026-11-07")
INSTANCE_BOUND = 4 * 1024 * 1024
# Every event's metadata once stored: a capped preview, a histogram PNG and a few figures.
EVENT_METADATA_BOUND = 2 * PREVIEW_BOUND


def rendered(markdown: str) -> str:
    """HTML as a CommonMark renderer with GFM tables and raw HTML allowed (the worst case) makes it."""
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)


def table_rows(html: str) -> list[list[str]]:
    body = html.split("<tbody>", 1)[1]
    return [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


# ----- the helpers -----


def test_a_long_cell_is_cut_to_the_cell_limit_with_an_ellipsis():
    cut = metadata.markdown_text("A" * 10_000)
    assert cut == "A" * (metadata.PREVIEW_CELL_CHARS - 1) + "…"
    assert metadata.markdown_text("short title") == "short title"
    assert metadata.markdown_text("x" * metadata.PREVIEW_CELL_CHARS) == "x" * metadata.PREVIEW_CELL_CHARS


def test_newlines_and_control_characters_become_one_space():
    assert metadata.markdown_text("one\r\ntwo\nthree\u2028four\tfive\x00six") == "one two three four five six"


def test_hostile_text_renders_as_the_same_plain_text_no_image_link_or_html():
    escaped = metadata.markdown_text(HOSTILE, limit=len(HOSTILE))
    for syntax in ("![", "](", "<script", "<img", "<http", "http://", "https://", "www.", "\n"):
        assert syntax not in escaped
    html = MarkdownIt("commonmark", {"html": True}).render(escaped)
    assert not re.search(r"<(?!/?p>)", html), html  # only the paragraph: no img, a, script, code, strong
    # What the reader sees is the headline's own text, its whitespace collapsed.
    shown = html.removeprefix("<p>").removesuffix("</p>\n")
    unescaped = shown.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
    assert unescaped == " ".join(HOSTILE.split())


def test_preview_cuts_and_escapes_every_text_cell_and_keeps_the_table_intact():
    titles = [HOSTILE, "x" * TEN_MB, "Plain | title", None, "fine"]
    frame = pd.DataFrame(
        {
            "week_start": pd.Timestamp("2026-11-07"),
            "numerai_ticker": ["AAA US", "BBB US", "CCC US", "DDD US", "EEE US"],
            "sentiment": [0.5, -0.25, 0.0, 1.0, float("nan")],
            "title": pd.Series(titles, dtype="string"),
        }
    )
    markdown = preview(frame).value
    assert len(markdown) < 8 * 1024  # five rows of cut cells
    assert "![" not in markdown and "](" not in markdown and "<script" not in markdown
    html = rendered(markdown)
    assert not re.search(r"<(?!/?(table|thead|tbody|tr|th|td)\b)", html), html
    rows = table_rows(html)
    assert [len(row) for row in rows] == [3] * 5  # one row per frame row, three cells each: nothing broke out
    assert [row[0] for row in rows] == ["AAA US", "BBB US", "CCC US", "DDD US", "EEE US"]
    assert rows[1][2] == "x" * (metadata.PREVIEW_CELL_CHARS - 1) + "…"
    assert rows[2][2] == "Plain | title" and rows[3][2] == ""
    assert "week_start" not in markdown


def test_bounded_caps_text_markdown_and_json_and_leaves_small_values_alone():
    small = {"count": 3, "source": "sample", "reasons": {"ncorr": "pending"}}
    assert metadata.bounded_metadata(small) == small

    text = metadata.bounded("y" * TEN_MB)
    assert len(text) <= metadata.MAX_METADATA_CHARS and text.startswith("y" * 100) and "more characters" in text
    markdown = metadata.bounded(dg.MetadataValue.md("| a |\n| --- |\n" + "| row |\n" * 100_000))
    assert isinstance(markdown, dg.MarkdownMetadataValue) and len(markdown.value) <= metadata.MAX_METADATA_CHARS
    assert all(line == "| row |" for line in markdown.value.splitlines()[2:-2])  # cut between rows, not inside one

    reasons = {f"2026-{week:03d}": {"ncorr": "z" * 5_000} for week in range(500)}
    capped = metadata.bounded(dg.MetadataValue.json(reasons))
    stored = json.dumps(capped.value)
    assert isinstance(capped, dg.JsonMetadataValue) and len(stored) <= metadata.MAX_METADATA_CHARS
    assert list(capped.value)[0] == "2026-000" and "more entries left out" in capped.value[metadata.ELLIPSIS]
    listed = metadata.bounded([HOSTILE * 1000] * 1000)
    assert isinstance(listed, dg.JsonMetadataValue) and len(json.dumps(listed.value)) <= metadata.MAX_METADATA_CHARS


# ----- a real week with a 10 MB headline -----


def first_mapped_ticker() -> str:
    """The news ticker of the first numerai_ticker the sample maps: its headlines open filtered_headlines."""
    mapped = build_ticker_map(parse_tickers(list(sample_tickers())), sample_universe())
    return mapped.sort_values("numerai_ticker")["stocknews_ticker"].iloc[0]


def folder_size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def event_metadata(entry) -> dict:
    data = entry.dagster_event.event_specific_data if entry.dagster_event else None
    if isinstance(data, StepMaterializationData):
        return dict(data.materialization.metadata)
    return dict(getattr(data, "metadata", None) or {})


def test_a_week_with_a_ten_megabyte_headline_leaves_a_small_dagster_instance(
    tmp_path, warehouse, sample_universe_csv, tiny_finbert_dir
):
    # The first instant of the week: the headline opens raw_articles' and filtered_headlines' previews.
    published = format_datetime(WEEK.start + timedelta(seconds=30))
    huge = api_item(HOSTILE + " " + "A" * TEN_MB, published, [first_mapped_ticker()], sentiment="Negative")
    definitions = build_definitions()
    home = tmp_path / "dagster_home"
    home.mkdir()
    with FakeStockNewsAPI([huge, *sample_articles()], list(sample_tickers())) as server:
        resources = {
            "warehouse": warehouse,
            "io_manager": warehouse_io_manager,
            "news": StockNewsAPI(api_key=FAKE_TOKEN, base_url=server.base_url, backoff_base_s=0.01),
            "finbert": FinBERT(model=str(tiny_finbert_dir)),
            "numerai": NumeraiSignals(universe=str(sample_universe_csv)),
            "numerai_data": NumeraiData(),
            "signal_settings": SignalSettings(),
        }
        with dg.DagsterInstance.local_temp(str(home)) as instance:
            result = dg.materialize(
                # numerai_diagnostics refuses the sample and is no part of a week's run.
                [
                    *(a for a in definitions.assets if a.key.to_user_string() != "numerai_diagnostics"),
                    *definitions.asset_checks,
                ],
                partition_key=WEEK.key,
                resources=resources,
                instance=instance,
                raise_on_error=False,
            )
            assert result.success
            entries = [entry for run in instance.get_runs() for entry in instance.all_logs(run.run_id)]

    size = folder_size(home)
    assert size < INSTANCE_BOUND, f"the Dagster instance takes {size:,} bytes"
    largest = max(len(serialize_value(event_metadata(entry))) for entry in entries)
    assert largest < EVENT_METADATA_BOUND, f"an event's metadata takes {largest:,} characters"
    largest_entry = max(len(serialize_value(entry)) for entry in entries)
    assert largest_entry < EVENT_METADATA_BOUND + 16 * 1024, f"an event takes {largest_entry:,} characters"

    materialized = {
        event.asset_key.to_user_string(): event.materialization.metadata
        for event in result.get_asset_materialization_events()
    }
    for name in ("raw_articles", "filtered_headlines"):
        shown = materialized[name]["preview"].value
        assert len(shown) <= PREVIEW_BOUND, f"{name}'s preview takes {len(shown):,} characters"
        assert "…" in shown  # the headline, cut
        assert "![" not in shown and "<script" not in shown
