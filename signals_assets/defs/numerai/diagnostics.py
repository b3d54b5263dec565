"""numerai_diagnostics: Numerai's own second opinion on the submitted signal's history (docs/diagnostics.md).

The stored weeks of the submitted variant on Numerai's validation dates go to Numerai's diagnostics; Numerai's
per-era figures come back and are stored next to the project's own figures of the same weeks. The figures and the
file come from the pure core (signals_assets/numerai/diagnostics.py), the calls from diagnostics_api.py.
"""

import dagster as dg
import duckdb
import pandas as pd
from pydantic import Field

from signals_assets.defs.environment import uses_sample_news
from signals_assets.defs.metadata import bounded_metadata, preview
from signals_assets.defs.numerai.assets import NUMERAI_CACHE
from signals_assets.defs.numerai.data import NumeraiData
from signals_assets.defs.numerai.resources import NumeraiSignals
from signals_assets.defs.signal.resources import SignalSettings
from signals_assets.defs.warehouse import SCHEMA, Warehouse
from signals_assets.numerai.datasets import VALIDATION, NumeraiDataError
from signals_assets.numerai.diagnostics import (
    DiagnosticsFile,
    comparison,
    diagnostics_csv_path,
    diagnostics_file,
    per_era_frame,
    stored_weeks_of,
    summary,
    with_project_figures,
    write_diagnostics_csv,
)
from signals_assets.numerai.diagnostics_api import upload_diagnostics, wait_for_diagnostics
from signals_assets.numerai.signals_api import NumeraiError
from signals_assets.signal.variants import LEGACY_VARIANT, VARIANT_COLUMN

DIAGNOSTICS_FOLDER = "diagnostics"  # under the warehouse's output_dir
SAMPLE_REFUSAL = (
    "numerai_diagnostics does not run on the packaged sample news (STOCKNEWS_API_KEY is not set): the sample's "
    "signals are invented, so Numerai would score noise. Set STOCKNEWS_API_KEY, materialize real weeks that fall in "
    "Numerai's validation dates, then numerai_diagnostics again."
)
NOT_EQUAL = (
    "Numerai's figures are not expected to equal the project's: Numerai scores against its own targets version "
    "and universe, and returns no NCORR."
)


class DiagnosticsConfig(dg.Config):
    max_wait_s: float = Field(
        default=600,
        ge=0,
        description="How long to wait for Numerai to finish the diagnostics, in seconds. Past it the run fails with "
        "the diagnostics id (its results still show on numer.ai); materializing again sends the file again.",
    )
    poll_interval_s: float = Field(default=15, gt=0, description="Seconds between two questions to Numerai.")


def _refusal(numerai: NumeraiSignals) -> str | None:
    """Why the diagnostics cannot run, before anything is read or sent; None when they can."""
    if uses_sample_news():
        return SAMPLE_REFUSAL
    if not (numerai.public_id and numerai.secret_key):
        return (
            "numerai_diagnostics needs Numerai API keys: NUMERAI_PUBLIC_ID / NUMERAI_SECRET_KEY are not set. Set "
            "both (numer.ai > Account > API keys), then materialize numerai_diagnostics again."
        )
    if not numerai.model_name:
        return (
            "numerai_diagnostics needs the Signals model to run as: NUMERAI_MODEL_NAME is not set. Set it to one of "
            "the account's Signals models, then materialize numerai_diagnostics again."
        )
    return None


def _stored_signals(warehouse: Warehouse, variant: str) -> pd.DataFrame:
    """The stored scaled_signal rows of `variant` (a table without a variant column holds LEGACY_VARIANT's)."""
    try:
        with warehouse.connect() as connection:
            columns = set(connection.execute(f"SELECT * FROM {SCHEMA}.scaled_signal LIMIT 0").fetchdf().columns)
            if VARIANT_COLUMN in columns:
                return connection.execute(
                    f"SELECT * FROM {SCHEMA}.scaled_signal WHERE coalesce({VARIANT_COLUMN}, ?) = ?",
                    [LEGACY_VARIANT, variant],
                ).fetchdf()
            if variant == LEGACY_VARIANT:
                return connection.execute(f"SELECT * FROM {SCHEMA}.scaled_signal").fetchdf()
            return pd.DataFrame(columns=sorted(columns))
    except duckdb.CatalogException:
        return pd.DataFrame(columns=["week_start", "numerai_ticker", "signal", "date"])


def _evaluations(warehouse: Warehouse, variant: str) -> pd.DataFrame:
    """The project's scores of `variant` per week (signal_evaluation); none when it was never materialized."""
    try:
        with warehouse.connect() as connection:
            return connection.execute(
                f"SELECT week_start, signal, ncorr, numerai_corr FROM {SCHEMA}.signal_evaluation WHERE signal = ?",
                [variant],
            ).fetchdf()
    except duckdb.CatalogException:
        return pd.DataFrame(columns=["week_start", "signal", "ncorr", "numerai_corr"])


def _file_metadata(built: DiagnosticsFile) -> dict[str, object]:
    fridays = built.fridays
    return {
        "weeks_uploaded": dg.MetadataValue.int(len(fridays)),
        "fridays": f"{fridays[0]} to {fridays[-1]}" if fridays else "none",
        "left_out": dg.MetadataValue.json({str(out.friday): f"{out.rule}: {out.reason}" for out in built.left_out}),
        "weeks_outside_validation": dg.MetadataValue.int(len(built.outside)),
        "tickers_not_in_universe": dg.MetadataValue.int(built.tickers_dropped),
    }


