"""submission: the week's CSV, validated by Numerai's rules, uploaded only for the live week."""

import pandas as pd
from dagster import AssetExecutionContext, MetadataValue

from signals_assets.news.resources import StockNewsAPI
from signals_assets.partitions import week_of, weekly_asset, with_week_column
from signals_assets.submission.resources import NumeraiSignals
from signals_assets.submission.submission import build_submission, validate_and_write_submission
from signals_assets.tickers.assets import week_universe
from signals_assets.warehouse import submissions_dir


@weekly_asset(
    group_name="signal",
    kinds={"numerai", "csv"},
)
def submission(
    context: AssetExecutionContext,
    scaled_signal: pd.DataFrame,
    news: StockNewsAPI,
    numerai: NumeraiSignals,
) -> pd.DataFrame:
    """`signals_<Friday>.csv` in SIGNALS_OUTPUT_DIR, validated with numerai-tools against the week's
    universe; uploaded with numerapi only for the latest complete week when keys and model are set."""
    week = week_of(context)
    rows = build_submission(scaled_signal, include_date=numerai.include_date_column)
    # Raises SubmissionInvalid (rule and counts) and removes a stale file before any upload.
    csv_path, report = validate_and_write_submission(
        week_universe(news, numerai, context.log), rows, submissions_dir(), week.friday
    )
    context.log.info(f"Wrote {report.n_submitted} tickers to {csv_path}")

    upload_metadata: dict = {}
    skipped = numerai.upload_reason_skipped(week)
    if skipped:
        context.log.info(f"Not uploading to Numerai: {skipped}")
        upload_metadata["upload"] = f"skipped: {skipped}"
    else:
        uploaded = numerai.upload_submission(csv_path, log=context.log)
        context.log.info(f"Uploaded {csv_path.name} for model {uploaded.model_name}: submission {uploaded.submission_id}")
        upload_metadata.update(
            {"upload": "uploaded", "submission_id": uploaded.submission_id, "model_name": uploaded.model_name}
        )

    stored = with_week_column(rows, week)
    context.add_output_metadata(
        {
            "path": MetadataValue.path(str(csv_path.resolve())),
            "rows": len(rows),
            "tickers_in_universe": report.n_in_universe,
            "friday": week.friday.isoformat(),
            **upload_metadata,
            "preview": MetadataValue.md(rows.head(10).to_markdown(index=False)),
        }
    )
    return stored
