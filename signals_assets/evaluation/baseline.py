"""The baseline FinBERT has to beat: the news provider's own sentiment labels, as a signal.

Each headline's provider label counts Positive +1, Negative -1, Neutral 0; a ticker's score is the mean
over its headlines of the week, ranked into (0, 1) like the FinBERT signal (`scale_signal`, method rank).
With `filtered_headlines.drop_neutral` on (the default) no Neutral headline reaches this table, so the
mean is over Positive and Negative ones.
"""

from __future__ import annotations

import pandas as pd

from signals_assets.signal.scaling import SENTIMENT_COLUMN, SIGNAL_COLUMN, TICKER_COLUMN, scale_signal

LABEL_SCORES = {"positive": 1.0, "negative": -1.0, "neutral": 0.0}


def label_scores(labels: pd.Series) -> pd.Series:
    """+1 / -1 / 0 per provider label (case and surrounding spaces ignored); missing labels give NaN.

    Raises ValueError naming any other label.
    """
    normalized = labels.astype("string").str.strip().str.lower()
    unknown = sorted(set(labels[normalized.notna() & ~normalized.isin(LABEL_SCORES)].astype(str)))
    if unknown:
        raise ValueError(
            f"Unknown provider sentiment label(s) {', '.join(map(repr, unknown))}; expected Positive, Negative "
            f"or Neutral (the Stock News API's labels)."
        )
    return normalized.map(LABEL_SCORES).astype("float64")


def provider_label_sentiment(filtered_headlines: pd.DataFrame) -> pd.Series:
    """Mean provider label score per ticker (index numerai_ticker, sorted), headlines without a label left out."""
    missing = [col for col in (TICKER_COLUMN, SENTIMENT_COLUMN) if col not in filtered_headlines.columns]
    if missing:
        raise ValueError(
            f"The headlines lack column(s) {', '.join(missing)}; the provider-label baseline needs one row per "
            f"(headline, {TICKER_COLUMN}) with the provider's {SENTIMENT_COLUMN} label."
        )
    scores = pd.DataFrame(
        {
            TICKER_COLUMN: filtered_headlines[TICKER_COLUMN].astype(str).to_numpy(),
            SENTIMENT_COLUMN: label_scores(filtered_headlines[SENTIMENT_COLUMN]).to_numpy(),
        }
    ).dropna()
    return scores.groupby(TICKER_COLUMN)[SENTIMENT_COLUMN].mean().sort_index()


def provider_label_signal(filtered_headlines: pd.DataFrame) -> pd.Series:
    """The provider-label baseline signal: index numerai_ticker, values strictly inside (0, 1), named `signal`.

    `filtered_headlines` needs numerai_ticker and sentiment ('Positive', 'Negative', 'Neutral'); other
    columns are ignored. Ties keep equal values (tie-kept rank). No headline gives an empty Series.
    """
    return scale_signal(provider_label_sentiment(filtered_headlines)).rename(SIGNAL_COLUMN)
