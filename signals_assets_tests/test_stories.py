"""A story counts once: hand-made weeks of headlines whose stories are known."""

from __future__ import annotations

import pandas as pd
import pytest

from signals_assets.news.stories import collapse_share, normalized_title, story_ids


def ids_of(rows: list[tuple[str, object]], **kwargs) -> list[str]:
    frame = pd.DataFrame(rows, columns=["ticker", "title"])
    return story_ids(frame["ticker"], frame["title"], **kwargs).tolist()


def same_story(a: str, b: str, **kwargs) -> bool:
    first, second = ids_of([("AAPL", a), ("AAPL", b)], **kwargs)
    return first == second


# Normalized titles -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "title",
    [
        "Apple beats estimates - Reuters",
        "Apple Beats Estimates | Benzinga",
        "Apple beats estimates (Yahoo Finance)",
        "Apple beats estimates -- Bloomberg",
        "Apple beats estimates: Reuters",
        "Apple beats estimates — The Motley Fool",
        "Apple beats estimates - Reuters | Yahoo Finance",
        "Apple beats estimates | Markets Insider",
        "UPDATE 2-Apple beats estimates",
        "  APPLE BEATS ESTIMATES!  ",
        "Apple beats estimates...",
    ],
)
def test_outlet_attributions_case_and_punctuation_do_not_count(title):
    assert normalized_title(title) == "apple beats estimates"


def test_normalized_titles_keep_the_words_and_join_words_split_by_punctuation():
    assert normalized_title("Apple's shake-up: U.S. iPhone sales jump 5.5%") == "apple shake up us iphone sales jump 55"
    assert normalized_title("Apple beats third-quarter estimates") == normalized_title(
        "Apple beats third quarter estimates"
    )
    # A dash that is no outlet attribution is part of the headline, and so is a title that is only an outlet's name.
    assert normalized_title("Tesla stock - buy or sell?") == "tesla stock buy or sell"
    assert normalized_title("Reuters") == "reuters"
    assert normalized_title("Analysis: Nvidia's lead in AI chips") == "analysis nvidia lead in ai chips"


@pytest.mark.parametrize("missing", [None, float("nan"), pd.NA, ""])
def test_a_missing_title_normalizes_to_nothing(missing):
    assert normalized_title(missing) == ""


# Reprints merge, different stories do not ------------------------------------------------------------------------

REPRINTS = [
    "Apple beats third-quarter estimates as iPhone sales jump - Reuters",
    "Apple Beats Third-Quarter Estimates As iPhone Sales Jump | Benzinga",
    "Apple beats third-quarter estimates as iPhone sales jump (Yahoo Finance)",
    "Apple beats Q3 estimates as iPhone sales jump",
    "UPDATE 1-Apple beats third quarter estimates as iPhone sales jumped",
]


def test_a_family_of_reprints_is_one_story():
    rows = [("AAPL", title) for title in REPRINTS]
    assert len(set(ids_of(rows))) == 1


def test_different_stories_of_one_company_stay_apart():
    rows = [
        ("AAPL", "Apple beats estimates as iPhone sales jump"),
        ("AAPL", "Apple faces EU antitrust fine over App Store"),
        ("AAPL", "Apple to invest $500 billion in US over four years"),
        ("AAPL", "JPMorgan raises Apple price target to $250"),
        ("AAPL", "Morgan Stanley raises Apple price target to $273"),
    ]
    assert len(set(ids_of(rows))) == len(rows)


def test_the_same_headline_under_two_tickers_is_two_stories():
    title = "Apple and Broadcom strike multibillion-dollar 5G chip deal"
    first, second, reprint = ids_of([("AAPL", title), ("AVGO", title), ("AVGO", title + " - Reuters")])
    assert first != second
    assert second == reprint


def test_near_duplicates_merge_only_where_one_ticker_carries_both():
    original = "Nvidia shares hit record high as AI chip demand soars"
    reprint = "Nvidia shares hit a record high as AI chip demand soars"
    nvda, tsm = ids_of([("NVDA", original), ("TSM", reprint)])
    assert nvda != tsm
    nvda, tsm, nvda_reprint = ids_of([("NVDA", original), ("TSM", reprint), ("NVDA", reprint)])
    assert nvda == nvda_reprint != tsm


def test_grouping_is_transitive_within_a_ticker():
    first = "Boeing halts 737 MAX deliveries after new quality problem at supplier Spirit"
    middle = "Boeing pauses 737 MAX deliveries after new quality problem at supplier Spirit"  # one word edited
    last = "Boeing pauses 737 MAX shipments after fresh quality problem at supplier Spirit"  # two more
    assert not same_story(first, last)
    assert same_story(first, middle) and same_story(middle, last)
    assert len(set(ids_of([("BA", first), ("BA", last), ("BA", middle)]))) == 1


def test_short_titles_merge_only_when_equal():
    """With three words or fewer a single edited word is a different headline."""
    assert not same_story("Apple earnings beat", "Apple earnings preview")
    assert not same_story("Apple stock soars", "Apple stock soars today")
    assert same_story("Apple earnings beat", "APPLE EARNINGS BEAT - Reuters")


