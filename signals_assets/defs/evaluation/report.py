"""backtest_report: every evaluated week summed up per signal, and FinBERT smoothed with several halflives.

The figures come from the pure core (signals_assets/evaluation: backtest, halflife_sweep, report); this
asset reads the warehouse, hands the frames over, and writes the report a user opens.
"""

import base64
from datetime import date

import dagster as dg
import duckdb
import pandas as pd
from pydantic import Field

from signals_assets.defs.metadata import bounded
from signals_assets.defs.numerai.assets import NUMERAI_CACHE
from signals_assets.defs.numerai.data import NumeraiData
from signals_assets.defs.numerai.resources import NumeraiSignals
from signals_assets.defs.signal.resources import SignalSettings
from signals_assets.defs.warehouse import SCHEMA, Warehouse
from signals_assets.evaluation.backtest import HALFLIFE_COLUMN, report_rows, scored_weeks, summarize
from signals_assets.evaluation.comparison import variant_agreement, variant_table
from signals_assets.evaluation.halflife_sweep import (
    COLUMNS as SWEEP_COLUMNS,
)
from signals_assets.evaluation.halflife_sweep import (
    DEFAULT_HALFLIVES,
    NumeraiInputs,
    checked_halflives,
    halflife_evaluations,
)
from signals_assets.evaluation.report import (
    FIGURE_NOTES,
    agreement_table,
    cumulative_plot_png,
    figures_table,
    halflife_rows,
    markdown_table,
    report_markdown,
    variant_table_text,
    variants_markdown,
)
from signals_assets.news.sample import SAMPLE_WEEK_KEYS
from signals_assets.numerai.datasets import NumeraiDataError, NumeraiFiles
from signals_assets.numerai.signals_api import NumeraiError
from signals_assets.signal.variants import rows_of

REPORT_FILE = "backtest_report.md"
PLOT_FILE = "backtest_cumulative_ncorr.png"
NOTHING_SCORED = (
    "No week of signals.signal_evaluation is scored yet, so the backtest has no figures. Materialize "
    "signal_evaluation (with the assets upstream of it: `dagster asset materialize -m signals_assets.definitions "
    "--select '*signal_evaluation' --partition <week>`) for weeks whose Numerai targets have resolved (about 13 "
    "weeks after the week's Friday), then backtest_report again. With the packaged sample (no STOCKNEWS_API_KEY) "
    f"those are the weeks {', '.join(SAMPLE_WEEK_KEYS[:-1])}; {SAMPLE_WEEK_KEYS[-1]} stays pending."
)


class BacktestReportConfig(dg.Config):
    halflife_weeks: list[float] = Field(
        default=list(DEFAULT_HALFLIVES),
        description="The halflife table's rows: FinBERT's stored weekly sentiment smoothed over this and earlier "
        "weeks with each halflife (0: this week only), scored week by week without running FinBERT again.",
    )


def read_table(warehouse: Warehouse, table: str, columns: list[str]) -> pd.DataFrame:
    """Every week's rows of signals.<table> (those columns); empty when the table does not exist yet."""
    try:
        with warehouse.connect() as connection:
            return connection.execute(f"SELECT {', '.join(columns)} FROM {SCHEMA}.{table}").fetchdf()
    except duckdb.CatalogException:
        return pd.DataFrame({column: pd.Series(dtype="object") for column in columns if column != "*"})


class FilesInputs:
    """Numerai's inputs for a Friday from its files; none (and one warning) when they cannot be read."""

    def __init__(self, files: NumeraiFiles | None, problem: str | None, log):
        self.files, self.problem, self.log = files, problem, log

    def __call__(self, friday: date) -> NumeraiInputs:
        if self.files is None:
            return NumeraiInputs()
        try:
            if not self.files.has_date(friday):
                return NumeraiInputs()
            return NumeraiInputs(
                self.files.targets(friday), self.files.neutralizer(friday), self.files.example_preds(friday)
            )
        except (NumeraiError, NumeraiDataError) as error:
            self.files, self.problem = None, f"Numerai's data could not be read: {error}"
            self.log.warning(f"The halflife table is not scored: {self.problem}")
            return NumeraiInputs()


def png_metadata(png: bytes) -> dg.MetadataValue:
    encoded = base64.b64encode(png).decode("ascii")
    return dg.MetadataValue.md(f"![cumulative NCORR](data:image/png;base64,{encoded})")


