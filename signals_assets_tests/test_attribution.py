"""The ticker an article is about: real-shaped multi-ticker articles and the tickers their headlines name."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from signals_assets.news.attribution import aliases, attribution_weights, title_attribution, title_names

NAMES = pd.DataFrame(
    [
        ("AAPL", "Apple Inc."),
        ("AVGO", "Broadcom Inc."),
        ("QCOM", "QUALCOMM Incorporated"),
        ("MSFT", "Microsoft Corporation"),
        ("NOW", "ServiceNow, Inc."),
        ("IT", "Gartner, Inc."),
        ("A", "Agilent Technologies, Inc."),
        ("TGT", "Target Corporation"),
        ("GAP", "The Gap, Inc."),
        ("XYZ", "Block, Inc."),
        ("T", "AT&T Inc."),
        ("AMZN", "Amazon.com, Inc."),
        ("PG", "Procter & Gamble Company (The)"),
        ("JPM", "JPMorgan Chase & Co."),
        ("BRK.B", "Berkshire Hathaway Inc."),
        ("GOOGL", "Alphabet Inc. Class A"),
        ("NVDA", None),
    ],
    columns=["stocknews_ticker", "name"],
)
NAME = dict(NAMES.itertuples(index=False))


def article(title: str, *tickers: str) -> pd.DataFrame:
    return pd.DataFrame({"title": title, "stocknews_ticker": list(tickers), "n_tagged": len(tickers)})


def named(title: str, ticker: str) -> bool:
    return title_names(title, ticker, NAME.get(ticker))


# Company names ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Apple Inc.", ["Apple"]),
        ("Alphabet Inc. Class A", ["Alphabet"]),
        ("JPMorgan Chase & Co.", ["JPMorgan Chase", "JPMorgan"]),
        ("Amazon.com, Inc.", ["Amazon.com", "Amazon"]),
        ("Target Corporation", ["Target"]),
        ("The Gap, Inc.", ["Gap"]),
        ("Block, Inc.", ["Block"]),
        ("Match Group, Inc.", ["Match Group"]),
        ("Ball Corporation", ["Ball"]),
        ("Progressive Corp", ["Progressive"]),
        ("Procter & Gamble Company (The)", ["Procter & Gamble"]),
        ("Meta Platforms, Inc.", ["Meta Platforms", "Meta"]),
        ("The Goldman Sachs Group, Inc.", ["Goldman Sachs Group", "Goldman Sachs"]),
        ("United Technologies Corporation", ["United Technologies"]),
        ("Texas Instruments Incorporated", ["Texas Instruments"]),
        (None, []),
        (pd.NA, []),
        ("  ", []),
    ],
)
def test_a_company_is_named_without_its_legal_suffixes(name, expected):
    assert aliases(name) == expected


# Symbols -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "title",
    [
        "AAPL hits record high",
        "$AAPL hits record high",
        "Apple (AAPL) hits record high",
        "Apple Inc. (NASDAQ:AAPL) hits record high",
        "Apple Inc. (NASDAQ: AAPL) hits record high",
        "Is AAPL's rally over?",
        "Stocks to watch: AAPL, MSFT, NVDA",
    ],
)
def test_a_symbol_names_its_ticker_in_every_form(title):
    assert title_names(title, "AAPL", None)


@pytest.mark.parametrize("title", ["aapl hits record high", "AAPLX fund rebalances", "XAAPL", "AAPL&T"])
def test_a_symbol_is_case_sensitive_and_a_whole_word(title):
    assert not title_names(title, "AAPL", None)


@pytest.mark.parametrize(
    ("title", "ticker"),
    [
        ("Buy these 3 stocks NOW before earnings", "NOW"),
        ("IT spending to rise 8% in 2025, survey says", "IT"),
        ("A guide to dividend investing", "A"),
        ("Stock futures rise ahead of CPI data; ALL eyes on the Fed", "ALL"),
        ("GE Vernova and T-Mobile lead gains", "T"),
    ],
)
def test_a_symbol_that_is_a_common_word_does_not_count_bare(title, ticker):
    assert not named(title, ticker)


@pytest.mark.parametrize(
    ("title", "ticker"),
    [
        ("Why $NOW stock is soaring today", "NOW"),
        ("ServiceNow (NOW) beats estimates on AI demand", "NOW"),
        ("ServiceNow beats estimates on AI demand", "NOW"),
        ("Is ServiceNow's AI push paying off?", "NOW"),
        ("Gartner (IT) raises full-year outlook", "IT"),
        ("Gartner Inc. (NYSE: IT) raises full-year outlook", "IT"),
        ("Agilent (A) tops estimates", "A"),
        ("Agilent Technologies tops estimates", "A"),
        ("Agilent tops estimates", "A"),
    ],
)
def test_a_symbol_that_is_a_common_word_counts_marked_or_through_the_name(title, ticker):
    assert named(title, ticker)


# Names -------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "ticker", "expected"),
    [
        ("Apple beats estimates", "AAPL", True),
        ("APPLE BEATS ESTIMATES", "AAPL", True),
        ("Apple's iPhone sales jump", "AAPL", True),
        ("Apple’s iPhone sales jump", "AAPL", True),
        ("Apple-supplier Foxconn posts record sales", "AAPL", True),
        ("Pineapple prices soar", "AAPL", False),
        ("Apples and oranges: comparing two bank stocks", "AAPL", False),
        ("Alphabet shares rise after Google I/O", "GOOGL", True),
        ("Berkshire Hathaway sells more Bank of America", "BRK.B", True),
        ("Berkshire Hathaway's cash pile hits record", "BRK.B", True),
        ("Warren Buffett's BRK.B hits record", "BRK.B", True),
        ("Qualcomm rallies on AI phone chips", "QCOM", True),
        ("Nvidia hits record", "NVDA", False),  # no name in the ticker list, and the symbol is absent
        ("NVDA hits record", "NVDA", True),
    ],
)
def test_a_name_counts_case_insensitively_as_a_whole_word(title, ticker, expected):
    assert named(title, ticker) is expected


@pytest.mark.parametrize(
    ("title", "ticker"),
    [
        ("AT&T adds 400,000 wireless subscribers", "T"),
        ("AT&T's fiber push pays off", "T"),
        ("Verizon, AT&T and T-Mobile cut prices", "T"),
        ("Amazon.com posts record Prime Day sales", "AMZN"),
        ("Amazon.com's cloud unit grows 19%", "AMZN"),
        ("Amazon to hire 250,000 workers", "AMZN"),
        ("Procter & Gamble raises prices again", "PG"),
        ("Procter and Gamble raises prices again", "PG"),
        ("JPMorgan Chase profit jumps 30%", "JPM"),
        ("JPMorgan raises Apple price target", "JPM"),
        ("JPMorgan's Dimon warns on inflation", "JPM"),
    ],
)
def test_names_with_punctuation_match_with_proper_boundaries(title, ticker):
    assert named(title, ticker)


@pytest.mark.parametrize(
    ("title", "ticker"),
    [
        ("ATT shares fall", "T"),
        ("MAT&T", "T"),
        ("AmazonBasics recalls chargers", "AMZN"),
        ("Amazonian rainforest fund launches", "AMZN"),
        ("Procter gambles on new razor line", "PG"),
    ],
)
def test_names_with_punctuation_do_not_match_inside_other_words(title, ticker):
    assert not named(title, ticker)


@pytest.mark.parametrize(
    ("title", "ticker"),
    [
        ("Analysts raise price target on Apple", "TGT"),
        ("Analysts Raise Price Target On Apple To $250", "TGT"),
        ("Nvidia hits $150 target as AI rally continues", "TGT"),
        ("Target price for Tesla raised at Goldman", "TGT"),
        ("Mind the gap: small caps lag large caps", "GAP"),
        ("Mind The Gap: Small Caps Lag Large Caps", "GAP"),
        ("Treasury yield gap widens", "GAP"),
        ("Senate moves to block TikTok sale", "XYZ"),
        ("Block trades lift Tesla shares", "XYZ"),
        ("Apple's latest iPhone is a building block for AI", "XYZ"),
    ],
)
def test_a_name_that_is_a_common_word_does_not_count_in_ordinary_usage(title, ticker):
    assert not named(title, ticker)


@pytest.mark.parametrize(
    ("title", "ticker"),
    [
        ("Target's holiday sales disappoint", "TGT"),
        ("Target Corp. cuts annual forecast", "TGT"),
        ("Target Shares Slide After Earnings Miss", "TGT"),
        ("Target (TGT) earnings preview", "TGT"),
        ("Gap Inc. raises outlook as Old Navy sales improve", "GAP"),
        ("Gap's turnaround gains traction", "GAP"),
        ("Block stock jumps on Cash App growth", "XYZ"),
        ("Block, Inc. beats estimates", "XYZ"),
        ("Jack Dorsey's Block (XYZ) cuts jobs", "XYZ"),
    ],
)
def test_a_name_that_is_a_common_word_counts_as_a_company(title, ticker):
    assert named(title, ticker)


# Weights -----------------------------------------------------------------------------------------------------------


def test_a_multi_ticker_article_gives_full_weight_to_the_tickers_its_title_names():
    headlines = article("Apple beats estimates; suppliers Broadcom and Qualcomm rally", "AAPL", "AVGO", "QCOM", "MSFT")
    result = title_attribution(headlines, NAMES)
    assert result["named_in_title"].tolist() == [True, True, True, False]
    assert result["weight"].tolist() == [1.0, 1.0, 1.0, 0.25]
    assert result["named_in_title"].dtype == bool and result["weight"].dtype == np.float64


def test_a_title_naming_none_of_its_tickers_spreads_them_evenly():
    result = title_attribution(article("Stocks rally as inflation cools", "AAPL", "MSFT", "AMZN"), NAMES)
    assert not result["named_in_title"].any()
    assert result["weight"].tolist() == pytest.approx([1 / 3] * 3)


def test_the_tagged_weight_overrides_one_over_the_tagged_count():
    headlines = article("Apple beats estimates; suppliers Broadcom and Qualcomm rally", "AAPL", "AVGO", "QCOM", "MSFT")
    assert title_attribution(headlines, NAMES, tagged_weight=0.5)["weight"].tolist() == [1.0, 1.0, 1.0, 0.5]
    assert title_attribution(headlines, NAMES, tagged_weight=0.0)["weight"].tolist() == [1.0, 1.0, 1.0, 0.0]
    assert title_attribution(headlines, NAMES, tagged_weight=1)["weight"].tolist() == [1.0] * 4


@pytest.mark.parametrize("tagged_weight", [-0.1, 1.5, float("nan")])
def test_the_tagged_weight_must_be_a_weight(tagged_weight):
    with pytest.raises(ValueError, match=r"SIGNAL_TAGGED_WEIGHT.*\[0, 1\]"):
        attribution_weights(pd.Series([True]), pd.Series([1]), tagged_weight)
    with pytest.raises(ValueError, match="SIGNAL_TAGGED_WEIGHT"):
        title_attribution(article("Apple beats estimates", "AAPL"), NAMES, tagged_weight)


def test_attribution_weights_per_row():
    weights = attribution_weights(
        pd.Series([True, False, False, None, False], index=list("abcde")),
        pd.Series([2, 2, 4, 4, 0], index=list("abcde")),
    )
    assert weights.tolist() == [1.0, 0.5, 0.25, 0.25, 1.0]
    assert list(weights.index) == list("abcde") and weights.dtype == np.float64


def test_the_result_keeps_the_headlines_index_rows_and_columns():
    headlines = pd.concat(
        [
            article("Apple beats estimates; suppliers Broadcom and Qualcomm rally", "AAPL", "AVGO", "QCOM", "MSFT"),
            article("Target's holiday sales disappoint", "TGT", "WMT"),
            article(None, "AAPL"),
            article("Nvidia hits record", "NVDA", "ZZZZ"),
        ]
    )
    headlines.index = [f"row{i}" for i in range(len(headlines))][::-1]
    headlines["source_name"] = "Reuters"
    before = headlines.copy()
    result = title_attribution(headlines, NAMES)
    pd.testing.assert_frame_equal(headlines, before)  # the input is left as it was
    pd.testing.assert_frame_equal(result[list(headlines.columns)], headlines)
    assert list(result.columns) == [*headlines.columns, "named_in_title", "weight"]
    assert result["named_in_title"].tolist() == [True, True, True, False, True, False, False, False, False]
    assert result["weight"].tolist() == pytest.approx([1, 1, 1, 0.25, 1, 0.5, 1, 0.5, 0.5])


def test_an_empty_week_attributes_nothing():
    headlines = pd.DataFrame({"title": [], "stocknews_ticker": [], "n_tagged": []})
    result = title_attribution(headlines, NAMES)
    assert result.empty and list(result.columns) == [
        "title",
        "stocknews_ticker",
        "n_tagged",
        "named_in_title",
        "weight",
    ]
    assert result["weight"].dtype == np.float64


def test_a_week_of_twenty_thousand_rows_names_every_ticker_its_title_names():
    rng = np.random.default_rng(0)
    tickers = [f"T{i:04d}" for i in range(3000)]
    names = pd.DataFrame({"stocknews_ticker": tickers, "name": [f"Company{i} Holdings, Inc." for i in range(3000)]})
    picked = rng.choice(3000, size=20_000)
    headlines = pd.DataFrame(
        {
            "title": [f"Company{i} and Company{(i + 7) % 3000} shares move as T{i:04d} reports" for i in picked],
            "stocknews_ticker": [tickers[(i + 7 * (k % 2)) % 3000] for k, i in enumerate(picked)],
            "n_tagged": 2,
        }
    )
    result = title_attribution(headlines, names)
    assert result["named_in_title"].all() and len(result) == len(headlines)


def test_duplicate_index_labels_keep_their_rows():
    headlines = article("Apple beats estimates; suppliers Broadcom and Qualcomm rally", "AAPL", "MSFT")
    headlines.index = [7, 7]
    result = title_attribution(headlines, NAMES)
    assert list(result.index) == [7, 7] and result["weight"].tolist() == [1.0, 0.5]
