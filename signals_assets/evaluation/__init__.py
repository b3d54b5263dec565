"""Score weekly signals the way Numerai does, and summarize them over time (issue 11's pure core).

Plain functions over pandas objects, no Dagster: the Dagster shell loads a week's universe, targets,
neutralizer and example predictions and hands them to these functions. Every figure comes from
numerai-tools (0.7.x); this package only prepares the inputs, catches numerai-tools' refusals and says why
a figure is missing.

- `inputs`: the date's universe, the cleaned (ranked and filled) submission, the neutralizer matrix.
- `scoring`: `score_week` -> `WeekScore` (status, coverage, NCORR, numerai_corr, NMMC proxy, churn).
- `baseline`: `provider_label_signal`, the vendor-label baseline FinBERT is compared with.
- `decay`: `decayed_sentiment` / `decayed_signal`, the `halflife_weeks` smoothing (no look-ahead).
- `churn_gate`: `churn_against_recent` -> `ChurnCheck`, and `gate` before an upload.
- `backtest`: `summarize` per signal (or per halflife): mean, std, Sharpe, positive share, max drawdown;
  `report_rows` / `report_sections`, both tables as one stored frame (signals.backtest_report) and back.
- `halflife_sweep`: `halflife_evaluations`, the stored FinBERT scores smoothed with several halflives and
  scored week by week, for the halflife table (import it from its module: it uses signal.smoothing, which
  imports this package).
- `report`: `cumulative_plot_png`, `report_markdown` and `backtest_tables_text` (the tables as plain text).
"""

from signals_assets.evaluation.backtest import report_rows, report_sections, summarize
from signals_assets.evaluation.baseline import provider_label_signal
from signals_assets.evaluation.churn_gate import ChurnCheck, GateOutcome, churn_against_recent, gate
from signals_assets.evaluation.decay import decayed_sentiment, decayed_signal
from signals_assets.evaluation.inputs import clean_signal, neutralizer_matrix, universe_index
from signals_assets.evaluation.report import backtest_tables_text, cumulative_plot_png, report_markdown
from signals_assets.evaluation.scoring import WeekScore, score_week

__all__ = [
    "ChurnCheck",
    "GateOutcome",
    "WeekScore",
    "backtest_tables_text",
    "churn_against_recent",
    "clean_signal",
    "cumulative_plot_png",
    "decayed_sentiment",
    "decayed_signal",
    "gate",
    "neutralizer_matrix",
    "provider_label_signal",
    "report_markdown",
    "report_rows",
    "report_sections",
    "score_week",
    "summarize",
    "universe_index",
]