def _no_week_to_send(variant: str, stored_fridays: list, built: DiagnosticsFile, validation: list) -> str:
    where = f"Numerai's validation data ({validation[0]} to {validation[-1]})" if validation else "the validation data"
    if not stored_fridays:
        return (
            f"No week of the submitted variant {variant!r} is stored in {SCHEMA}.scaled_signal. Materialize weeks "
            "inside Numerai's validation dates first (job weekly_signal, or a backfill of scaled_signal), then "
            "numerai_diagnostics again."
        )
    if built.left_out:
        failed = "; ".join(f"{out.friday} ({out.rule}: {out.reason})" for out in built.left_out[:5])
        return (
            f"Every stored week of {variant!r} in {where} breaks one of Numerai's rules, so there is nothing to send: "
            f"{failed}. Fix those weeks (materialize them again), then numerai_diagnostics again."
        )
    return (
        f"None of the {len(stored_fridays)} stored weeks of {variant!r} (Fridays {min(stored_fridays)} to "
        f"{max(stored_fridays)}) is a date of {where}: Numerai's diagnostics score validation dates only. Backfill "
        "weeks inside those dates (job weekly_signal), then numerai_diagnostics again."
    )


@dg.asset(group_name="numerai", kinds={"numerai", "duckdb"}, deps=["scaled_signal", "signal_evaluation"])
def numerai_diagnostics(
    context: dg.AssetExecutionContext,
    config: DiagnosticsConfig,
    numerai: NumeraiSignals,
    numerai_data: NumeraiData,
    signal_settings: SignalSettings,
    warehouse: Warehouse,
) -> pd.DataFrame:
    """Numerai's diagnostics of the submitted variant's stored weeks: the weeks whose Friday is one of Numerai's
    validation dates and that pass the submission rules against that date's universe go to Numerai as one file;
    Numerai's per-era figures (validation corr, MMC, BMC, alpha, churn, FNC v4, IC v2, RIC, example preds corr) are
    stored one row per era next to the project's own ncorr and numerai_corr of the same week. Not expected to be
    equal: Numerai scores against its own targets version and returns no NCORR. Refuses with the packaged sample
    news, without Numerai keys or model name, and when no stored week is on a validation date. Waits at most
    max_wait_s for Numerai; past it, fails naming the diagnostics id (materializing again sends the file again)."""
    refusal = _refusal(numerai)
    if refusal:
        raise dg.Failure(description=refusal)
    variant = signal_settings.variant
    rows = stored_weeks_of(_stored_signals(warehouse, variant), variant)
    stored_fridays = sorted(set(rows["friday"]))
    try:
        files = numerai_data.files(warehouse.cache_dir(NUMERAI_CACHE), numerai.api(), context.log)
        validation = files.dates() if stored_fridays else []
        # The universe Numerai scores a date against is the date's tickers in its validation data; the stored
        # numerai_universe of a week may be the live one or a NUMERAI_UNIVERSE file, not what Numerai holds.
        built = diagnostics_file(rows, validation, files.universe_on)
    except (NumeraiError, NumeraiDataError) as error:
        raise dg.Failure(description=f"Numerai's validation data could not be read: {error}") from None
    file_metadata = _file_metadata(built)
    if built.rows.empty:
        raise dg.Failure(
            description=_no_week_to_send(variant, stored_fridays, built, validation),
            metadata=bounded_metadata(file_metadata),
        )
    for out in built.left_out:
        context.log.warning(f"Week of Friday {out.friday} left out of the diagnostics ({out.rule}): {out.reason}")
    folder = warehouse.submissions_dir() / DIAGNOSTICS_FOLDER
    path = write_diagnostics_csv(built.rows, diagnostics_csv_path(folder, variant, built.fridays))
    file_metadata["path"] = dg.MetadataValue.path(str(path.resolve()))
    source = files.version_of(VALIDATION) or numerai_data.data_dir
    context.log.info(
        f"Sending {len(built.fridays)} weeks of {variant!r} ({len(built.rows)} rows) to Numerai's diagnostics: {path}. "
        f"Left out: {len(built.left_out)} weeks breaking a rule, {len(built.outside)} weeks not on a validation date "
        f"of {source}/{VALIDATION}."
    )

    api = numerai.api()
    upload = None
    try:
        upload = upload_diagnostics(api, path, numerai.model_name or "", context.log)
        answer = wait_for_diagnostics(
            api, upload, max_wait_s=config.max_wait_s, poll_interval_s=config.poll_interval_s, log=context.log
        )
    except NumeraiError as error:
        where = {"diagnostics_id": upload.diagnostics_id} if upload else {}
        raise dg.Failure(description=str(error), metadata=bounded_metadata({**file_metadata, **where})) from None

    per_era = per_era_frame(answer, upload.diagnostics_id)
    frame = with_project_figures(per_era, _evaluations(warehouse, variant), variant)
    figures, compared = summary(answer), comparison(frame)
    if per_era.empty:
        context.log.warning(f"Numerai's diagnostics {upload.diagnostics_id} are done but hold no per-era figures.")
    context.log.info(
        f"Numerai's diagnostics {upload.diagnostics_id}: {len(frame)} eras, validation corr mean "
        f"{figures.get('validation_corr_mean', 'n/a')}; the project's numerai_corr compared over "
        f"{compared['eras_compared']} eras."
    )
    numbers = {
        key: (dg.MetadataValue.int(value) if isinstance(value, int) else dg.MetadataValue.float(float(value)))
        for key, value in figures.items()
        if not isinstance(value, bool)
    }
    context.add_output_metadata(
        bounded_metadata(
            {
                "diagnostics_id": upload.diagnostics_id,
                "model_name": upload.model_name,
                "variant": variant,
                **file_metadata,
                **numbers,
                "numerai_summary": dg.MetadataValue.json(figures),
                "project_vs_numerai": dg.MetadataValue.json(compared),
                "note": NOT_EQUAL,
                "preview": preview(frame),
            }
        )
    )
    return frame
