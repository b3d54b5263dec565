"""Generate the packaged sample news (signals_assets/news/sample_data/) and the matching synthetic Numerai
files (signals_assets/numerai/sample_data/) deterministically.

    .venv/bin/python scripts/make_sample_data.py [--out DIR] [--numerai-out DIR]

Everything is invented: companies, symbols, outlets, headlines and URLs (on the reserved `.invalid`
domain). A fixed seed, fixed dates and stdlib-only serialisation (gzip mtime 0, no set iteration)
make two runs byte-identical; the tests compare a fresh run with the packaged files.

Two things real news does that the signal variants handle, built in on purpose:
- Syndicated copies: REPRINTED_STORY_SHARE of the stories get 1-3 reprints by other outlets within 36 hours
  (a few cross into the next week), same tickers, same text, the provider's label again (5 % relabelled), their
  own news_url; a reprint's title is the original's (about 20 %) or has one or two edits: the source credited as
  a suffix (" - Street Wire", " | Market Ledger", " (Trading Floor News)"), Title Case, a punctuation change, or
  one template word swapped for a synonym ("jumps" -> "rises", "third-quarter" -> "Q3"). Reprints count inside
  ARTICLES_PER_WEEK: about a third of a week's items are reprints.
- Articles about one company tagged with others: half of the multi-ticker articles are single-company headlines
  about the first tagged (primary) company that tag 1-4 companies mentioned in passing (mostly competitors); the
  other half name every tagged company.
A title names a company by its symbol (upper case, a whole word: "COPG stock hits ...", "(COPG)") or by its
listed name (tickers.json) with or without its trailing legal suffix (Inc., Corp., Holdings, Co., Group), in any
case ("Copperleaf Genomics", "Copperleaf Genomics Inc."), never by a bare stem ("Copperleaf"); `title_names` is
that rule, and the run fails if any title names other tagged companies than it is meant to. `build` also returns the
`Stories` the items do not show (each item's original, the tickers its title names, a reprint's edits).

Files written:
- articles.json.gz  list of Stock News API `data` items (news_url, image_url, title, text,
                    source_name, date, topics, sentiment, type, tickers)
- tickers.json      {"data": [...]} in the shape of /account/tickersdbv2
- universe.csv      numerai_ticker, bloomberg_ticker ("XYZ US"), a Numerai-like universe
and, into --numerai-out (default signals_assets/numerai/sample_data/, or OUT/numerai with --out), Numerai's
validation, validation_neutralizer, validation_example_preds and live parquet files for the sample weeks,
with a planted relation between the provider's labels and the target (see the "Numerai files" section).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20261010
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "signals_assets" / "news" / "sample_data"

# Partition keys 2026-10-10 .. 2026-11-07: windows [Saturday 00:00 UTC, next Saturday 00:00 UTC).
FIRST_WEEK_START = datetime(2026, 10, 10, tzinfo=timezone.utc)
WEEKS = 5
WEEK = timedelta(days=7)
# US DST ends Sunday 2026-11-01 at 02:00 EDT (06:00 UTC): -0400 before, -0500 after.
DST_END_UTC = datetime(2026, 11, 1, 6, tzinfo=timezone.utc)
EDT, EST = timezone(timedelta(hours=-4)), timezone(timedelta(hours=-5))

NEWS_COMPANIES = 420  # companies with news
UNIVERSE_NEWS_COMPANIES = 340  # of those, in the sample Numerai universe
UNIVERSE_ONLY_COMPANIES = 60  # in the universe, never in the news (20 of them listed by the API)
LISTED_ONLY_COMPANIES = 30  # listed by the API without news, not in the universe
COVERAGE_PROBABILITY = 0.86  # chance a news company gets at least one article of its own in a week
ARTICLES_PER_WEEK = (1700, 1950)
OUTSIDE_ARTICLES = 40  # on each side of the sample weeks, so window filtering matters
VIDEO_SHARE = 0.01  # a few videos: requests ask type=article
MIN_UNIVERSE_TICKERS_WITH_POLAR_NEWS = 300  # contract checked before writing

TICKER_COUNTS = [(1, 0.58), (2, 0.27), (3, 0.09), (4, 0.04), (5, 0.02)]
LABELS = [("Positive", 0.35), ("Negative", 0.28), ("Neutral", 0.37)]
LABEL_MATCHES_WORDING = 0.85  # the provider's label disagrees with the headline now and then
# A multi-ticker article is often about one company and tags peers it mentions in passing: its title names only
# that company. The rest name every tagged company ("X and Y rally", "Top gainers today include X, Y and Z").
PRIMARY_ONLY_TITLE_SHARE = 0.5
IN_PASSING_COUNTS = [(1, 0.35), (2, 0.3), (3, 0.2), (4, 0.15)]
IN_PASSING_SAME_SECTOR = 0.7  # companies mentioned in passing: mostly competitors, known or not
# Syndication: industry measurements put reprints at 30-40 % of news items. A reprinted story's copies come from
# other outlets within hours, tagged alike, labelled by the provider one by one, their titles lightly edited.
REPRINTED_STORY_SHARE = 0.3
REPRINT_COUNTS = [(1, 0.5), (2, 0.3), (3, 0.2)]  # copies of a reprinted story besides its original
REPRINT_DELAY = timedelta(hours=36)  # most copies follow within a few hours: triangular, mode 0
REPRINT_DRAWS = 4  # delays drawn until a copy falls in its original's week, at most
RELABELLED_REPRINT_SHARE = 0.05
EXACT_REPRINT_TITLE_SHARE = 0.2
TWO_VARIATIONS_SHARE = 0.3  # of the edited reprint titles, those with two edits instead of one
VARIATIONS = ("suffix", "case", "punctuation", "synonym")
SUFFIX_FORMS = (" - {}", " | {}", " ({})")  # the source a copy credits, one of OUTLETS
# Every company name ends in one of these; titles drop it 70 % of the time, as real headlines do.
LEGAL_SUFFIXES = ("Inc.", "Corp.", "Holdings", "Co.", "Group")
SMALL_WORDS = {"a", "an", "and", "as", "at", "by", "for", "from", "in", "of", "on", "or", "the", "to", "vs.", "with"}
# One word of a headline template swapped by a reprint (words of the template only: never a company's name).
SYNONYMS = {
    "jump": "rise",
    "jumps": "rises",
    "beats": "tops",
    "tops": "beats",
    "third-quarter": "Q3",
    "soaring": "surging",
    "plunging": "sinking",
    "slide": "fall",
    "climb": "rise",
    "rally": "climb",
    "rallies": "climbs",
    "drop": "fall",
    "fall": "drop",
    "raises": "lifts",
    "lifts": "raises",
    "upgrades": "lifts",
    "downgrades": "cuts",
    "slashes": "cuts",
    "cuts": "slashes",
    "announces": "unveils",
    "reports": "posts",
    "posts": "reports",
    "estimates": "forecasts",
    "outlook": "forecast",
    "guidance": "forecast",
    "profit": "earnings",
    "misses": "falls short of",
    "wins": "secures",
    "warns": "cautions",
    "appoints": "names",
    "names": "appoints",
    "probe": "investigation",
    "recalls": "pulls",
    "biggest": "largest",
    "gainers": "winners",
    "losers": "decliners",
    "acquire": "buy",
    "partnership": "alliance",
    "declares": "announces",
    "completes": "closes",
    "expand": "widen",
    "jobs": "positions",
    "CEO": "chief executive",
    "sinks": "falls",
    "tumbles": "slumps",
}

SECTORS = {
    "Technology": {
        "Semiconductors": ["Semiconductor", "Microdevices", "Silicon"],
        "Software - Application": ["Software", "Analytics", "Digital"],
        "Software - Infrastructure": ["Cloud Systems", "Networks", "Data Systems"],
    },
    "Healthcare": {
        "Biotechnology": ["Therapeutics", "Biosciences", "Genomics"],
        "Medical Devices": ["Medical", "Surgical"],
        "Drug Manufacturers": ["Pharmaceuticals"],
    },
    "Financial Services": {
        "Banks - Regional": ["Bancorp", "Financial"],
        "Insurance": ["Insurance Group", "Assurance"],
        "Asset Management": ["Capital", "Asset Management"],
    },
    "Energy": {
        "Oil & Gas E&P": ["Energy", "Petroleum", "Resources"],
        "Solar": ["Solar"],
    },
    "Consumer Cyclical": {
        "Specialty Retail": ["Stores", "Outfitters"],
        "Restaurants": ["Restaurants", "Kitchen"],
        "Auto Manufacturers": ["Motors", "Automotive"],
    },
    "Consumer Defensive": {
        "Packaged Foods": ["Foods", "Farms"],
        "Beverages": ["Beverage"],
    },
    "Industrials": {
        "Aerospace & Defense": ["Aerospace", "Defense Systems"],
        "Specialty Industrial Machinery": ["Industries", "Machinery"],
        "Trucking": ["Logistics", "Freight"],
    },
    "Real Estate": {"REIT - Diversified": ["Realty", "Properties"]},
    "Utilities": {"Utilities - Regulated Electric": ["Power", "Electric"]},
    "Basic Materials": {
        "Gold": ["Mining", "Gold"],
        "Specialty Chemicals": ["Chemicals", "Materials"],
    },
    "Communication Services": {
        "Entertainment": ["Media", "Entertainment"],
        "Telecom Services": ["Telecom", "Wireless"],
    },
}
STEMS = """Apex Arbor Atlas Beacon Birchwood Blue_Ridge Boulder Bridgeview Brightwater Cardinal Cascade Cedar
Clearwater Cobalt Coastal Crescent Crestline Driftwood Eagle_Point Elmstone Evergreen Falcon Fairview Frontier
Glacier Granite Harbor Harvest Hawthorne Highland Horizon Hudson Ironwood Juniper Keystone Lakeshore Larkspur
Lighthouse Magnolia Maplecrest Meridian Mesa Midland Monarch Northgate Northstar Oakmont Onyx Paragon Peakview
Pinnacle Pioneer Prairie Quarry Redwood Ridgeline Riverbend Sable Sequoia Sierra Silverline Skyline Sterling
Stonebridge Summit Sunridge Tidewater Timberline Trident Union Valley Verdant Westfield Willow Yellowstone
Zephyr Amber Aspen Bayview Canyon Copperleaf Cypress Emberly Foxglove Goldcrest Greystone Heron Indigo
Kestrel Lantern Marlin Nimbus Orchard Osprey Pebble Quill Rainier Saffron Starling Tamarack Thistle Vantage Wren"""
STEM_LIST = [stem.replace("_", " ") for stem in STEMS.split()]  # "_" joins two-word stems
EXCHANGES = [("NASDAQ", 0.55), ("NYSE", 0.4), ("NYSE American", 0.05)]

OUTLETS = [
    "Market Ledger",
    "Street Wire",
    "Equity Desk",
    "Capital Brief",
    "The Ticker Tape",
    "Wall Street Pulse",
    "Investor Daily Digest",
    "Trading Floor News",
    "Quarterly Signal",
    "Bullpen Report",
    "Dividend Watch",
    "Sector Scope",
]
PAYWALLED_OUTLETS = {"Capital Brief", "Quarterly Signal"}
BROKERS = [
    "Hartwell Securities",
    "Morgan Crest",
    "Bayard & Co.",
    "Linden Partners",
    "Keel Capital Markets",
    "Norwood Research",
    "Ashford Brothers",
    "Pemberton Advisors",
]
PRODUCTS = {  # noun phrases that read after "demand for" / "sales on" / "makes money from"
    "Technology": ["data-center chips", "cloud software", "AI servers", "network equipment"],
    "Healthcare": ["its lead drug", "surgical robots", "diagnostic tests", "new therapies"],
    "Financial Services": ["commercial loans", "wealth management", "auto insurance", "mortgages"],
    "Energy": ["natural gas", "crude oil", "solar panels", "liquefied natural gas"],
    "Consumer Cyclical": ["electric vehicles", "apparel", "home furnishings", "restaurant delivery"],
    "Consumer Defensive": ["packaged snacks", "sparkling beverages", "frozen foods", "pet food"],
    "Industrials": ["aircraft parts", "freight services", "industrial equipment", "defense electronics"],
    "Real Estate": ["office space", "warehouse leases", "apartment rentals", "data-center space"],
    "Utilities": ["electricity", "grid upgrades", "renewable power", "natural gas delivery"],
    "Basic Materials": ["specialty chemicals", "gold", "copper", "lithium"],
    "Communication Services": ["streaming subscriptions", "wireless plans", "advertising", "broadband"],
}

# (headline, topics). Fields: name, ticker, peer, names, pct, bn, mn, bank, target, product, dps, date (and short,
# the bare stem, in TEXTS only). A title names a company by {name} / {peer} / {names} (its listed name, the legal
# suffix dropped 70 % of the time for {name}) or by {ticker}: the forms title attribution recognizes.
SINGLE_HEADLINES = {
    "Positive": [
        ("{name} shares jump {pct}% after third-quarter revenue tops estimates", ["earnings"]),
        ("{name} raises full-year outlook as demand for {product} holds up", ["earnings", "guidance"]),
        ("{bank} upgrades {name} to Buy, sees {pct}% upside", ["upgrades"]),
        ("{name} announces ${bn} billion share buyback", ["buyback"]),
        ("{ticker} stock hits 52-week high on strong order backlog", []),
        ("{name} beats on earnings and lifts dividend", ["earnings", "dividend"]),
        ("Why {name} ({ticker}) stock is soaring today", []),
        ("{name} wins ${mn} million contract, shares climb", ["contracts"]),
        ("{name} margins expand as cost cuts pay off", ["earnings"]),
        ("{bank} raises {name} price target to ${target}, reiterates Outperform", ["upgrades"]),
        ("{name} posts record quarterly sales on {product}", ["earnings"]),
        ("{name} rallies after FDA clears key product", ["product"]),
        ("3 reasons to buy {name} ({ticker}) stock now", []),
        ("{name} reports better-than-expected profit, guides higher", ["earnings", "guidance"]),
        ("Is {name} the top growth stock to own this quarter?", []),
    ],
    "Negative": [
        ("{name} shares slide {pct}% after guidance cut", ["guidance"]),
        ("{name} misses third-quarter estimates as costs climb", ["earnings"]),
        ("{bank} downgrades {name} to Underperform on slowing growth", ["downgrades"]),
        ("{name} faces SEC probe over revenue accounting", ["lawsuit"]),
        ("{ticker} stock sinks to 52-week low", []),
        ("{name} recalls products after safety complaints", ["product"]),
        ("Why {name} ({ticker}) stock is plunging today", []),
        ("{name} cuts {mn} jobs as demand for {product} weakens", ["management"]),
        ("{name} suspends dividend to preserve cash", ["dividend"]),
        ("{bank} slashes {name} ({ticker}) price target to ${target}", ["downgrades"]),
        ("{name} CEO resigns abruptly; shares fall", ["management"]),
        ("{name} warns of wider loss on supply disruptions", ["guidance"]),
        ("{name} tumbles after losing ${mn} million contract", ["contracts"]),
        ("Short sellers circle {name} as margins shrink", []),
        ("{name} hit with class-action lawsuit over disclosures", ["lawsuit"]),
    ],
    "Neutral": [
        ("{name} to report third-quarter results on {date}", ["earnings"]),
        ("{name} declares quarterly dividend of ${dps} per share", ["dividend", "PressRelease"]),
        ("{name} appoints new chief financial officer", ["management", "PressRelease"]),
        ("{name} to present at investor conference next week", ["PressRelease"]),
        ("What to expect from {name}'s earnings call", ["earnings"]),
        ("{name} ({ticker}) stock: is it a buy, sell or hold?", []),
        ("{name} completes previously announced debt offering", ["PressRelease"]),
        ("{ticker} holds annual shareholder meeting", ["PressRelease"]),
        ("{name} files quarterly report with the SEC", []),
        ("How {name} makes money from {product}", []),
        ("{name} shares trade flat ahead of Fed decision", []),
        ("{name} names new board member", ["management"]),
    ],
}
MULTI_HEADLINES = {
    "Positive": [
        ("Stocks making the biggest moves higher: {names}", []),
        ("{name} and {peer} rally as sector earnings impress", ["earnings"]),
        ("{name} and {peer} sign partnership on {product}, shares rise", ["contracts"]),
        ("Top gainers today include {names}", []),
    ],
    "Negative": [
        ("Stocks making the biggest moves lower: {names}", []),
        ("{name} and {peer} drop as sector outlook dims", ["guidance"]),
        ("{name} ends talks with {peer}; both stocks fall", ["mergers"]),
        ("Biggest losers today include {names}", []),
    ],
    "Neutral": [
        ("{name} vs. {peer}: which stock is the better buy?", []),
        ("Earnings calendar this week: {names}", ["earnings"]),
        ("{name} to acquire {peer} unit in ${bn} billion deal", ["mergers"]),
        ("Analysts weigh in on {names} ahead of results", []),
    ],
}
TEXTS = {
    "Positive": [
        "{name} ({ticker}) said demand for {product} remained strong. The shares were up {pct}% in afternoon trading.",
        "Analysts at {bank} see further upside for {short} after a solid quarter and an improving margin outlook.",
        "{short} delivered results ahead of consensus and raised guidance, sending the stock higher.",
    ],
    "Negative": [
        "{name} ({ticker}) cited weaker demand for {product}. The shares fell {pct}% in morning trading.",
        "Analysts at {bank} turned cautious on {short}, pointing to rising costs and a softer outlook.",
        "{short} disappointed investors with results below expectations and a lower forecast.",
    ],
    "Neutral": [
        "{name} ({ticker}) shared an update for investors. The company did not change its outlook.",
        "Here is what investors should know about {short} before the next report.",
        "{name} released the announcement before the market opened.",
    ],
}


@dataclass(frozen=True)
class Company:
    ticker: str
    name: str
    short: str
    sector: str
    industry: str
    exchange: str
    ipo_date: str


def weighted(rng: random.Random, pairs):
    values, weights = zip(*pairs)
    return rng.choices(values, weights=weights, k=1)[0]


def make_companies(rng: random.Random, count: int) -> list[Company]:
    suffixes = [
        (suffix, sector, industry)
        for sector, industries in SECTORS.items()
        for industry, names in industries.items()
        for suffix in names
    ]
    companies: list[Company] = []
    names: dict[str, None] = {}
    symbols: dict[str, None] = {}
    while len(companies) < count:
        stem = rng.choice(STEM_LIST)
        suffix, sector, industry = rng.choice(suffixes)
        name = f"{stem} {suffix}"
        if name in names:
            continue
        ticker = next(sym for sym in symbol_candidates(rng, stem, suffix) if sym not in symbols)
        names[name] = None
        symbols[ticker] = None
        ipo = datetime(1985, 1, 1) + timedelta(days=rng.randrange(0, 365 * 40))
        legal = rng.choice(["Inc.", "Corp.", "Holdings", "Inc.", "Co.", "Group"])
        if legal == "Group" and name.endswith(" Group"):  # no "Insurance Group Group"
            legal = "Holdings"
        companies.append(
            Company(
                ticker,
                f"{name} {legal}",
                stem,
                sector,
                industry,
                weighted(rng, EXCHANGES),
                ipo.strftime("%Y-%m-%d"),
            )
        )
    return companies


def symbol_candidates(rng: random.Random, stem: str, suffix: str):
    """Plausible exchange symbols from the name, then random ones until one is free."""
    s = re.sub("[^A-Z]", "", stem.upper())
    f = re.sub("[^A-Z]", "", suffix.upper())
    yield from (s[:3] + f[0], s[:4], s[:2] + f[:2], s[0] + f[:3], s[:3], s[0] + s[2] + f[0], s[:2] + f[0])
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    while True:
        yield s[0] + "".join(rng.choice(letters) for _ in range(rng.choice([2, 3])))


def headline_choices(tone: str, tickers: int) -> list[tuple[str, list[str]]]:
    """Headlines that name `tickers` companies: one name, two ({name}, {peer}), or a list ({names})."""
    if tickers == 1:
        return SINGLE_HEADLINES[tone]
    if tickers == 2:
        return MULTI_HEADLINES[tone]
    return [entry for entry in MULTI_HEADLINES[tone] if "{names}" in entry[0]]


def eastern(instant: datetime) -> datetime:
    return instant.astimezone(EDT if instant < DST_END_UTC else EST)


def rfc2822(instant: datetime) -> str:
    return format_datetime(eastern(instant))


def draw_instant(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A publication instant in [start, end): business hours Eastern, quieter weekends."""
    days = (end - start).days + 2
    while True:
        local_day = eastern(start).replace(hour=0, minute=0, second=0) + timedelta(days=rng.randrange(-1, days))
        weekend = local_day.weekday() >= 5
        if weekend and rng.random() > 0.3:
            continue
        hour = weighted(
            rng,
            [(h, 0.2) for h in range(0, 6)]
            + [(h, 2.0) for h in range(6, 10)]
            + [(h, 1.2) for h in range(10, 16)]
            + [(h, 1.6) for h in range(16, 19)]
            + [(h, 0.5) for h in range(19, 24)],
        )
        local = local_day.replace(hour=hour, minute=rng.randrange(60), second=rng.choice([0, 0, 0, rng.randrange(60)]))
        # Re-attach the offset that is right for that wall time (the day's offset may differ across DST).
        naive = local.replace(tzinfo=None)
        instant = naive.replace(tzinfo=EDT if naive < datetime(2026, 11, 1, 1) else EST).astimezone(timezone.utc)
        if start <= instant < end:
            return instant


