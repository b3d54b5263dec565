"""Pure wrangling: ticker map, filtered and aggregated headlines, per-ticker sentiment."""

import pandas as pd
import pytest

from signals_assets.news.headlines import AGGREGATED_HEADLINE_COLUMNS, aggregate_headlines, filter_headlines
from signals_assets.news.ticker_map import build_ticker_map
from signals_assets.sentiment.aggregation import headline_rows, ticker_sentiment
from signals_assets.sentiment.headline_scores import distinct_headlines, headline_id


def _articles():
    return pd.DataFrame(
        {
            "article_id": ["a1", "a2", "a3", "a4"],
            "title": ["Apple and Microsoft rally", "Tesla slumps", "Markets flat", "Obscure Co soars"],
            "published_at": pd.to_datetime(
                ["2026-11-16 14:00Z", "2026-11-17 14:00Z", "2026-11-18 14:00Z", "2026-11-19 14:00Z"]
            ),
            "sentiment": ["Positive", "Negative", "Neutral", "Positive"],
            "tickers": [["AAPL", "MSFT"], ["TSLA"], ["AAPL"], ["ZZZZ"]],
        }
    )


def _ticker_map():
    news = pd.DataFrame(
        {"ticker": ["AAPL", "MSFT", "TSLA", "ZZZZ", "BRK.B"], "name": list("abcde"), "sector": list("vwxyz")}
    )
    universe = pd.DataFrame({"numerai_ticker": ["AAPL US", "MSFT US", "TSLA US", "BRK/B US", "000640 KR"]})
    return build_ticker_map(news, universe)


def test_ticker_map_joins_news_symbols_with_numerai_ids():
    mapped = _ticker_map()
    assert list(mapped.columns) == ["stocknews_ticker", "numerai_ticker", "bloomberg_ticker", "name", "sector"]
    assert dict(zip(mapped["stocknews_ticker"], mapped["numerai_ticker"])) == {
        "AAPL": "AAPL US",
        "BRK.B": "BRK/B US",
        "MSFT": "MSFT US",
        "TSLA": "TSLA US",
    }
    assert (mapped["bloomberg_ticker"] == mapped["numerai_ticker"]).all()


def test_universe_without_numerai_ticker_is_a_clear_error():
    with pytest.raises(ValueError, match="NUMERAI_UNIVERSE"):
        build_ticker_map(pd.DataFrame({"ticker": ["AAPL"]}), pd.DataFrame({"symbol": ["AAPL US"]}))


def test_filtered_headlines_one_row_per_article_and_mapped_ticker_without_neutral():
    headlines = filter_headlines(_articles(), _ticker_map())
    assert sorted(zip(headlines["article_id"], headlines["numerai_ticker"])) == [
        ("a1", "AAPL US"),
        ("a1", "MSFT US"),
        ("a2", "TSLA US"),
    ]
    assert set(headlines.columns) >= {"article_id", "title", "published_at", "sentiment"}


def test_neutral_articles_are_kept_when_asked():
    headlines = filter_headlines(_articles(), _ticker_map(), drop_neutral=False)
    assert ("a3", "AAPL US") in set(zip(headlines["article_id"], headlines["numerai_ticker"]))


def test_aggregated_headlines_hold_real_lists():
    aggregated = aggregate_headlines(filter_headlines(_articles(), _ticker_map(), drop_neutral=False))
    apple = aggregated.set_index("numerai_ticker").loc["AAPL US"]
    assert apple["headlines"] == ["Apple and Microsoft rally", "Markets flat"]
    assert apple["n_headlines"] == 2 and apple["article_ids"] == ["a1", "a3"]


def test_empty_week_aggregates_to_a_typed_empty_frame():
    empty = filter_headlines(_articles().iloc[0:0], _ticker_map())
    aggregated = aggregate_headlines(empty)
    assert aggregated.empty and list(aggregated.columns) == AGGREGATED_HEADLINE_COLUMNS


def test_shared_headline_is_distinct_once_and_counted_for_every_ticker():
    aggregated = pd.DataFrame(
        {"numerai_ticker": ["A US", "B US", "C US"], "headlines": [["shared", "only a"], ["shared"], ["shared"]]}
    )
    distinct = distinct_headlines(aggregated)
    assert sorted(distinct["headline"]) == ["only a", "shared"]
    rows = headline_rows(aggregated)
    rows["score"] = rows["headline"].map({"shared": 0.5, "only a": -0.5})
    per_ticker = ticker_sentiment(rows).set_index("numerai_ticker")
    assert per_ticker.loc["A US", "sentiment"] == pytest.approx(0.0)
    assert per_ticker.loc["B US", "sentiment"] == pytest.approx(0.5)
    assert per_ticker["n_headlines"].to_dict() == {"A US": 2, "B US": 1, "C US": 1}
    assert headline_id("shared") == distinct.set_index("headline").loc["shared", "headline_id"]
