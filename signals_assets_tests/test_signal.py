"""Signal scaling: strictly inside (0, 1), ties kept, order kept, and the seed's 0/1 bug gone."""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import MinMaxScaler

from signals_assets.signal.scaling import MINMAX_MARGIN, build_scaled_signal, scale_signal

FRIDAY = date(2026, 11, 13)


def _sentiment(values, tickers=None) -> pd.Series:
    tickers = tickers or [f"T{i:03d} US" for i in range(len(values))]
    return pd.Series(values, index=tickers, dtype="float64")


@pytest.fixture
def random_sentiment() -> pd.Series:
    rng = np.random.default_rng(7)
    # Rounded so ties occur, as FinBERT means over few headlines often tie.
    return _sentiment(np.round(rng.uniform(-1, 1, 500), 2))


def test_rank_is_strictly_inside_unit_interval(random_sentiment):
    signal = scale_signal(random_sentiment, "rank")
    assert signal.gt(0).all() and signal.lt(1).all()
    assert signal.index.equals(random_sentiment.index)
    assert signal.name == "signal" and signal.dtype == "float64"


def test_rank_is_the_default_and_gives_tie_kept_centred_ranks():
    signal = scale_signal(_sentiment([0.1, 0.5, 0.5, 0.9]))
    # average ranks 1, 2.5, 2.5, 4 -> (rank - 0.5) / 4
    assert signal.tolist() == [0.125, 0.5, 0.5, 0.875]


def test_rank_gives_ties_equal_signals_and_keeps_the_order(random_sentiment):
    signal = scale_signal(random_sentiment, "rank")
    for _, tied in signal.groupby(random_sentiment):
        assert tied.nunique() == 1
    by_sentiment = signal[random_sentiment.sort_values(kind="stable").index]
    assert by_sentiment.is_monotonic_increasing
    # Strictly increasing across distinct sentiments: no information is lost between ranks.
    distinct = signal.groupby(random_sentiment).first()
    assert distinct.is_monotonic_increasing and distinct.is_unique


def test_seed_minmax_scaler_hits_the_bounds_that_numerai_rejects(random_sentiment):
    seed = MinMaxScaler().fit_transform(random_sentiment.to_numpy().reshape(-1, 1)).ravel()
    assert seed.min() == 0.0 and seed.max() == pytest.approx(1.0)


def test_minmax_is_strictly_inside_unit_interval_and_monotone(random_sentiment):
    signal = scale_signal(random_sentiment, "minmax")
    assert signal.gt(0).all() and signal.lt(1).all()
    assert signal.min() == pytest.approx(MINMAX_MARGIN) and signal.max() == pytest.approx(1 - MINMAX_MARGIN)
    assert 0.0 not in set(signal) and 1.0 not in set(signal)
    assert signal[random_sentiment.sort_values(kind="stable").index].is_monotonic_increasing
    # Same shape as the seed's scaler, only squeezed.
    seed = MinMaxScaler().fit_transform(random_sentiment.to_numpy().reshape(-1, 1)).ravel()
    np.testing.assert_allclose(signal.to_numpy(), MINMAX_MARGIN + (1 - 2 * MINMAX_MARGIN) * seed)


@pytest.mark.parametrize("method", ["rank", "minmax"])
def test_single_or_all_equal_sentiment_gives_a_constant_signal(method):
    for values in ([0.3], [0.2, 0.2, 0.2]):
        signal = scale_signal(_sentiment(values), method)
        assert signal.nunique() == 1
        assert 0 < signal.iloc[0] < 1
    assert scale_signal(_sentiment([0.4]), "rank").iloc[0] == 0.5


def test_empty_sentiment_gives_an_empty_signal():
    assert scale_signal(_sentiment([])).empty


def test_nan_sentiment_is_an_error_naming_the_tickers():
    sentiment = _sentiment([0.1, np.nan, 0.3, np.inf], ["AAPL US", "MSFT US", "TSLA US", "NVDA US"])
    with pytest.raises(ValueError, match=r"2 of 4 tickers \(MSFT US, NVDA US\)"):
        scale_signal(sentiment)


def test_unknown_method_names_the_choices():
    with pytest.raises(ValueError, match="rank, minmax"):
        scale_signal(_sentiment([0.1, 0.2]), "zscore")  # type: ignore[arg-type]


def _scores(n: int = 5) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "numerai_ticker": [f"T{i:03d} US" for i in reversed(range(n))],
            "sentiment": np.linspace(-0.5, 0.5, n),
            "n_headlines": [3] * n,
        }
    )


def test_build_scaled_signal_columns_dtypes_and_date():
    scaled = build_scaled_signal(_scores(), FRIDAY)
    assert list(scaled.columns) == ["numerai_ticker", "signal", "date"]
    assert scaled["signal"].dtype == "float64"
    assert scaled["date"].dtype == "datetime64[ns]"
    assert (scaled["date"] == pd.Timestamp("2026-11-13")).all()
    assert scaled["numerai_ticker"].is_monotonic_increasing
    # Highest sentiment (listed first, T004) gets the highest signal.
    assert scaled.set_index("numerai_ticker")["signal"].idxmax() == "T000 US"


def test_build_scaled_signal_round_trips_through_duckdb():
    scaled = build_scaled_signal(_scores(), "2026-11-13", "minmax")
    with duckdb.connect() as connection:
        connection.execute("create table scaled as select * from scaled")
        back = connection.execute("select * from scaled order by numerai_ticker").df()
    pd.testing.assert_frame_equal(back, scaled, check_dtype=False)
    assert back["date"].dt.date.eq(FRIDAY).all()


def test_build_scaled_signal_of_an_empty_week_is_an_empty_typed_table():
    scaled = build_scaled_signal(_scores(0), FRIDAY)
    assert scaled.empty and list(scaled.columns) == ["numerai_ticker", "signal", "date"]


def test_build_scaled_signal_rejects_bad_input():
    with pytest.raises(ValueError, match="Saturday.*Friday"):
        build_scaled_signal(_scores(), date(2026, 11, 14))
    with pytest.raises(ValueError, match="lack column.*sentiment"):
        build_scaled_signal(_scores().drop(columns="sentiment"), FRIDAY)
    duplicated = pd.concat([_scores(), _scores().head(1)])
    with pytest.raises(ValueError, match=r"1 tickers more than once \(T004 US\)"):
        build_scaled_signal(duplicated, FRIDAY)