@dataclass(frozen=True)
class Stories:
    """What the items do not say about themselves, keyed by news_url: the original each item copies (an original
    is its own), the tagged symbols its title names (in tag order), and for a reprint how its title differs from
    the original's (() for the same title)."""

    original: dict[str, str]
    named: dict[str, tuple[str, ...]]
    variations: dict[str, tuple[str, ...]]


class ArticleWriter:
    """Builds API items and remembers their stories; serial numbers keep URLs unique."""

    def __init__(self, rng: random.Random, companies: list[Company], popularity: list[float]):
        self.rng = rng
        self.companies = companies
        self.popularity = popularity
        self.by_sector: dict[str, list[int]] = {}
        for index, company in enumerate(companies):
            self.by_sector.setdefault(company.sector, []).append(index)
        self.serial = 0
        self.stories = Stories({}, {}, {})
        self.drafts: dict[str, tuple[str, dict]] = {}  # original's news_url -> (headline template, fields)

    def story(self, instant: datetime, window_end: datetime, primary: int | None = None) -> list[dict]:
        """An original and, for REPRINTED_STORY_SHARE of the stories (videos never), its reprints by other outlets."""
        original = self.article(instant, primary)
        if original["type"] != "Article" or self.rng.random() >= REPRINTED_STORY_SHARE:
            return [original]
        return [original, *self.reprints(original, weighted(self.rng, REPRINT_COUNTS), window_end)]

    def article(self, instant: datetime, primary: int | None = None, video_allowed: bool = True) -> dict:
        rng = self.rng
        if primary is None:
            primary = rng.choices(range(len(self.companies)), weights=self.popularity, k=1)[0]
        count = weighted(rng, TICKER_COUNTS)
        primary_only = count > 1 and rng.random() < PRIMARY_ONLY_TITLE_SHARE
        if primary_only:
            count = 1 + weighted(rng, IN_PASSING_COUNTS)
        picked = self.pick_tickers(primary, count, primary_only)
        label = weighted(rng, LABELS)
        tone = label if rng.random() < LABEL_MATCHES_WORDING else rng.choice([x for x, _ in LABELS if x != label])
        first = self.companies[picked[0]]
        fields = self.fields(first, picked, instant)
        named = picked[:1] if primary_only else picked
        headline, topics = rng.choice(headline_choices(tone, len(named)))
        kind = "Video" if video_allowed and rng.random() < VIDEO_SHARE else "Article"
        item = self.item(
            instant,
            headline.format(**fields),
            rng.choice(TEXTS[tone]).format(**fields),
            rng.choice(OUTLETS),
            list(topics),
            label,
            kind,
            [self.companies[index].ticker for index in picked],
        )
        url = item["news_url"]
        self.stories.original[url] = url
        self.stories.named[url] = tuple(self.companies[index].ticker for index in named)
        self.drafts[url] = (headline, fields)
        return item

    def reprints(self, original: dict, count: int, window_end: datetime) -> list[dict]:
        """`count` copies of `original` by other outlets within REPRINT_DELAY, same tickers, same text."""
        rng = self.rng
        headline, fields = self.drafts[original["news_url"]]
        published = parse_instant(original["date"])
        items = []
        for outlet in rng.sample([name for name in OUTLETS if name != original["source_name"]], count):
            # Copies mostly land in the original's week: a few redraws still leave some across its end, as in
            # real news, where a Friday story's copies run into the weekend.
            for _ in range(REPRINT_DRAWS):
                delay = rng.triangular(0, REPRINT_DELAY.total_seconds(), 0)
                if published + timedelta(seconds=delay) < window_end:
                    break
            label = original["sentiment"]
            if rng.random() < RELABELLED_REPRINT_SHARE:  # the provider labels every copy on its own
                label = rng.choice([x for x, _ in LABELS if x != label])
            title, kinds = reprint_title(rng, headline, fields, original["source_name"])
            item = self.item(
                published + timedelta(seconds=round(delay)),
                title,
                original["text"],
                outlet,
                original["topics"],
                label,
                "Article",
                original["tickers"],
            )
            url = item["news_url"]
            self.stories.original[url] = original["news_url"]
            self.stories.named[url] = self.stories.named[original["news_url"]]
            self.stories.variations[url] = kinds
            items.append(item)
        return items

    def item(
        self,
        instant: datetime,
        title: str,
        text: str,
        outlet: str,
        topics: list[str],
        label: str,
        kind: str,
        tickers: list[str],
    ) -> dict:
        self.serial += 1
        local = eastern(instant)
        slug = "-".join(re.sub(r"[^a-z0-9 ]", "", title.lower()).split()[:8])
        outlet_slug = outlet.lower().replace(" ", "-")
        paywall = ["paywall"] if outlet in PAYWALLED_OUTLETS else []
        topics = [topic for topic in topics if topic != "paywall"] + paywall  # a copy's outlet decides
        return {
            "news_url": f"https://sample-news.invalid/{outlet_slug}/{local:%Y/%m/%d}/{slug}-{self.serial:06d}",
            "image_url": f"https://sample-news.invalid/images/{self.serial:06d}.jpg",
            "title": title,
            "text": text,
            "source_name": outlet,
            "date": rfc2822(instant),
            "topics": topics,
            "sentiment": label,
            "type": kind,
            "tickers": list(tickers),
        }

    def pick_tickers(self, primary: int, count: int, in_passing: bool = False) -> list[int]:
        """The primary company and count - 1 others: those a title names draw attention as the primary does;
        those `in_passing` (competitors an article about the primary mentions) are mostly any of its sector."""
        rng = self.rng
        picked = [primary]
        while len(picked) < count:
            same_sector = rng.random() < (IN_PASSING_SAME_SECTOR if in_passing else 0.6)
            peers = list(self.by_sector[self.companies[primary].sector] if same_sector else range(len(self.companies)))
            flat = in_passing and same_sector
            candidate = rng.choices(peers, weights=[1.0 if flat else self.popularity[i] for i in peers], k=1)[0]
            if candidate not in picked:
                picked.append(candidate)
        return picked

    def fields(self, first: Company, picked: list[int], instant: datetime) -> dict:
        rng = self.rng
        names = [self.companies[index].name for index in picked]
        report_day = eastern(instant) + timedelta(days=rng.randrange(3, 20))
        return {
            "name": bare_name(first.name) if rng.random() < 0.7 else first.name,
            "short": first.short,
            "ticker": first.ticker,
            "peer": self.companies[picked[1]].name if len(picked) > 1 else "",
            "names": ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0],
            "pct": f"{rng.uniform(1.5, 18):.1f}",
            "bn": f"{rng.choice([0.5, 1, 1.5, 2, 2.5, 3, 5, 7.5, 10])}",
            "mn": f"{rng.choice([40, 75, 120, 250, 400, 650, 900])}",
            "bank": rng.choice(BROKERS),
            "target": f"{rng.randrange(12, 480)}",
            "product": rng.choice(PRODUCTS[first.sector]),
            "dps": f"{rng.uniform(0.05, 1.6):.2f}",
            "date": f"{report_day:%B} {report_day.day}",
        }


