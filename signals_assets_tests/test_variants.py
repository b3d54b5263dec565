"""Signal variants side by side: several models in one run, each loaded once; a story counted once and an
article's sentiment given to the ticker it is about, on hand-made weeks with known answers; SIGNAL_VARIANT
choosing what is submitted; variants from a YAML file; tables from before variants keep working."""

import os
import subprocess
import sys

import duckdb
import pandas as pd
import pytest
from dagster import DagsterInstance, materialize

from signals_assets.defs.ingestion.resources import SampleNews
from signals_assets.defs.signal.resources import SignalSettings, VariantConfig
from signals_assets.defs.signal.resources import variants_from_environment as variants_default
from signals_assets.news.headlines import aggregate_headlines, filter_headlines
from signals_assets.news.ticker_map import build_ticker_map
from signals_assets.numerai.submission_file import submission_csv_path
from signals_assets.sentiment.aggregation import headline_rows, ticker_sentiment
from signals_assets.sentiment.provider_labels import label_scores
from signals_assets.signal.variants import DEFAULT_VARIANTS, Variant, VariantError
from signals_assets.weeks import Week
from signals_assets_tests.test_pipeline import GRAPH, resources_for, table, week_rows
from signals_assets_tests.tiny_finbert import build_tiny_finbert

WEEK = "2026-10-31"
DEFAULT_NAMES = [variant.name for variant in DEFAULT_VARIANTS]
THROUGH_SCORES = ["numerai_universe", "ticker_map", "raw_articles", "filtered_headlines", "aggregated_headlines"]
THROUGH_SCORES += ["finbert_scores", "scaled_signal"]


def _week(rows: list[tuple[str, str, str, list[str]]]) -> pd.DataFrame:
    """Articles (id, title, label, tickers) published through one week, in order."""
    return pd.DataFrame(
        {
            "article_id": [row[0] for row in rows],
            "title": [row[1] for row in rows],
            "published_at": pd.date_range("2026-11-16 13:00Z", periods=len(rows), freq="h"),
            "sentiment": [row[2] for row in rows],
            "tickers": [row[3] for row in rows],
        }
    )


def _ticker_map() -> pd.DataFrame:
    news = pd.DataFrame(
        {
            "ticker": ["AAPL", "AVGO", "QCOM", "MSFT", "TGT"],
            "name": ["Apple Inc.", "Broadcom Inc.", "QUALCOMM Incorporated", "Microsoft Corporation", "Target Corp"],
        }
    )
    universe = pd.DataFrame({"numerai_ticker": [f"{symbol} US" for symbol in news["ticker"]]})
    return build_ticker_map(news, universe)


def _sentiment(articles: pd.DataFrame, collapse: bool, weighted: bool, tagged_weight=None) -> pd.Series:
    filtered = filter_headlines(articles, _ticker_map(), tagged_weight=tagged_weight)
    rows = headline_rows(aggregate_headlines(filtered))
    rows["score"] = label_scores(rows["provider_label"]).to_numpy()
    frame = ticker_sentiment(rows, collapse_stories=collapse, weighted=weighted)
    return frame.set_index("numerai_ticker")["sentiment"]


def test_a_syndicated_story_counts_once():
    # Apple: one good story printed four times (suffixes, case, one word edited), one bad story once.
    articles = _week(
        [
            ("a1", "Apple beats third-quarter estimates as iPhone sales jump", "Positive", ["AAPL"]),
            ("a2", "Apple Beats Third-Quarter Estimates As iPhone Sales Jump - Street Wire", "Positive", ["AAPL"]),
            ("a3", "Apple beats third-quarter estimates as iPhone sales jump | Market Ledger", "Positive", ["AAPL"]),
            ("a4", "Apple beats third-quarter estimates as iPhone sales rise", "Positive", ["AAPL"]),
            ("a5", "Apple faces EU antitrust fine over App Store rules", "Negative", ["AAPL"]),
        ]
    )
    aggregated = aggregate_headlines(filter_headlines(articles, _ticker_map())).set_index("numerai_ticker")
    assert aggregated.loc["AAPL US", "n_headlines"] == 5 and aggregated.loc["AAPL US", "n_stories"] == 2
    assert _sentiment(articles, collapse=False, weighted=False)["AAPL US"] == pytest.approx((4 - 1) / 5)
    assert _sentiment(articles, collapse=True, weighted=False)["AAPL US"] == pytest.approx(0.0)


