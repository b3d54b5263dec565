"""The news provider's own sentiment labels as headline scores: the baseline FinBERT has to beat.

Each headline's provider label counts Positive +1, Negative -1, Neutral 0. With `filtered_headlines.drop_neutral`
on (the default) no Neutral headline gets this far, so a ticker's mean is over Positive and Negative ones.
"""

from __future__ import annotations

import pandas as pd

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
