"""signals_assets: a week of stock news into a Numerai Signals submission, as Dagster assets."""