# --- reprint titles: edits of the original's headline template, never of a company's name ------------------
PLACEHOLDER = re.compile(r"\{[^}]*\}")
SYNONYM_WORD = re.compile(
    r"(?<![\w-])(" + "|".join(re.escape(word) for word in sorted(SYNONYMS, key=len, reverse=True)) + r")(?![\w-])"
)
# (pattern, replacement) pairs a copy editor applies. The hyphen edit spares "third-quarter", a SYNONYMS key, so
# that a title can take both a synonym and a punctuation edit.
PUNCTUATION_EDITS = (
    (re.compile(r", "), " - "),
    (re.compile(r"; "), " - "),
    (re.compile(r": "), " - "),
    (re.compile(r"\?$"), ""),
    (re.compile(r"'"), "\u2019"),
    (re.compile(r" and "), " & "),
    (re.compile(r"(?<=[0-9a-z])-(?=[a-z])(?<!third-)"), " "),
)


def literal_spots(template: str, pattern: re.Pattern) -> list[re.Match]:
    """Matches of `pattern` in the template's own words, outside its {fields}."""
    fields = [(m.start(), m.end()) for m in PLACEHOLDER.finditer(template)]
    return [m for m in pattern.finditer(template) if not any(a < m.end() and m.start() < b for a, b in fields)]