@dg.asset(
    group_name="evaluation", deps=["signal_evaluation", "finbert_scores", "scaled_signal"], kinds={"duckdb", "pandas"}
)
def backtest_report(
    context: dg.AssetExecutionContext,
    config: BacktestReportConfig,
    numerai: NumeraiSignals,
    numerai_data: NumeraiData,
    signal_settings: SignalSettings,
    warehouse: Warehouse,
) -> pd.DataFrame:
    """Every scored week of signal_evaluation summed up per signal variant (mean, std, Sharpe, positive weeks and
    max drawdown of NCORR and numerai_corr, mean churn and payout share kept); each variant's stored scores
    smoothed with each halflife_weeks and scored again (the trade-off between score and churn); the variant table
    (NCORR, churn, headlines and stories) and the mean weekly rank correlation between variants' signals. Writes backtest_report.md and the cumulative NCORR plot into the output directory; the table holds
    both (column `section`)."""
    try:
        halflives = checked_halflives(config.halflife_weeks)
    except ValueError as error:
        raise ValueError(f"backtest_report's config: {error}") from None
    evaluations = read_table(
        warehouse,
        "signal_evaluation",
        ["week_start", "signal", "status", "ncorr", "numerai_corr", "nmmc_proxy", "neutral_churn", "churn_penalty"],
    )
    summary = summarize(evaluations)
    weeks = scored_weeks(evaluations)

    scores = read_table(warehouse, "finbert_scores", ["*"])
    universes = read_table(warehouse, "numerai_universe", ["week_start", "numerai_ticker"])
    signals = read_table(warehouse, "scaled_signal", ["*"])
    files, problem = None, None
    if not scores.empty:
        try:
            files = numerai_data.files(warehouse.cache_dir(NUMERAI_CACHE), numerai.api(), context.log)
        except (NumeraiError, NumeraiDataError) as error:
            problem = f"Numerai's data could not be read: {error}"
            context.log.warning(f"The halflife table is not scored: {problem}")
    inputs = FilesInputs(files, problem, context.log)
    variants = signal_settings.all_variants()
    by_variant = {variant.name: rows_of(scores, variant.name) for variant in variants} if len(scores) else {}
    sweeps = [
        halflife_evaluations(rows, universes, inputs, halflives, variant=name)
        for name, rows in by_variant.items()
        if len(rows)
    ]
    sweep = pd.concat(sweeps, ignore_index=True) if sweeps else pd.DataFrame(columns=SWEEP_COLUMNS)
    halflife_table = summarize(sweep, by=["signal", HALFLIFE_COLUMN])
    names = [variant.name for variant in variants]
    collapsing = [variant.name for variant in variants if variant.collapse_stories]
    table = variant_table(summary, scores, collapsing, names)
    agreement = variant_agreement(signals) if len(signals) else pd.DataFrame()

    png = cumulative_plot_png(evaluations)
    directory = warehouse.submissions_dir()
    (directory / PLOT_FILE).write_bytes(png)
    page = report_markdown(summary, halflife_table, PLOT_FILE)
    page += "\n" + variants_markdown(table, agreement, {variant.name: variant.described() for variant in variants})
    if not weeks:
        page += f"\n{NOTHING_SCORED}\n"
        context.log.warning(NOTHING_SCORED)
    if scores.empty:
        page += (
            "\nNo FinBERT scores are stored yet: materialize finbert_scores for some weeks for the halflife table.\n"
        )
    report_path = directory / REPORT_FILE
    report_path.write_text(page + "\n" + FIGURE_NOTES, encoding="utf-8")

    metadata: dict[str, object] = {
        "weeks": dg.MetadataValue.int(weeks),
        "backtest": dg.MetadataValue.md(markdown_table(figures_table(summary, "signal"))),
        "variants": dg.MetadataValue.md(markdown_table(variant_table_text(table))),
        "variant_agreement": dg.MetadataValue.md(markdown_table(agreement_table(agreement))),
        "halflife_table": dg.MetadataValue.md(markdown_table(halflife_rows(halflife_table))),
        "cumulative_ncorr": png_metadata(png),
        "halflife_weeks": dg.MetadataValue.json(halflives),
        "report": dg.MetadataValue.path(str(report_path.resolve())),
    }
    if not weeks:
        metadata["message"] = dg.MetadataValue.text(NOTHING_SCORED)
    if inputs.problem:
        metadata["numerai_data"] = dg.MetadataValue.text(str(bounded(inputs.problem)))
    context.add_output_metadata(metadata)
    context.log.info(
        f"Backtest over {weeks} scored weeks, halflife table over {sweep['week_start'].nunique()} stored weeks "
        f"and halflife_weeks {', '.join(f'{h:g}' for h in halflives)}: {report_path.resolve()}"
    )
    return report_rows(summary, halflife_table)