def test_headlines_that_point_in_opposite_directions_stay_apart():
    """Daily template headlines differ by the word that gives their direction; they are different stories."""
    rows = [
        ("AAPL", "Apple (AAPL) Stock Sinks As Market Gains: What You Should Know"),
        ("AAPL", "Apple (AAPL) Stock Rises As Market Dips: What You Should Know"),
        ("AAPL", "Apple (AAPL) Stock Sinks As Market Gains: What You Should Know"),
    ]
    monday, tuesday, wednesday = ids_of(rows)
    assert monday == wednesday != tuesday
    assert not same_story("Why Apple stock is rising today", "Why Apple stock is falling today")
    assert not same_story("Goldman Sachs upgrades Apple to buy", "Goldman Sachs downgrades Apple to sell")


def test_a_template_written_for_many_tickers_groups_each_tickers_own_headlines():
    rows = [
        (ticker, f"{ticker.title()} Corp ({ticker}) Stock Sinks As Market Gains: What You Should Know")
        for ticker in (f"T{i:03d}" for i in range(300))
        for _ in range(2)
    ]
    ids = ids_of(rows)
    assert len(set(ids)) == 300
    assert all(ids[i] == ids[i + 1] for i in range(0, len(ids), 2))


# Ids ---------------------------------------------------------------------------------------------------------------


def test_ids_are_deterministic_and_independent_of_unrelated_rows():
    week = [("AAPL", title) for title in REPRINTS] + [("MSFT", "Microsoft earnings beat estimates on cloud growth")]
    ids = ids_of(week)
    assert ids == ids_of(week)
    assert all(len(story) == 16 and set(story) <= set("0123456789abcdef") for story in ids)
    unrelated = [
        ("AAPL", "Apple faces EU antitrust fine over App Store"),
        ("TSLA", "Tesla recalls 2 million vehicles over Autopilot safety concerns"),
        ("AAPL", None),
    ]
    mixed = unrelated[:2] + week[:3] + unrelated[2:] + week[3:]
    assert ids_of(mixed)[2:5] + ids_of(mixed)[6:] == ids


def test_a_storys_id_is_that_of_its_first_row():
    original = "Exxon Mobil agrees to buy Pioneer Natural Resources for $59.5 billion"
    reprint = "Exxon Mobil to buy Pioneer Natural Resources for $59.5 billion - Reuters"
    (alone,) = ids_of([("XOM", reprint)])
    assert ids_of([("XOM", reprint), ("XOM", original)]) == [alone, alone]
    assert ids_of([("XOM", original), ("XOM", reprint)]) != [alone, alone]


def test_ids_keep_the_input_index():
    tickers = pd.Series(["AAPL", "AAPL", "MSFT"], index=["x", "y", "z"])
    titles = pd.Series(
        ["Apple beats estimates - Reuters", "Apple Beats Estimates", "Microsoft news"], index=tickers.index
    )
    ids = story_ids(tickers, titles)
    assert list(ids.index) == ["x", "y", "z"] and ids["x"] == ids["y"] != ids["z"]
    assert isinstance(ids["x"], str)
    with pytest.raises(ValueError, match="same index"):
        story_ids(tickers, titles.reset_index(drop=True))


def test_an_empty_week_has_no_stories():
    ids = story_ids(pd.Series([], dtype="string"), pd.Series([], dtype="string"))
    assert ids.empty and pd.api.types.is_string_dtype(ids.dtype)
    assert collapse_share(pd.Series([], dtype="string"), ids) == 0.0


def test_every_row_without_a_title_is_a_story_of_its_own():
    rows = [("AAPL", None), ("AAPL", float("nan")), ("AAPL", ""), ("AAPL", pd.NA), ("MSFT", None), ("AAPL", "...")]
    ids = ids_of(rows)
    assert len(set(ids)) == len(rows)
    assert ids == ids_of(rows)
    assert ids_of([("MSFT", None)] + rows[:2])[1:] == ids[:2]


@pytest.mark.parametrize("similarity", [0, -0.1, 1.01, 2, float("nan")])
def test_the_similarity_must_be_a_jaccard_similarity(similarity):
    with pytest.raises(ValueError, match=r"SIGNAL_STORY_SIMILARITY.*\(0, 1\]"):
        ids_of([("AAPL", "Apple beats estimates")], similarity=similarity)


def test_the_similarity_decides_how_close_a_reprint_must_be():
    a = "Walmart raises full-year outlook as shoppers seek bargains"
    b = "Walmart raises full-year forecast as shoppers seek bargains"
    assert same_story(a, b, similarity=0.5) and same_story(a, b) and not same_story(a, b, similarity=0.95)
    assert same_story(a, a + " - Reuters", similarity=1.0)
    assert same_story(a, b, num_perm=256)


