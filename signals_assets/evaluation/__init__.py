"""Score weekly signals the way Numerai does, and summarize them over time (pure: no Dagster here).

Plain functions over pandas objects, no Dagster: the Dagster shell loads a week's universe, targets,
neutralizer and example predictions and hands them to these functions. Every figure comes from
numerai-tools (0.7.x); this package only prepares the inputs, catches numerai-tools' refusals and says why
a figure is missing.

- `inputs`: the date's universe, the cleaned (ranked and filled) submission, the neutralizer matrix.
- `scoring`: `score_week` -> `WeekScore` (status, coverage, NCORR, numerai_corr, NMMC proxy, churn).
- `week_data`: `read_week_data` -> `WeekData`, a week's Numerai inputs from the files, or why it cannot be
  scored (`no_data`, naming the file and the fix) or must wait (`pending`).
- `comparison`: signal variants side by side: `variant_table` (NCORR, churn, headlines and stories per variant)
  and `variant_agreement` (the mean weekly rank correlation between two variants' signals).
- `churn_gate`: `churn_against_recent` -> `ChurnCheck`, and `gate` before an upload.
- `churn_blend`: `least_blend`, the week blended toward the last upload until the churn is within the threshold.
- `backtest`: `summarize` per signal (or per halflife): mean, std, Sharpe, positive share, max drawdown;
  `report_rows` / `report_sections`, both tables as one stored frame (signals.backtest_report) and back.
- `halflife_sweep`: `halflife_evaluations`, one variant's stored scores smoothed with several halflives and
  scored week by week, for the halflife table.
- `report`: `cumulative_plot_png`, `report_markdown` and `backtest_tables_text` (the tables as plain text).

The `halflife_weeks` smoothing these figures compare is the signal's own (signal/decay.py, signal/smoothing.py).

Import each from its module: the package itself imports none of them, so that loading one does not load the
others (and numerai-tools, scipy and matplotlib with them).
"""