def swapped_synonym(rng: random.Random, template: str) -> str:
    spot = rng.choice(literal_spots(template, SYNONYM_WORD))
    return template[: spot.start()] + SYNONYMS[spot.group(0)] + template[spot.end() :]


def punctuated(rng: random.Random, template: str) -> str:
    pattern, replacement = rng.choice([edit for edit in PUNCTUATION_EDITS if literal_spots(template, edit[0])])
    spot = rng.choice(literal_spots(template, pattern))
    return template[: spot.start()] + replacement + template[spot.end() :]


def title_case(title: str) -> str:
    """Headline Title Case: each word's first letter (and after a hyphen or parenthesis) upper case, short
    words lower case past the first; the rest of a word as it was, so symbols and names keep their case."""
    words = title.split(" ")
    return " ".join(
        word
        if index and word in SMALL_WORDS
        else re.sub(r"(^|[-(])([a-z])", lambda m: m.group(1) + m.group(2).upper(), word)
        for index, word in enumerate(words)
    )


def reprint_title(rng: random.Random, headline: str, fields: dict, credited: str) -> tuple[str, tuple[str, ...]]:
    """A reprint's title and its edits: the original's title (EXACT_REPRINT_TITLE_SHARE), else one or two of a
    credited source as suffix, Title Case, a punctuation change and one word swapped for a synonym."""
    if rng.random() < EXACT_REPRINT_TITLE_SHARE:
        return headline.format(**fields), ()
    possible = ["suffix", "case"]
    if any(literal_spots(headline, pattern) for pattern, _ in PUNCTUATION_EDITS):
        possible.append("punctuation")
    if literal_spots(headline, SYNONYM_WORD):
        possible.append("synonym")
    chosen = rng.sample(possible, 2 if rng.random() < TWO_VARIATIONS_SHARE else 1)
    kinds = tuple(kind for kind in VARIATIONS if kind in chosen)
    template = swapped_synonym(rng, headline) if "synonym" in kinds else headline
    template = punctuated(rng, template) if "punctuation" in kinds else template
    title = template.format(**fields)
    title = title_case(title) if "case" in kinds else title
    title = title + rng.choice(SUFFIX_FORMS).format(credited) if "suffix" in kinds else title
    return title, kinds


