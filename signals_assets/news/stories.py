"""A story counts once: the headlines of one ticker's week that are the same story get one story id.

The same story reaches the Stock News API from several outlets, as reprints with the outlet's name appended
("Apple beats estimates - Reuters", "Apple Beats Estimates | Benzinga") or as lightly reworded versions. Counted
once per copy, a story told ten times outweighs ten different stories; with one id per story the signal can count
each story once.

Two headlines of a ticker are one story when their normalized titles are equal, or when their word sets are near
duplicates: MinHash LSH proposes the pairs, their Jaccard similarity decides. Pure module: no I/O, no Dagster.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

import numpy as np
import pandas as pd

# The Jaccard similarity of two headlines' word sets, chosen on the real-shaped pairs in the tests: reprints with
# one word edited, added or dropped, or a short phrase reworded score 0.70-1.0; different stories of one company
# that share most of their words score at most 0.60 ("Intel to cut 15% of workforce in cost overhaul" / "Intel to
# cut dividend in cost overhaul"). 0.65 lies between; it merges a one-word edit in headlines of five words or more
# ((n - 1) / (n + 1)), two edited words from ten words on. A merge that is wrong loses a story; a missed one only
# counts a story twice, as without collapsing: the default leans to the different stories' side.
DEFAULT_SIMILARITY = 0.65
SIMILARITY_VARIABLE = "SIGNAL_STORY_SIMILARITY"
# Titles of fewer words only merge when equal: with 1-3 words one edited word is most of the headline ("Apple
# earnings beat" / "Apple earnings miss"), and the few Jaccard values such small sets can take jump across any
# threshold, so similarity says nothing there.
MIN_WORDS = 4
# The chance that LSH proposes a pair whose similarity is exactly the threshold. Proposals are cheap (each is
# confirmed with its exact Jaccard similarity), a missed pair is silent, so the bands favour recall.
LSH_RECALL = 0.99

# Outlets that news aggregators append to a headline.
OUTLETS = (
    "Reuters", "Bloomberg", "Bloomberg News", "Benzinga", "Yahoo Finance", "Yahoo", "CNBC", "MarketWatch",
    "Barron's", "Barrons", "The Motley Fool", "Motley Fool", "Fool", "Zacks", "Zacks Investment Research",
    "Seeking Alpha", "Investopedia", "Forbes", "Fortune", "Business Insider", "Markets Insider", "Insider",
    "WSJ", "The Wall Street Journal", "Wall Street Journal", "Financial Times", "FT", "CNN", "CNN Business",
    "Fox Business", "TheStreet", "InvestorPlace", "Investor's Business Daily", "IBD", "Associated Press", "AP",
    "AP News", "Nasdaq", "GuruFocus", "Proactive Investors", "PR Newswire", "Business Wire", "GlobeNewswire",
    "Accesswire", "Kiplinger", "Axios", "TechCrunch", "The Verge", "Investing", "MarketBeat", "Simply Wall St",
    "24/7 Wall St", "Morningstar", "TipRanks", "The New York Times", "New York Times", "NYT", "BBC", "Quartz",
)  # fmt: skip
_OUTLET = "|".join(r"\s+".join(map(re.escape, outlet.split())) for outlet in sorted(OUTLETS, key=len, reverse=True))
_OUTLET_SUFFIX = re.compile(
    rf"(?:\s+(?:-{{1,2}}|[–—|])\s*|\s*:\s+|\s+via\s+)(?:{_OUTLET})(?:\.com)?\.?\s*$|\s*[(\[](?:{_OUTLET})(?:\.com)?[)\]]\s*$",
    re.IGNORECASE,
)
# A trailing " | ..." of a few words is a site or section name ("| Fox Business", "| Markets Insider") far more
# often than part of the story.
_PIPE_SUFFIX = re.compile(r"\s+\|\s+(?:[^|\s]+\s*){1,4}$")
# Wire markers of a new version of the same story ("UPDATE 2-Intel forecasts ...").
_WIRE_PREFIX = re.compile(r"^\s*(?:update\s*\d*|corrected|refile|exclusive|breaking|brief)\s*[-:]\s*", re.IGNORECASE)
_POSSESSIVE = re.compile(r"['’]s\b")
# Apostrophes and dots inside a word join it ("U.S." is "US", "D'Amaro" one word); a hyphen splits it, as most
# reprints that drop one write the words apart ("third-quarter" / "third quarter", "Coca-Cola" / "Coca Cola").
_INNER_PUNCTUATION = re.compile(r"(?<=\w)\.(?=\w)|['’]")
_PUNCTUATION = re.compile(r"[^\w\s]|_")


@lru_cache(maxsize=1 << 16)  # a week's vocabulary is a few thousand words, each seen many times
def _stem(word: str) -> str:
    """A plural or third-person "s" dropped, so "jump" and "jumps", "sale" and "sales" are one word."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