def test_an_article_gives_its_sentiment_to_the_ticker_it_is_about():
    articles = _week(
        [
            # About Apple and its suppliers; Microsoft is only tagged.
            (
                "b1",
                "Apple beats estimates; suppliers Broadcom and Qualcomm rally",
                "Positive",
                ["AAPL", "AVGO", "QCOM", "MSFT"],
            ),
            # About Microsoft, by name.
            ("b2", "Microsoft cuts cloud price targets after weak Azure quarter", "Negative", ["MSFT"]),
            # Names none of its tickers: every tagged ticker gets the lower weight, 1/2.
            ("b3", "Chip stocks slide as tariffs loom", "Negative", ["AVGO", "QCOM"]),
            # "price target" is no mention of Target Corp.
            ("b4", "Analysts raise price target on Broadcom", "Positive", ["AVGO", "TGT"]),
        ]
    )
    filtered = filter_headlines(articles, _ticker_map()).set_index(["article_id", "numerai_ticker"])
    assert filtered.loc[("b1", "AAPL US"), "named_in_title"] and filtered.loc[("b1", "AAPL US"), "weight"] == 1.0
    assert not filtered.loc[("b1", "MSFT US"), "named_in_title"]
    assert filtered.loc[("b1", "MSFT US"), "weight"] == pytest.approx(1 / 4)
    assert filtered.loc[("b3", "AVGO US"), "weight"] == pytest.approx(1 / 2)
    assert not filtered.loc[("b4", "TGT US"), "named_in_title"]
    equal = _sentiment(articles, collapse=False, weighted=False)
    titled = _sentiment(articles, collapse=False, weighted=True)
    # Microsoft: +1 tagged only (1/4), -1 named (1): equal weights give 0, attribution leans negative.
    assert equal["MSFT US"] == pytest.approx(0.0)
    assert titled["MSFT US"] == pytest.approx((0.25 * 1 + 1 * -1) / 1.25)
    # Broadcom: +1 named (b1), -1 unnamed (b3, 1/2), +1 named (b4).
    assert titled["AVGO US"] == pytest.approx((1 - 0.5 + 1) / 2.5)
    # A set tagged weight replaces 1/n for every ticker only tagged.
    assert _sentiment(articles, False, True, tagged_weight=0.0)["MSFT US"] == pytest.approx(-1.0)


def _two_models(tmp_path):
    """ProsusAI/finbert's label order, every headline positive; finbert-tone's order behind generic names
    (LABEL_0..2, read through a label map), every headline negative."""
    prosus = build_tiny_finbert(tmp_path / "prosus", {0: "positive", 1: "negative", 2: "neutral"}, favour="positive")
    tone = build_tiny_finbert(tmp_path / "tone", {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}, favour=2)
    return prosus, tone


def _settings(tone_dir, **fields) -> SignalSettings:
    variants = [
        VariantConfig(name="finbert"),
        VariantConfig(name="finbert_stories", collapse_stories=True, attribution="title"),
        VariantConfig(name="tone", source=str(tone_dir), label_map="0:neutral,1:positive,2:negative"),
        VariantConfig(name="provider_labels", source="provider_labels"),
    ]
    return SignalSettings(variants=variants, **fields)


def test_two_models_with_different_label_orders_are_two_variants_each_loaded_once(warehouse, tmp_path):
    """One run scores four variants of two models; SIGNAL_VARIANT (signal_settings.variant) picks what is
    submitted, and switching it submits the other variant's rows of the same stored signal."""
    prosus, tone = _two_models(tmp_path)
    resources = {**resources_for(warehouse, SampleNews(), prosus), "signal_settings": _settings(tone, variant="tone")}
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            GRAPH, partition_key=WEEK, resources=resources, instance=instance, selection=[*THROUGH_SCORES, "submission"]
        )
        assert result.success
        loads = [
            entry.user_message
            for entry in instance.all_logs(result.run_id)
            if entry.user_message.startswith("FinBERT loaded")
        ]
        path = submission_csv_path(warehouse.submissions_dir(), Week.from_key(WEEK).friday)
        submitted = {"tone": pd.read_csv(path)}
        # The other variant submitted: the submission alone again, from the stored signal.
        resources["signal_settings"] = _settings(tone, variant="provider_labels")
        again = materialize(GRAPH, partition_key=WEEK, resources=resources, instance=instance, selection=["submission"])
        assert again.success
        submitted["provider_labels"] = pd.read_csv(path)
    assert len(loads) == 2 and sum(str(prosus) in line for line in loads) == 1
    assert sum(str(tone) in line for line in loads) == 1

    scores = week_rows(table("finbert_scores", warehouse.database), WEEK)
    by_variant = {name: rows.set_index("numerai_ticker") for name, rows in scores.groupby("variant")}
    assert set(by_variant) == {"finbert", "finbert_stories", "tone", "provider_labels"}
    # The label map is applied: one model says positive, the other negative, of every ticker.
    assert (by_variant["finbert"]["sentiment"] > 0.5).all() and (by_variant["tone"]["sentiment"] < -0.5).all()
    # Provider labels are +1 / -1 each: a ticker's mean is a fraction of them, whatever the models said.
    assert by_variant["provider_labels"]["sentiment"].between(-1, 1).all()
    assert by_variant["finbert"].index.equals(by_variant["tone"].index)
    # Each distinct headline was scored once per model, for every variant of that model.
    cache = table("headline_scores", warehouse.database)
    distinct = table("aggregated_headlines", warehouse.database)["headlines"].explode().nunique()
    assert cache.groupby("model")["headline_id"].nunique().to_dict() == {str(prosus): distinct, str(tone): distinct}
    assert cache.groupby("model").size().to_dict() == {str(prosus): distinct, str(tone): distinct}
    assert (cache.loc[cache["model"] == str(tone), "revision"].str.contains("labels:0:neutral")).all()
    signal = week_rows(table("scaled_signal", warehouse.database), WEEK)
    assert signal.groupby("variant").size().to_dict() == scores.groupby("variant").size().to_dict()
    for name, rows in submitted.items():
        expected = signal[signal["variant"] == name].sort_values("numerai_ticker")
        assert rows["numerai_ticker"].tolist() == expected["numerai_ticker"].tolist()
        assert rows["signal"].to_numpy() == pytest.approx(expected["signal"].to_numpy())
    assert not submitted["tone"]["signal"].equals(submitted["provider_labels"]["signal"])