def bare_name(name: str) -> str:
    """A listed company name without its trailing legal suffix: how titles name it (and attribution finds it)."""
    stem, _, last = name.rpartition(" ")
    return stem if stem and last in LEGAL_SUFFIXES else name


def title_names(title: str, symbol: str, name: str) -> bool:
    """Whether `title` names the company as title attribution is to recognize it: its symbol as a whole word, case
    kept, or its listed name without the trailing legal suffix as whole words, any case."""
    if re.search(rf"(?<!\w){re.escape(symbol)}(?!\w)", title):
        return True
    return re.search(rf"(?<!\w){re.escape(bare_name(name))}(?!\w)", title, re.IGNORECASE) is not None


def build(rng: random.Random) -> tuple[list[dict], list[dict], list[list[str]], dict[str, str], Stories]:
    total = NEWS_COMPANIES + UNIVERSE_ONLY_COMPANIES + LISTED_ONLY_COMPANIES
    companies = make_companies(rng, total)
    news = companies[:NEWS_COMPANIES]
    universe_only = companies[NEWS_COMPANIES : NEWS_COMPANIES + UNIVERSE_ONLY_COMPANIES]
    listed_only = companies[NEWS_COMPANIES + UNIVERSE_ONLY_COMPANIES :]
    # Zipf-like attention: a few names dominate the news (multi-page per-ticker streams), most are quiet.
    popularity = [1 / (rank + 2) ** 0.85 for rank in range(len(news))]
    writer = ArticleWriter(rng, news, popularity)

    articles: list[dict] = []
    for week in range(WEEKS):
        start = FIRST_WEEK_START + week * WEEK
        end = start + WEEK
        target = rng.randrange(*ARTICLES_PER_WEEK)  # reprints included
        # Coverage first, so that nearly every company has news every week; then attention-weighted news.
        week_articles = []
        for index in range(len(news)):
            if rng.random() < COVERAGE_PROBABILITY:
                week_articles += writer.story(draw_instant(rng, start, end), end, primary=index)
        while len(week_articles) < target:
            week_articles += writer.story(draw_instant(rng, start, end), end)
        articles.extend(week_articles)
    boundaries = [FIRST_WEEK_START + week * WEEK for week in range(WEEKS + 1)]
    for boundary in boundaries:  # right at the window edges: 1 s before is in, the edge itself is out
        articles.append(writer.article(boundary - timedelta(seconds=1), video_allowed=False))
        articles.append(writer.article(boundary, video_allowed=False))
    for start, end in (
        (boundaries[0] - timedelta(days=3), boundaries[0]),
        (boundaries[-1], boundaries[-1] + timedelta(days=3)),
    ):
        articles.extend(writer.article(draw_instant(rng, start, end)) for _ in range(OUTSIDE_ARTICLES))

    universe_companies = news[:UNIVERSE_NEWS_COMPANIES] + universe_only
    universe = sorted([[f"{c.ticker} US", f"{c.ticker} US"] for c in universe_companies])
    listed = [(c, True) for c in news] + [(c, False) for c in universe_only[:20] + listed_only]
    tickers = sorted((ticker_item(company, has_news) for company, has_news in listed), key=lambda item: item["ticker"])
    sectors = {f"{c.ticker} US": c.sector for c in universe_companies}  # for the Numerai neutralizer
    return articles, tickers, universe, sectors, writer.stories