def test_collapse_share_is_the_share_of_headlines_a_collapse_removes():
    tickers = pd.Series(["AAPL", "AAPL", "AAPL", "MSFT"])
    ids = story_ids(tickers, pd.Series(REPRINTS[:3] + ["Microsoft earnings beat estimates on cloud growth"]))
    assert collapse_share(tickers, ids) == pytest.approx(0.5)
    assert collapse_share(tickers[3:], ids[3:]) == 0.0


# The default similarity on real-shaped pairs ----------------------------------------------------------------------

# Reprints and light rewordings: one word edited, added or dropped, a short phrase reworded. The Jaccard similarity
# of their word sets (plural "s" dropped) is 0.70 to 1.0.
SAME_STORY = [
    ("Apple beats third-quarter estimates as iPhone sales jump", "Apple beats Q3 estimates as iPhone sales jump"),
    ("Nvidia shares hit record high as AI chip demand soars", "Nvidia shares hit a record high as AI chip demand soars"),
    ("Tesla recalls 2 million vehicles over Autopilot safety concerns", "Tesla recalls over 2 million vehicles over Autopilot safety concerns"),
    ("Microsoft to buy Activision Blizzard for $68.7 billion in all-cash deal", "Microsoft to acquire Activision Blizzard for $68.7 billion in all-cash deal"),
    ("Disney names Josh D'Amaro as next chief executive", "Disney names Josh D'Amaro as its next chief executive"),
    ("Pfizer cuts 2024 revenue forecast on weak COVID product sales", "Pfizer cuts 2024 revenue forecast on weak sales of COVID products"),
    ("Netflix subscriber growth beats expectations, shares jump", "Netflix subscriber growth beats expectations; shares surge"),
    ("Exxon Mobil agrees to buy Pioneer Natural Resources for $59.5 billion", "Exxon Mobil to buy Pioneer Natural Resources for $59.5 billion"),
    ("Apple stock rises after upbeat earnings report", "Apple stock rises after strong earnings report"),
    ("Walmart raises full-year outlook as shoppers seek bargains", "Walmart raises full-year forecast as shoppers seek bargains"),
    ("Netflix shares jump after subscriber growth beats forecasts", "Netflix shares jumped after subscriber growth beat forecasts"),
    ("Alphabet shares slide as cloud growth disappoints investors", "Alphabet shares slide after cloud growth disappoints investors"),
    ("Starbucks CEO Laxman Narasimhan steps down; Chipotle's Brian Niccol to take over", "Starbucks CEO Laxman Narasimhan to step down; Chipotle's Brian Niccol to take over"),
    ("Berkshire Hathaway sells more Bank of America shares", "Berkshire Hathaway sells more of its Bank of America stake"),
    ("Costco raises membership fees for first time since 2017", "Costco raises membership fee for the first time since 2017"),
    ("AMD unveils new AI chip to challenge Nvidia's dominance", "AMD unveils AI chip to challenge Nvidia dominance"),
]  # fmt: skip
# Different stories of one company: those sharing most of their words first (Jaccard similarity 0.60 at most), then
# template headlines that only their direction tells apart (up to 0.78).
DIFFERENT_STORIES = [
    ("Intel to cut 15% of workforce in cost overhaul", "Intel to cut dividend in cost overhaul"),
    ("Apple to invest $500 billion in US", "Apple to invest $1 billion in Indonesia"),
    ("Citi raises Nvidia price target to $150", "Bernstein raises Nvidia price target to $155"),
    ("Pfizer wins FDA approval for RSV vaccine", "Pfizer wins FDA approval for migraine drug"),
    ("JPMorgan raises Apple price target to $250", "Morgan Stanley raises Apple price target to $273"),
    ("Microsoft invests $10 billion in OpenAI", "Microsoft invests $3 billion in India"),
    ("Amazon to hire 250,000 workers for holiday season", "Amazon to hire 150,000 workers for warehouse roles"),
    ("Tesla recalls 2 million vehicles over Autopilot", "Tesla recalls 120,000 vehicles over door issue"),
    ("Apple beats estimates as iPhone sales jump", "Apple faces EU antitrust fine over App Store"),
    ("Microsoft earnings beat estimates on cloud growth", "Microsoft layoffs hit gaming division after Activision deal"),
    ("Why Apple stock is rising today", "Why Apple stock is falling today"),
    ("Is Nvidia stock a buy now?", "Is Nvidia stock a sell now?"),
    ("Apple (AAPL) Q3 Earnings and Revenues Beat Estimates", "Apple (AAPL) Q3 Earnings and Revenues Miss Estimates"),
    ("Meta stock jumps 5% on strong ad revenue", "Meta stock drops 5% on weak ad revenue"),
]  # fmt: skip


@pytest.mark.parametrize(("a", "b"), SAME_STORY)
def test_the_default_similarity_merges_reprints_and_light_rewordings(a, b):
    assert same_story(a, b)


@pytest.mark.parametrize(("a", "b"), DIFFERENT_STORIES)
def test_the_default_similarity_keeps_different_stories_apart(a, b):
    assert not same_story(a, b)