# Words that give a headline its direction. Template headlines differ by exactly these words ("Why Apple stock is
# rising today" / "... falling today", "Apple (AAPL) Q3 Earnings and Revenues Beat Estimates" / "... Miss
# Estimates") and score as near duplicates, yet they are different stories of opposite sentiment: merging them
# would drop one of them from the signal. A pair is not merged when one title has an up word the other lacks
# while the other has a down word the first lacks.
UP_WORDS = frozenset(map(_stem, (
    "rise rises rising rose risen jump jumped gain gained climb climbed surge surged soar soared rally rallies "
    "rallied higher high up above beat tops topped buy upgrade upgraded outperform bullish strong stronger upbeat "
    "raise raised boost boosted positive"
).split()))  # fmt: skip
DOWN_WORDS = frozenset(map(_stem, (
    "fall falling fell fallen drop dropped sink sank slide slid dip dipped slump slumped plunge plunged tumble "
    "tumbled decline declined lower low down below miss missed lag lagged sell downgrade downgraded underperform "
    "bearish weak weaker downbeat cut slash slashed negative"
).split()))  # fmt: skip


def normalized_title(title: str) -> str:
    """The headline lowercased, without the outlet attributions aggregators add (' - Reuters', ' | Benzinga',
    ' (Yahoo Finance)', ' -- Bloomberg', ': Reuters', a leading 'UPDATE 2-'), punctuation stripped, whitespace
    collapsed. A missing title is ''."""
    if not isinstance(title, str):
        return ""
    text = _WIRE_PREFIX.sub("", title.strip())
    while True:  # "... - Reuters | Yahoo Finance": one attribution after another
        shorter = _PIPE_SUFFIX.sub("", _OUTLET_SUFFIX.sub("", text))
        if shorter == text or not shorter.strip():
            break
        text = shorter
    text = _INNER_PUNCTUATION.sub("", _POSSESSIVE.sub("", text.lower()))
    return " ".join(_PUNCTUATION.sub(" ", text).split())


def _validated(similarity: float) -> float:
    if not 0 < similarity <= 1:  # NaN fails too
        raise ValueError(f"{SIMILARITY_VARIABLE} must be in (0, 1] (a Jaccard similarity); got {similarity!r}")
    return float(similarity)


