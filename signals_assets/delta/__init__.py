"""The Delta Lake warehouse (SIGNALS_WAREHOUSE=delta) without Dagster: where its tables live and the commit that is
run again on a conflict (tables.py), and DuckDB on its tables with the headline-score cache (queries.py). The IO
manager that writes the assets' tables is on the Dagster side (signals_assets/delta_io_manager.py). Imported only
when that backend is chosen, since it needs the `scale` extra; not under defs/, where dg imports every module when
the code location loads."""
