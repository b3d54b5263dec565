"""The ticker an article is about: the tickers its headline names.

The Stock News API tags an article with every ticker it mentions, so "Apple beats estimates; suppliers Broadcom and
Qualcomm rally" also counts for Microsoft when the text mentions it in passing. With attribution on, an article's
sentiment goes with full weight to the tickers its title names (by symbol or company name) and with a lower weight
to the tickers it is only tagged with. Pure module: no I/O, no Dagster.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pandas as pd

TAGGED_WEIGHT_VARIABLE = "SIGNAL_TAGGED_WEIGHT"

# Symbols that are English words, or acronyms headlines use as words: written bare ("ALL", "NOW", "IT") they are
# far more often the word than the ticker, so they count only as "$NOW", "(NOW)" or "NYSE: NOW", or through the
# company's name. Every symbol of one or two letters counts the same way ("A", "GE", "ON").
COMMON_WORD_SYMBOLS = frozenset(
    """
    ALL AIR ANY APP ARE ARM BEAT BEST BIG BIO BOX CAKE CAR CARS CASE CASH CAT COST CUBE DASH DAY DOC DOG EARN EAT
    EDIT EVER EYE FAST FAT FIVE FIX FLY FOR FREE FUN GAIN GOLD GOOD HAS HEAR HOME HOPE HUGE ICE INFO IPO ESG JOB JOBS
    KEY KIDS KING LAND LIFE LOVE LOW MAIN MAN MAX MORE MOVE NET NEW NEXT NICE NOTE NOW ONE OPEN OUT PAYS PEAK PLAY
    POST PRO RACE RARE REAL RIDE ROCK ROOT RUN SAFE SAVE SEE SELF SHOP SKY SNOW STAY SUN TAP TEAM TECH TEN TOP TOUR
    TRIP TRUE TWO USA WAVE WELL WIN WING WISH YOU ZIP
""".split()
)
# Company names that are ordinary words once their legal suffix is gone ("Target Corporation" -> "Target").
# "Analysts raise price target on Apple" or "Mind the gap: ..." must not name them, and title-case headlines
# ("Raises Price Target On Apple") defeat any test of capitals alone. Such a name counts only capitalized as the
# company writes it and followed by what only a company has: a possessive ("Target's"), a legal suffix ("Gap
# Inc.") or a word of company news ("Block shares", "Target earnings"); or through the symbol forms. Only the
# tickers an article is tagged with are looked for, so a name left off this list ("Visa", "Oracle") is read as the
# company: in a headline tagged V, a capitalized "Visa" almost always is.
COMMON_WORD_NAMES = frozenset(
    """
    affirm align ball block booking carrier chart chewy compass crown discover dollar equity flex fox gap general
    global grab insight key lucid match mosaic paramount pool post progressive public rocket root snap southern
    square target toast unity upstart wish
""".split()
)
_COMPANY_FOLLOWERS = (
    r"(?:inc|corp|corporation|co|company|ltd|plc|group|holdings|stock|stocks|shares|earnings|revenue|sales|profit|"
    r"results|ceo|cfo|dividend|q[1-4]|quarterly|investors|stores)\b"
)
EXCHANGES = r"(?:NASDAQ|NYSE\s*(?:Arca|American|MKT)?|NYSEARCA|AMEX|CBOE|BATS|OTC(?:QX|QB|MKTS)?|TSX|LSE)"
_SYMBOL = r"[A-Z0-9]+(?:[.\-/][A-Z0-9]+)*"
_MARKED = re.compile(rf"\$({_SYMBOL})(?![\w&])|\(({_SYMBOL})\)|(?<!\w)(?i:{EXCHANGES})\s*:\s*({_SYMBOL})(?![\w&])")

# What a company's listed name carries that headlines drop: share classes, legal forms, a leading "The".
_SHARE_CLASS = re.compile(
    r"[\s,]+(?:class\s+[a-z]|series\s+[a-z]|common\s+stock|ordinary\s+shares|(?:american\s+)?depositary\s+shares?|"
    r"adrs?|ads|units?|warrants?|shares)\.?\s*$",
    re.IGNORECASE,
)
_LEGAL_SUFFIX = re.compile(
    r"(?:\s*,?\s*&\s*|\s*,\s*|\s+)(?:inc|incorporated|corp|corporation|co|company|ltd|limited|l\.?l\.?c|l\.?p|plc|"
    r"n\.?v|s\.?a|a\.?g|se|asa|ab)\.?\s*$",
    re.IGNORECASE,
)
_THE = re.compile(r"^the\s+|\s*(?:\(the\)|,\s*the)$", re.IGNORECASE)  # "The Gap", "Walt Disney Company (The)"
# Trailing words a headline drops from a longer name ("Goldman Sachs Group" -> "Goldman Sachs").
_GROUP_WORDS = frozenset({"group", "holdings", "holding", "companies"})
# Words after a brand that say what kind of company it is ("Meta Platforms" -> "Meta", "Cisco Systems" -> "Cisco").
_DESCRIPTORS = frozenset(
    """
    platforms technologies technology systems software semiconductor semiconductors networks communications
    pharmaceuticals therapeutics biosciences entertainment brands industries enterprises international worldwide
    labs laboratories motor motors interactive solutions