def ticker_item(company: Company, has_news: bool) -> dict:
    return {
        "ticker": company.ticker,
        "name": company.name,
        "country": "USA",
        "industry": company.industry,
        "sector": company.sector,
        "has_news": has_news,
        "ipo_date": company.ipo_date,
        "exchange": company.exchange,
    }


def check_contract(articles: list[dict], tickers: list[dict], universe: list[list[str]], stories: Stories) -> list[str]:
    """Per sample week: articles, reprints and universe tickers with Positive/Negative articles; fails loudly below
    the floor, or when a title does not name exactly the tagged companies it is meant to (by `title_names`)."""
    names = {item["ticker"]: item["name"] for item in tickers}
    for article in articles:
        found = tuple(t for t in dict.fromkeys(article["tickers"]) if title_names(article["title"], t, names[t]))
        if found != stories.named[article["news_url"]]:
            raise SystemExit(
                f"{article['title']!r} names {found} by symbol or name, meant to name "
                f"{stories.named[article['news_url']]} of {article['tickers']}; change the template or the names."
            )
    in_universe = {row[0].split(" ")[0] for row in universe}
    lines = []
    for week in range(WEEKS):
        start = FIRST_WEEK_START + week * WEEK
        end = start + WEEK
        inside = [a for a in articles if a["type"] == "Article" and start <= parse_instant(a["date"]) < end]
        polar = {t for a in inside if a["sentiment"] != "Neutral" for t in a["tickers"] if t in in_universe}
        if len(polar) < MIN_UNIVERSE_TICKERS_WITH_POLAR_NEWS:
            raise SystemExit(
                f"Week {start:%Y-%m-%d}: only {len(polar)} universe tickers with non-neutral news "
                f"(need {MIN_UNIVERSE_TICKERS_WITH_POLAR_NEWS}); raise COVERAGE_PROBABILITY or ARTICLES_PER_WEEK."
            )
        reprints = sum(stories.original[a["news_url"]] != a["news_url"] for a in inside)
        multi = [a for a in inside if len(a["tickers"]) > 1]
        primary_only = sum(len(stories.named[a["news_url"]]) == 1 for a in multi)
        lines.append(
            f"week {start:%Y-%m-%d}: {len(inside)} articles ({reprints / len(inside):.1%} reprints, "
            f"{len(multi)} multi-ticker of which {primary_only} name only the primary company), "
            f"{len(polar)} universe tickers with polar news"
        )
    reprinted = list(stories.variations)
    kinds = {kind: sum(kind in stories.variations[url] for url in reprinted) for kind in VARIATIONS}
    exact = sum(not stories.variations[url] for url in reprinted)
    lines.append(
        f"{len(reprinted)} reprints: {exact / len(reprinted):.0%} exact titles; edits "
        + ", ".join(f"{kind} {count}" for kind, count in kinds.items())
    )
    return lines


def parse_instant(raw: str) -> datetime:
    return parsedate_to_datetime(raw).astimezone(timezone.utc)