def _bands(similarity: float, num_perm: int) -> tuple[int, int]:
    """LSH bands and rows: the most rows per band (fewest false proposals) that still propose a pair at the
    threshold with LSH_RECALL. datasketch's own choice misses ~40% of pairs at 0.65 when the threshold is 0.6,
    and refuses thresholds near 1."""
    for rows in range(max(num_perm // 2, 1), 0, -1):
        bands = num_perm // rows
        if 1 - (1 - similarity**rows) ** bands >= LSH_RECALL:
            return bands, rows
    return num_perm, 1


def _opposite(a: frozenset[str], b: frozenset[str]) -> bool:
    """Whether two titles point in opposite directions (see UP_WORDS)."""
    only_a, only_b = a - b, b - a
    return bool(only_a & UP_WORDS and only_b & DOWN_WORDS or only_a & DOWN_WORDS and only_b & UP_WORDS)


def _edges(nodes: pd.DataFrame, words: list[frozenset[str]], similarity: float, num_perm: int) -> list[tuple[int, int]]:
    """Pairs of nodes (`nodes`: ticker, title, node; one per distinct title of a ticker) that are one story.

    One LSH index holds every distinct title that could pair (MIN_WORDS words or more, on a ticker with another
    such title). Two titles of a ticker that share an LSH bucket are a candidate; a candidate is one story when the
    exact Jaccard similarity of the word sets reaches `similarity` and the titles do not point in opposite
    directions. LSH proposes false pairs, and with 128 permutations the MinHash estimate is off by 0.04 (one
    standard deviation) near 0.65, which is as far as reprints and different stories lie from the threshold;
    the exact similarity of two short word sets costs about as little as the estimate. Candidates are read from the buckets, a bucket's titles paired ticker by ticker, rather than by
    querying each title: a template headline written for hundreds of tickers ("X (XYZ) Stock Sinks As Market Gains:
    What You Should Know") puts hundreds of titles in one bucket, and a query per title would pair them all
    (quadratic), though only a ticker's own few can be one story."""
    lengths = np.array([len(title) for title in words], dtype=np.int64)
    nodes = nodes[(nodes["title"] >= 0) & (lengths[nodes["title"].clip(lower=0)] >= MIN_WORDS)]
    nodes = nodes[nodes.groupby("ticker")["ticker"].transform("size") > 1]
    if nodes.empty:
        return []
    indexed = np.unique(nodes["title"].to_numpy())
    # datasketch imports scipy (~0.3 s): on first use, in the step that collapses stories, not with the code location.
    from datasketch import MinHash, MinHashLSH

    minhashes = MinHash.bulk([[word.encode() for word in words[i]] for i in indexed], num_perm=num_perm)
    lsh = MinHashLSH(threshold=similarity, num_perm=num_perm, params=_bands(similarity, num_perm))
    with lsh.insertion_session() as session:
        for key, minhash in zip(indexed.tolist(), minhashes):
            session.insert(key, minhash, check_duplication=False)
    buckets = [members for table in lsh.hashtables for bucket in table.keys() if len(members := table.get(bucket)) > 1]
    if not buckets:
        return []
    members = pd.DataFrame(
        {
            "bucket": np.repeat(np.arange(len(buckets)), [len(members) for members in buckets]),
            "title": np.fromiter((title for members in buckets for title in members), dtype=np.int64),
        }
    ).merge(nodes, on="title")
    pairs = members.merge(members, on=["bucket", "ticker"], suffixes=("", "_other"))
    pairs = pairs[pairs["node"] < pairs["node_other"]].drop_duplicates(["node", "node_other"])
    if pairs.empty:
        return []
    return [
        (a, b)
        for i, j, a, b in pairs[["title", "title_other", "node", "node_other"]].itertuples(index=False)
        if len(words[i] & words[j]) / len(words[i] | words[j]) >= similarity and not _opposite(words[i], words[j])
    ]


def _root(parent: np.ndarray, node: int) -> int:
    while parent[node] != node:
        parent[node] = parent[parent[node]]  # path halving keeps later look-ups short
        node = parent[node]
    return node


def story_ids(
    tickers: pd.Series, titles: pd.Series, similarity: float = DEFAULT_SIMILARITY, num_perm: int = 128
) -> pd.Series:
    """One story id (str) per row, aligned with the input index. Rows are (ticker, title) pairs of ONE week,
    in the order given (callers pass them oldest first). Two rows of the same ticker are one story when their
    normalized titles are equal, or when the Jaccard similarity of their titles' words (plural "s" dropped)
    reaches `similarity`, as found by MinHash LSH with `num_perm` permutations, and the titles do not point in
    opposite directions (UP_WORDS, DOWN_WORDS); grouping is transitive within the ticker. Rows of different tickers never share a story. A story's id is the sha1 (16
    hex characters) of its ticker and the normalized title of its first row, so equal inputs give equal ids on
    every run and unrelated rows do not change them. A row without a title is a story of its own."""
    similarity = _validated(similarity)
    if not tickers.index.equals(titles.index):
        raise ValueError("tickers and titles must have the same index")
    if tickers.empty:
        return pd.Series([], index=tickers.index, dtype=pd.StringDtype(), name="story_id")
    symbols = tickers.astype("string").fillna("").to_numpy(dtype=object)
    raw_codes, raw_titles = pd.factorize(titles.astype(object))  # a missing title has code -1
    normalized = np.array([normalized_title(title) for title in raw_titles] + [""], dtype=object)
    title_codes, distinct = pd.factorize(normalized[raw_codes])
    untitled = distinct[title_codes] == ""
    # A node is a ticker's distinct normalized title; each untitled row is a node of its own.
    ticker_codes = pd.factorize(symbols)[0]
    nodes_of_rows = pd.DataFrame(
        {"ticker": ticker_codes, "title": np.where(untitled, -1 - np.arange(len(untitled)), title_codes)}
    )
    node_of_row = nodes_of_rows.groupby(["ticker", "title"], sort=False).ngroup().to_numpy()
    first_row = pd.Series(np.arange(len(node_of_row))).groupby(node_of_row).min().to_numpy()
    nodes = nodes_of_rows.iloc[first_row].assign(node=np.arange(len(first_row)))
    words = [frozenset(_stem(word) for word in title.split()) for title in distinct]
    parent = np.arange(len(first_row))
    for a, b in _edges(nodes, words, similarity, num_perm):
        root_a, root_b = sorted((_root(parent, a), _root(parent, b)), key=first_row.__getitem__)
        parent[root_b] = root_a  # a story's root is its earliest node
    story_first_row = first_row[[_root(parent, node) for node in range(len(parent))]]
    # An untitled row's key is its rank among its ticker's untitled rows: other tickers and titled rows leave it.
    untitled_rank = pd.Series(untitled).groupby(ticker_codes).cumsum().to_numpy()
    keys = [
        f"{symbols[row]}\x1f\x00{untitled_rank[row]}"
        if untitled[row]
        else f"{symbols[row]}\x1f{distinct[title_codes[row]]}"
        for row in story_first_row
    ]
    node_ids = np.array([hashlib.sha1(key.encode()).hexdigest()[:16] for key in keys], dtype=object)
    return pd.Series(node_ids[node_of_row], index=tickers.index, dtype=pd.StringDtype(), name="story_id")


def collapse_share(tickers: pd.Series, story_ids: pd.Series) -> float:
    """The share of headlines that counting each story once removes: 1 - stories / rows (0.0 for no rows)."""
    if len(story_ids) == 0:
        return 0.0
    stories = pd.DataFrame({"ticker": tickers.to_numpy(), "story": story_ids.to_numpy()}).drop_duplicates()
    return 1.0 - len(stories) / len(story_ids)