""".split()
)
# First words too generic to stand for the company alone ("United Technologies" is not "United").
_GENERIC_FIRST_WORDS = COMMON_WORD_NAMES | frozenset(
    """
    american first national international new digital advanced applied royal northern western eastern pacific
    atlantic central capital universal standard united
""".split()
)

# Boundaries that work next to '&' and '.' (AT&T, Amazon.com), where \b does not: no word character, '&' or '.'
# before; no word character or '&' after, nor a dot that goes on with a word ("Amazon" inside "Amazon.com").
_BEFORE = r"(?<![\w&.$])"
_AFTER = r"(?![\w&]|\.\w)"


def _stripped(name: str) -> str:
    """The name without share classes, legal suffixes and a leading "The"."""
    text = _THE.sub("", " ".join(name.split()))
    while True:
        shorter = _LEGAL_SUFFIX.sub("", _SHARE_CLASS.sub("", text)).strip(" ,")
        if shorter == text or not shorter:
            break
        text = shorter
    return _THE.sub("", text)


def _is_common_word(alias: str) -> bool:
    return " " not in alias and alias.lower() in COMMON_WORD_NAMES


def aliases(company_name: str | None) -> list[str]:
    """The ways a headline writes the company: 'JPMorgan Chase & Co.' -> ['JPMorgan Chase', 'JPMorgan'],
    'Amazon.com, Inc.' -> ['Amazon.com', 'Amazon'], 'Alphabet Inc. Class A' -> ['Alphabet']."""
    if not isinstance(company_name, str) or not company_name.strip():
        return []
    base = _stripped(company_name)
    found = [base]
    if base.lower().endswith(".com"):
        found.append(base[:-4])
    words = base.split()
    while len(words) > 1 and words[-1].lower() in _GROUP_WORDS and not _is_common_word(" ".join(words[:-1])):
        words = words[:-1]  # "Alibaba Group Holding" -> "Alibaba Group" -> "Alibaba"
        found.append(" ".join(words))
    first = words[0]
    camel_case = first[1:] != first[1:].lower() and first != first.upper()  # JPMorgan, PayPal
    if (
        len(words) > 1
        and first.lower() not in _GENERIC_FIRST_WORDS
        and (camel_case or all(word.lower() in _DESCRIPTORS for word in words[1:]))
    ):
        found.append(first)
    return [alias for alias in dict.fromkeys(found) if len(alias) > 1]


def _alias_body(alias: str) -> str:
    """The alias as a regex: its words apart by any whitespace, a lone '&' also written 'and'."""
    return r"\s+".join(r"(?:&|and)" if word == "&" else re.escape(word) for word in alias.split())


@lru_cache(maxsize=1 << 14)  # compiled once per ticker, kept across the weeks a process scores
def ticker_pattern(symbol: str | None, company_name: str | None) -> re.Pattern[str] | None:
    """The pattern that finds the ticker's bare symbol or its company name in a headline (the marked symbol
    forms are found for all tickers at once, see marked_symbols), or None when there is nothing to find. Python
    compiles a pattern slowly (~0.1 ms, most of the time a week's attribution takes), so each ticker's is kept
    small: one pair of boundaries around the symbol (case-sensitive) and the names (not)."""
    symbols = [re.escape(symbol)] if isinstance(symbol, str) and len(symbol) > 2 else []
    symbols = [] if symbols and symbol.upper() in COMMON_WORD_SYMBOLS else symbols
    names = [_alias_body(alias) for alias in aliases(company_name) if not _is_common_word(alias)]
    plain = symbols + ([f"(?i:{'|'.join(names)})"] if names else [])
    parts = [rf"{_BEFORE}(?:{'|'.join(plain)}){_AFTER}"] if plain else []
    parts += [
        rf"{_BEFORE}{_alias_body(alias)}(?:['’]s\b|(?i:,?\s+{_COMPANY_FOLLOWERS}))"
        for alias in aliases(company_name)
        if _is_common_word(alias)
    ]
    return re.compile("|".join(parts)) if parts else None


def marked_symbols(title: str) -> set[str]:
    """The symbols a headline writes as symbols: '$AAPL', '(AAPL)', 'NASDAQ:AAPL', 'NYSE: AAPL'. Found once per
    headline for all its tickers; a symbol written so counts even when it is a common word ('$NOW')."""
    if not isinstance(title, str):
        return set()
    return {symbol for match in _MARKED.finditer(title) for symbol in match.groups() if symbol}


def title_names(title: str, symbol: str, company_name: str | None) -> bool:
    """Does the headline name this ticker? The symbol as a word (case-sensitive: 'AAPL'; also '$AAPL', '(AAPL)',
    'NASDAQ:AAPL', 'NYSE: AAPL'); or the company name with legal suffixes stripped ('Apple Inc.' -> 'Apple';
    'Alphabet Inc. Class A' -> 'Alphabet'; 'JPMorgan Chase & Co.' -> 'JPMorgan Chase' and 'JPMorgan';
    'Amazon.com, Inc.' -> 'Amazon.com' and 'Amazon'), matched case-insensitively as whole words, possessives
    ("Apple's") included. Symbols that are common words and names that are common words count only in the
    stricter forms described at COMMON_WORD_SYMBOLS and COMMON_WORD_NAMES."""
    if not isinstance(title, str):
        return False
    pattern = ticker_pattern(symbol, company_name if isinstance(company_name, str) else None)
    return symbol in marked_symbols(title) or (pattern is not None and pattern.search(title) is not None)


def _validated(tagged_weight: float | None) -> float | None:
    if tagged_weight is not None and not 0 <= tagged_weight <= 1:  # NaN fails too
        raise ValueError(
            f"{TAGGED_WEIGHT_VARIABLE} must be in [0, 1] (the weight of a ticker tagged but not named); "
            f"got {tagged_weight!r}"
        )
    return tagged_weight


def attribution_weights(named: pd.Series, n_tagged: pd.Series, tagged_weight: float | None = None) -> pd.Series:
    """float64 weight per row: 1.0 where named; else tagged_weight, or 1 / n_tagged when tagged_weight is None.
    A count below one (missing, zero) counts as one ticker."""
    tagged_weight = _validated(tagged_weight)
    is_named = named.astype("boolean").fillna(False).to_numpy(dtype=bool)
    if tagged_weight is None:
        counts = pd.to_numeric(n_tagged, errors="coerce").astype("float64").fillna(1.0).clip(lower=1.0).to_numpy()
        others = 1.0 / counts
    else:
        others = np.full(len(is_named), float(tagged_weight))
    return pd.Series(np.where(is_named, 1.0, others), index=named.index, dtype="float64", name="weight")


def title_attribution(headlines: pd.DataFrame, names: pd.DataFrame, tagged_weight: float | None = None) -> pd.DataFrame:
    """headlines: one row per (article, ticker) with columns title, stocknews_ticker, n_tagged (number of
    distinct tickers the article is tagged with); names: stocknews_ticker, name (the Stock News API ticker
    list's company name; may be missing/NA). Returns `headlines` (same index, same rows) plus columns
    named_in_title (bool) and weight (float64)."""
    tagged_weight = _validated(tagged_weight)
    known = names.dropna(subset=["stocknews_ticker", "name"]).drop_duplicates("stocknews_ticker")
    name_of = dict(zip(known["stocknews_ticker"].astype(str), known["name"].astype(str)))
    titles = headlines["title"].astype(object).to_numpy()
    title_codes, distinct_titles = pd.factorize(titles)  # a week's titles repeat, one per tagged ticker
    marked = [marked_symbols(title) for title in distinct_titles]
    codes, tickers = pd.factorize(headlines["stocknews_ticker"].astype(object))
    named = np.zeros(len(headlines), dtype=bool)
    # Rows grouped by ticker, each group searched with its ticker's one compiled pattern.
    order = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[order], np.arange(len(tickers) + 1))
    for code, ticker in enumerate(map(str, tickers)):
        rows = order[starts[code] : starts[code + 1]]
        pattern = ticker_pattern(ticker, name_of.get(ticker))
        named[rows] = [
            title_code >= 0
            and (ticker in marked[title_code] or (pattern is not None and pattern.search(titles[row]) is not None))
            for row, title_code in zip(rows, title_codes[rows])
        ]
    result = headlines.copy()
    result["named_in_title"] = named
    result["weight"] = attribution_weights(result["named_in_title"], headlines["n_tagged"], tagged_weight).to_numpy()
    return result