def write(out: Path, articles: list[dict], tickers: list[dict], universe: list[list[str]]) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    # mtime=0 and no file name in the gzip header: identical input gives identical bytes.
    payload = json.dumps(articles, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    files = {
        "articles.json.gz": gzip.compress(payload, compresslevel=9, mtime=0),
        "tickers.json": (json.dumps({"data": tickers}, ensure_ascii=False, indent=1) + "\n").encode("utf-8"),
        "universe.csv": universe_csv(universe),
    }
    for name, content in files.items():
        (out / name).write_bytes(content)
    return [out / name for name in files]


def universe_csv(universe: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["numerai_ticker", "bloomberg_ticker"])
    writer.writerows(universe)
    return buffer.getvalue().encode("utf-8")


# --- Numerai files -------------------------------------------------------------------------------------
"""Synthetic Numerai Signals files for the sample weeks (signals_assets/numerai/sample_data/).

Numerai's own names and schema, read by signals_assets.numerai.datasets.NumeraiFiles(data_dir=...):
- validation.parquet                numerai_ticker, date, feature_* (5 buckets), target, target_jupiter_60
                                    (the same values: the v3.1 and v3.0 names of the main target) and
                                    target_chili_60 (an auxiliary target with its own noise)
- validation_neutralizer.parquet    numerai_ticker, date, neutralizer_sector_* one-hots and three random
                                    exposures (neutralizer_beta, neutralizer_size, neutralizer_momentum)
- validation_example_preds.parquet  numerai_ticker, date, signal in (0, 1)
- live.parquet                      numerai_ticker, date, feature_*: the universe on the latest Friday
Every universe ticker is on every sample Friday (partition key + 6 days: 2026-10-16 .. 2026-11-13). Dates
are timestamp[ns] at midnight, no zone; each file has one row group per date (sorted by ticker) so that
per-date reads touch one row group; snappy, no pandas metadata, fixed seed: byte-identical reruns.

Targets are Numerai's 5 buckets {0, 0.25, 0.5, 0.75, 1} (5/20/50/20/5 % of each date). The latest
Friday's targets are all NaN: a 60-day target resolves about 13 weeks later, so the latest sample week is
'pending' as a real unresolved week is, and only the first four weeks score.

The planted relation, so that the demo's provider-label signals score above zero and a signal that counts
stories once and attributes by title scores higher: each ticker-week's latent return is TARGET_LABEL_LEAN x
(the ticker's mean provider label over its STORIES of the week: Positive +1, Negative -1, Neutral stories left
out as drop_neutral leaves them out; a story counts once, by its original (type Article, published in the UTC
window [Saturday, next Saturday), its label), weighted 1 when its title names the ticker and 1 / (number of
tickers tagged) when it only tags it; 0 for tickers without such news) + a risk part (TARGET_RISK_LOAD x
neutralizer_beta + a weekly sector shock) + idiosyncratic noise N(0, 1), then bucketed. This is exactly what
a "provider labels, stories once, title attribution" signal computes: an advantage planted for collapsing
and attribution, not a finding. The neutralizer exposures are drawn independently of the news, so
neutralizing does not remove the lean.

Measured on the four resolved weeks (printed by the script), Pearson (Spearman) of the target with
- the plain mean label over every non-Neutral item of the week (what the plain provider_labels signal sees;
  304-321 tickers a week): 0.17 (0.17), 0.18 (0.16), 0.13 (0.14), 0.17 (0.18); pooled 0.16 (0.16);
- the planted stories/attribution mean: 0.20 (0.19), 0.17 (0.15), 0.20 (0.21), 0.19 (0.20); pooled 0.19 (0.18).
With ~315 tickers a week one week's correlation has a standard error of about 0.055, and the two means
correlate about 0.92 across tickers (labels are drawn per story, so copies and passing mentions shift a mean
only so far): the plain signal keeps most of the planted correlation, and one week in four it ties. The
example predictions load on momentum and on a slice of the idiosyncratic noise (some skill, none from the
news), so the baseline also has room for a positive contribution against them.
"""

DEFAULT_NUMERAI_OUT = Path(__file__).resolve().parents[1] / "signals_assets" / "numerai" / "sample_data"
NUMERAI_SEED = SEED + 60
FRIDAY_OFFSET = timedelta(days=6)  # partition key (a Saturday) -> its week's Friday
TARGET_BUCKETS = [(0.0, 0.05), (0.25, 0.20), (0.5, 0.50), (0.75, 0.20), (1.0, 0.05)]
FEATURE_BUCKETS = [(value, 0.2) for value in (0.0, 0.25, 0.5, 0.75, 1.0)]
TARGET_LABEL_LEAN = 0.35  # latent return per unit of mean provider label
TARGET_RISK_LOAD = 0.3  # latent return per unit of neutralizer_beta
SECTOR_SHOCK = 0.3  # sd of the weekly return of each sector
EXAMPLE_SKILL = 0.25  # share of the idiosyncratic return the example predictions see
NUMERAI_FILES = ("validation.parquet", "validation_neutralizer.parquet", "validation_example_preds.parquet")
LIVE_FILE = "live.parquet"
FEATURES = ("feature_momentum_20d", "feature_volatility_60d", "feature_value", "feature_size")
EXPOSURES = ("beta", "size", "momentum")


def label_means(
    articles: list[dict], universe: list[list[str]], stories: Stories | None = None
) -> list[dict[str, float]]:
    """Per sample week: numerai_ticker -> mean provider label (Positive +1, Negative -1) of its non-Neutral items
    of type Article published in the week's UTC window.

    Without `stories`: every item at weight 1 (what the plain provider_labels signal sees). With `stories`: each
    story once, by its original (its window, its label; copies ignored), at weight 1 for a ticker its title names
    and 1 / (number of tickers tagged) for a ticker it only tags (provider labels, stories once, title
    attribution): the mean the targets lean on."""
    in_universe = {row[0] for row in universe}
    weeks: list[dict[str, float]] = []
    for week in range(WEEKS):
        start = FIRST_WEEK_START + week * WEEK
        end = start + WEEK
        sums: dict[str, list[float]] = {}  # ticker -> [weighted label sum, weight sum]
        for article in articles:
            if article["type"] != "Article" or article["sentiment"] == "Neutral":
                continue
            if stories is not None and stories.original[article["news_url"]] != article["news_url"]:
                continue
            if not start <= parse_instant(article["date"]) < end:
                continue
            score = 1.0 if article["sentiment"] == "Positive" else -1.0
            tagged = list(dict.fromkeys(article["tickers"]))
            named = stories.named[article["news_url"]] if stories is not None else tagged
            for symbol in tagged:
                ticker = f"{symbol} US"
                if ticker in in_universe:
                    weight = 1.0 if symbol in named else 1.0 / len(tagged)
                    total = sums.setdefault(ticker, [0.0, 0.0])
                    total[0] += weight * score
                    total[1] += weight
        weeks.append({ticker: total / weight for ticker, (total, weight) in sorted(sums.items())})
    return weeks


def correlations(means: dict[str, float], tickers: list[str], target: list[float]) -> tuple[pd.Series, pd.Series]:
    """The label means and targets of the tickers that have a mean."""
    polar = [i for i, t in enumerate(tickers) if t in means]
    return pd.Series([means[tickers[i]] for i in polar]), pd.Series([target[i] for i in polar])


def buckets(values: list[float], shares: list[tuple[float, float]]) -> list[float]:
    """Rank `values` into buckets holding the given shares (Numerai's target and feature bucketing): the lowest
    round(cumulative share x n) values (ties in input order) fall in the first bucket, and so on."""
    positions = pd.Series(values).rank(method="first").to_numpy() - 1
    edges = np.round(np.cumsum([share for _, share in shares]) * len(values))
    return np.array([value for value, _ in shares])[np.digitize(positions, edges)].tolist()


def numerai_tables(articles: list[dict], universe: list[list[str]], sectors: dict[str, str], stories: Stories):
    """The four tables (validation, neutralizer, example preds, live) and the measured relation."""
    import pyarrow as pa

    rng = random.Random(NUMERAI_SEED)
    tickers = [row[0] for row in universe]
    sector_names = sorted(set(sectors.values()))
    sector_columns = {name: "neutralizer_sector_" + re.sub("[^a-z]+", "_", name.lower()) for name in sector_names}
    base = {ticker: {name: rng.gauss(0, 1) for name in EXPOSURES} for ticker in tickers}
    value_base = {ticker: rng.gauss(0, 1) for ticker in tickers}
    means = label_means(articles, universe, stories)  # the planted relation
    plain = label_means(articles, universe)  # what the plain provider_labels signal sees
    fridays = [FIRST_WEEK_START.replace(tzinfo=None) + week * WEEK + FRIDAY_OFFSET for week in range(WEEKS)]
    validation: dict[str, list] = {"numerai_ticker": [], "date": []}
    validation.update({name: [] for name in (*FEATURES, "target", "target_jupiter_60", "target_chili_60")})
    neutralizer: dict[str, list] = {"numerai_ticker": [], "date": []}
    neutralizer.update({column: [] for column in sector_columns.values()})
    neutralizer.update({f"neutralizer_{name}": [] for name in EXPOSURES})
    example: dict[str, list] = {"numerai_ticker": [], "date": [], "signal": []}
    live: dict[str, list] = {}
    strength: list[str] = []
    pooled: dict[str, tuple[list[float], list[float]]] = {"plain": ([], []), "planted": ([], [])}
    for week, friday in enumerate(fridays):
        shocks = {name: rng.gauss(0, SECTOR_SHOCK) for name in sector_names}
        exposure = {
            ticker: {name: base[ticker][name] * 0.95 + rng.gauss(0, 0.3) for name in EXPOSURES} for ticker in tickers
        }
        idio = [rng.gauss(0, 1) for _ in tickers]
        aux_noise = [rng.gauss(0, 1) for _ in tickers]
        risk = [TARGET_RISK_LOAD * exposure[t]["beta"] + shocks[sectors[t]] for t in tickers]
        lean = [TARGET_LABEL_LEAN * means[week].get(t, 0.0) for t in tickers]
        target = buckets([a + b + c for a, b, c in zip(lean, risk, idio)], TARGET_BUCKETS)
        chili = buckets(
            [a / 2 + b + 0.6 * c + 0.8 * d for a, b, c, d in zip(lean, risk, idio, aux_noise)], TARGET_BUCKETS
        )
        features = {
            "feature_momentum_20d": buckets(
                [exposure[t]["momentum"] + rng.gauss(0, 0.5) for t in tickers], FEATURE_BUCKETS
            ),
            "feature_volatility_60d": buckets(
                [abs(exposure[t]["beta"]) + rng.gauss(0, 0.5) for t in tickers], FEATURE_BUCKETS
            ),
            "feature_value": buckets([value_base[t] + rng.gauss(0, 0.3) for t in tickers], FEATURE_BUCKETS),
            "feature_size": buckets([exposure[t]["size"] + rng.gauss(0, 0.2) for t in tickers], FEATURE_BUCKETS),
        }
        example_score = [
            0.5 * exposure[t]["momentum"] + EXAMPLE_SKILL * i + rng.gauss(0, 1) for t, i in zip(tickers, idio)
        ]
        example_signal = [round(r / (len(tickers) + 1), 6) for r in pd.Series(example_score).rank()]
        pending = week == WEEKS - 1  # the latest Friday: 60-day targets not resolved yet
        validation["numerai_ticker"] += tickers
        validation["date"] += [friday] * len(tickers)
        for name in FEATURES:
            validation[name] += features[name]
        for name, values in (("target", target), ("target_jupiter_60", target), ("target_chili_60", chili)):
            validation[name] += [None] * len(tickers) if pending else values
        neutralizer["numerai_ticker"] += tickers
        neutralizer["date"] += [friday] * len(tickers)
        for name, column in sector_columns.items():
            neutralizer[column] += [1.0 if sectors[t] == name else 0.0 for t in tickers]
        for name in EXPOSURES:
            neutralizer[f"neutralizer_{name}"] += [round(exposure[t][name], 3) for t in tickers]
        example["numerai_ticker"] += tickers
        example["date"] += [friday] * len(tickers)
        example["signal"] += example_signal
        if pending:
            live = {"numerai_ticker": list(tickers), "date": [friday] * len(tickers)}
            live.update({name: features[name] for name in FEATURES})
        else:
            parts = []
            for kind, week_means in (("plain", plain[week]), ("planted", means[week])):
                xs, ys = correlations(week_means, tickers, target)
                pooled[kind][0].extend(xs)
                pooled[kind][1].extend(ys)
                spearman = xs.corr(ys, method="spearman")
                parts.append(f"{kind} ({len(xs)} tickers) Pearson {xs.corr(ys):.3f}, Spearman {spearman:.3f}")
            strength.append(f"{friday:%Y-%m-%d} corr(label mean, target): " + "; ".join(parts))

    strength.append(
        "resolved weeks pooled: "
        + "; ".join(
            f"{kind} Pearson {pd.Series(xs).corr(pd.Series(ys)):.3f}, "
            f"Spearman {pd.Series(xs).corr(pd.Series(ys), method='spearman'):.3f}"
            for kind, (xs, ys) in pooled.items()
        )
    )

    def table(columns: dict[str, list]) -> pa.Table:
        fields = [pa.field("numerai_ticker", pa.string()), pa.field("date", pa.timestamp("ns"))]
        fields += [pa.field(name, pa.float64()) for name in columns if name not in ("numerai_ticker", "date")]
        return pa.table(columns, schema=pa.schema(fields))

    tables = dict(zip(NUMERAI_FILES, (table(validation), table(neutralizer), table(example))))
    tables[LIVE_FILE] = table(live)
    return tables, strength


def parquet_bytes(table, dates: list[datetime]) -> bytes:
    """One row group per date, fixed settings, no pandas or Arrow schema metadata."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    with pq.ParquetWriter(
        sink, table.schema, compression="snappy", version="2.6", store_schema=False, write_statistics=True
    ) as writer:
        for day in dates:
            part = table.filter(pc.equal(table["date"], pa.scalar(day, type=pa.timestamp("ns"))))
            if part.num_rows:
                writer.write_table(part, row_group_size=part.num_rows)
    return sink.getvalue()


def write_numerai(
    out: Path, articles: list[dict], universe: list[list[str]], sectors: dict[str, str], stories: Stories
) -> tuple[list[Path], list[str]]:
    """Write the Numerai files into `out`; returns their paths and the measured planted relation."""
    out.mkdir(parents=True, exist_ok=True)
    tables, strength = numerai_tables(articles, universe, sectors, stories)
    fridays = [FIRST_WEEK_START.replace(tzinfo=None) + week * WEEK + FRIDAY_OFFSET for week in range(WEEKS)]
    paths = []
    for name, table in tables.items():
        (out / name).write_bytes(parquet_bytes(table, fridays))
        paths.append(out / name)
    return paths, strength


def main(argv: list[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument(
        "--numerai-out",
        type=Path,
        default=None,
        help=f"folder for the Numerai files (default {DEFAULT_NUMERAI_OUT}, or OUT/numerai when --out is given)",
    )
    parser.add_argument("--quiet", action="store_true", help="print nothing")
    args = parser.parse_args(argv)
    numerai_out = args.numerai_out or (DEFAULT_NUMERAI_OUT if args.out == DEFAULT_OUT else args.out / "numerai")
    articles, tickers, universe, sectors, stories = build(random.Random(SEED))
    summary = check_contract(articles, tickers, universe, stories)
    paths = write(args.out, articles, tickers, universe)
    numerai_paths, strength = write_numerai(numerai_out, articles, universe, sectors, stories)
    if not args.quiet:
        print("\n".join(summary))
        print("\n".join(strength))
        print(f"{len(articles)} items, {len(tickers)} listed tickers, {len(universe)} universe tickers")
        for path in paths + numerai_paths:
            print(f"{path}: {path.stat().st_size:,} bytes")
    return paths  # the news files; the Numerai files are listed by write_numerai


if __name__ == "__main__":
    main()
