"""The Delta Lake warehouse (SIGNALS_WAREHOUSE=delta): its IO manager (io_manager.py) and DuckDB on its tables with
the headline-score cache (queries.py). Imported only when that backend is chosen, since it needs the `scale` extra;
not under defs/, where dg imports every module when the code location loads."""