def test_a_variant_that_does_not_exist_fails_listing_those_that_do(tmp_path):
    with pytest.raises(ValueError, match="names no variant; the variants are " + ", ".join(DEFAULT_NAMES)):
        SignalSettings(variant="finbert_tone")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SIGNAL_", "SIGNALS_"))}
    env["SIGNAL_VARIANT"] = "finbert_tone"
    loaded = subprocess.run(
        [sys.executable, "-c", "import signals_assets.definitions as d; d.defs()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert loaded.returncode != 0
    assert "SIGNAL_VARIANT" in loaded.stderr and "'finbert_tone' names no variant" in loaded.stderr
    assert ", ".join(DEFAULT_NAMES) in loaded.stderr


def test_variants_come_from_the_yaml_file_an_environment_variable_names(tmp_path, monkeypatch):
    good = tmp_path / "variants.yaml"
    good.write_text(
        "variants:\n  - name: finbert\n  - name: tone\n    source: yiyanghkust/finbert-tone\n"
        "    label_map: '0:neutral,1:positive,2:negative'\n    collapse_stories: true\n    attribution: title\n"
    )
    monkeypatch.setenv("SIGNAL_VARIANTS_FILE", str(good))
    settings = SignalSettings(variants=variants_default(), variant="tone")
    assert [variant.name for variant in settings.all_variants()] == ["finbert", "tone"]
    assert settings.submitted() == Variant(
        "tone", "yiyanghkust/finbert-tone", None, "0:neutral,1:positive,2:negative", True, "title", None
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("variants:\n  - name: Tone Model\n")
    monkeypatch.setenv("SIGNAL_VARIANTS_FILE", str(bad))
    with pytest.raises(VariantError, match="SIGNAL_VARIANTS_FILE=.*is not a variant name"):
        variants_default()
    monkeypatch.setenv("SIGNAL_VARIANTS_FILE", str(tmp_path / "nowhere.yaml"))
    with pytest.raises(VariantError, match="no such file"):
        variants_default()
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("variants:\n  - name: tone\n    model: x\n")
    monkeypatch.setenv("SIGNAL_VARIANTS_FILE", str(unknown))
    with pytest.raises(VariantError, match="unknown field.*model"):
        variants_default()


def test_tables_written_before_variants_gain_the_column_and_keep_their_weeks(warehouse, tiny_finbert_dir):
    """A warehouse from before variants: its scaled_signal has no variant column. The next week is written
    with the column added, and the old week still reads as the default variant's."""
    with duckdb.connect(str(warehouse.database)) as connection:
        connection.execute("CREATE SCHEMA signals")
        connection.execute(
            "CREATE TABLE signals.finbert_scores AS SELECT TIMESTAMP '2026-10-24' AS week_start, 'OLD US' AS "
            "numerai_ticker, 0.5::DOUBLE AS sentiment, 3::BIGINT AS n_headlines, 'm' AS model, 'r' AS revision"
        )
    resources = resources_for(warehouse, SampleNews(), tiny_finbert_dir)
    with DagsterInstance.ephemeral() as instance:
        selection = ["numerai_universe", "ticker_map", "raw_articles", "filtered_headlines", "aggregated_headlines"]
        result = materialize(
            GRAPH, partition_key=WEEK, resources=resources, instance=instance, selection=[*selection, "finbert_scores"]
        )
        assert result.success
    scores = table("finbert_scores", warehouse.database)
    old = scores[scores["week_start"] == pd.Timestamp("2026-10-24")]
    assert len(old) == 1 and pd.isna(old["variant"].iloc[0]) and pd.isna(old["n_stories"].iloc[0])
    assert set(week_rows(scores, WEEK)["variant"]) == set(DEFAULT_NAMES)
    assert week_rows(scores, WEEK)["n_stories"].notna().all()
