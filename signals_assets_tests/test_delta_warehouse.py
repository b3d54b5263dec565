"""The Delta Lake warehouse (SIGNALS_WAREHOUSE=delta) next to the DuckDB file: the sample weeks give the same tables,
a re-run replaces exactly its week, and DuckDB reads the tables. Runs writing weeks at once: test_postgres_backfill.py
(8 weeks, 4 runs at once, a process per step), and conflicting commits below."""

import filecmp
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import duckdb
import pandas as pd
import pytest
from dagster import DagsterInstance, materialize

# The delta backend's packages come with the `scale` extra, not with the default install.
for package in ("deltalake", "dagster_deltalake_pandas"):
    pytest.importorskip(package, reason='the delta warehouse needs `pip install -e ".[scale]"`')

from deltalake import DeltaTable, write_deltalake  # noqa: E402

from signals_assets.definitions import build_definitions  # noqa: E402
from signals_assets.defs.ingestion.resources import SampleNews  # noqa: E402
from signals_assets.defs.numerai.data import NumeraiData  # noqa: E402
from signals_assets.defs.numerai.resources import NumeraiSignals  # noqa: E402
from signals_assets.defs.partitions import week_of, weekly_partitions  # noqa: E402
from signals_assets.defs.sentiment.resources import FinBERT  # noqa: E402
from signals_assets.defs.signal.resources import SignalSettings, VariantConfig  # noqa: E402
from signals_assets.defs.warehouse import Warehouse, warehouse_io_manager  # noqa: E402
from signals_assets.delta.queries import ReadOnlyWarehouse  # noqa: E402
from signals_assets.delta.tables import DeltaWriteConflict, committed  # noqa: E402
from signals_assets.news.sample import SAMPLE_WEEK_KEYS  # noqa: E402

DEFINITIONS = build_definitions()
GRAPH = [*DEFINITIONS.assets, *DEFINITIONS.asset_checks]
SPECS = DEFINITIONS.resolve_all_asset_specs()
WEEKLY = sorted(spec.key.to_user_string() for spec in SPECS if spec.partitions_def)
# The report across weeks; numerai_diagnostics (also across weeks) refuses the sample.
ACROSS_WEEKS = sorted(
    spec.key.to_user_string()
    for spec in SPECS
    if not spec.partitions_def and spec.key.to_user_string() != "numerai_diagnostics"
)
UP_TO_SCORES = ["numerai_universe", "ticker_map", "raw_articles", "filtered_headlines", "aggregated_headlines"]


def warehouse_in(folder: Path, backend: str) -> Warehouse:
    return Warehouse(
        backend=backend,
        database=str(folder / "warehouse.duckdb"),
        delta_root=str(folder / "delta"),
        data_dir=str(folder / "data"),
        output_dir=str(folder / "submissions"),
    )


def run(warehouse: Warehouse, finbert_dir, week: str | None, selection: list[str], run_config=None):
    resources = {
        "warehouse": warehouse,
        "io_manager": warehouse_io_manager,
        "news": SampleNews(),
        "numerai": NumeraiSignals(universe="sample"),
        "numerai_data": NumeraiData(),
        # Two variants: the tables compared are the same whatever the variants (four would only cost time).
        "signal_settings": SignalSettings(
            variants=[VariantConfig(name="finbert"), VariantConfig(name="provider_labels", source="provider_labels")]
        ),
        "finbert": FinBERT(model=str(finbert_dir), precision="fp32", device="cpu"),
    }
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            GRAPH,
            partition_key=week,
            resources=resources,
            instance=instance,
            selection=selection,
            run_config=run_config,
            raise_on_error=False,
        )
    failures = [event.step_failure_data.error.to_string() for event in result.all_events if event.is_step_failure]
    assert result.success, "\n".join(failures)
    return result


def tables(warehouse: Warehouse, with_types: bool = False):
    """Every table of schema signals, read through Warehouse.connect(), rows sorted; with each one's column types
    (Delta has microsecond timestamps only, so TIMESTAMP_NS reads as TIMESTAMP)."""
    with warehouse.connect() as connection:
        query = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'signals' ORDER BY 1"
        names = [name for (name,) in connection.execute(query).fetchall()]
        frames = {name: connection.execute(f"SELECT * FROM signals.{name} ORDER BY ALL").fetchdf() for name in names}
        types = {
            name: connection.execute(
                f"SELECT column_name, replace(column_type, 'TIMESTAMP_NS', 'TIMESTAMP') FROM (DESCRIBE signals.{name})"
            ).fetchall()
            for name in names
        }
    return (frames, types) if with_types else frames


def in_microseconds(frame: pd.DataFrame) -> pd.DataFrame:
    """Delta stores timestamps in microseconds: a nanosecond column of the DuckDB file compares as microseconds."""
    return frame.astype(
        {name: "datetime64[us]" for name, dtype in frame.dtypes.items() if str(dtype) == "datetime64[ns]"}
    )


def assert_same_tables(expected: dict[str, pd.DataFrame], actual: dict[str, pd.DataFrame], **tolerance) -> None:
    assert sorted(actual) == sorted(expected)
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(in_microseconds(frame), actual[name], obj=f"signals.{name}", **tolerance)


FIXTURE_WEEKS = SAMPLE_WEEK_KEYS[-3:]


@pytest.fixture(scope="module")
def serial(tmp_path_factory, tiny_finbert_dir):
    """Every weekly asset of the last three sample weeks, one week after the other, then the assets over all weeks
    (the backtest report), into the DuckDB file and into Delta. (The Postgres test compares eight weeks run at
    once; three serial weeks here are enough for types, files and the report.)"""
    folder = tmp_path_factory.mktemp("serial")
    duck, delta = warehouse_in(folder / "duckdb", "duckdb"), warehouse_in(folder / "delta", "delta")
    for warehouse in (duck, delta):
        for week in FIXTURE_WEEKS:
            run(warehouse, tiny_finbert_dir, week, WEEKLY)
        if ACROSS_WEEKS:
            run(warehouse, tiny_finbert_dir, None, ACROSS_WEEKS)
    (duck_tables, duck_types), (delta_tables, delta_types) = tables(duck, True), tables(delta, True)
    return SimpleNamespace(
        duck=duck, delta=delta, duck_tables=duck_tables, delta_tables=delta_tables, types=(duck_types, delta_types)
    )


def test_the_sample_weeks_give_the_same_tables_in_delta_as_in_the_duckdb_file(serial):
    duck, delta = serial.duck_tables, serial.delta_tables
    assert {"headline_scores", "signal_evaluation", *WEEKLY, *ACROSS_WEEKS} <= set(delta)
    assert_same_tables(duck, delta)
    assert serial.types[1] == serial.types[0]
    assert delta["raw_articles"]["week_start"].nunique() == len(FIXTURE_WEEKS)
    assert set(delta["signal_evaluation"]["status"]) == {"scored", "pending"}
    # The same submission files and report, byte for byte; and the delta runs never made a DuckDB file.
    written = sorted(path.name for path in Path(serial.duck.output_dir).iterdir() if path.suffix in (".csv", ".md"))
    assert len([name for name in written if name.endswith(".csv")]) == len(FIXTURE_WEEKS)
    assert filecmp.cmpfiles(serial.duck.output_dir, serial.delta.output_dir, written, shallow=False)[0] == written
    assert not Path(serial.delta.database).exists()


def week_files(root: str, table: str) -> dict[str, set[str]]:
    """The data files of each week of a Delta table (its current version)."""
    files: dict[str, set[str]] = {}
    for uri in DeltaTable(f"{root}/signals/{table}").file_uris():
        week = uri.split("week_start=")[1][:10]
        files.setdefault(week, set()).add(uri)
    return files


def test_re_running_a_week_replaces_exactly_that_week(serial, tmp_path, tiny_finbert_dir):
    shutil.copytree(serial.delta.delta_root, tmp_path / "delta")
    warehouse = warehouse_in(tmp_path, "delta")
    week = SAMPLE_WEEK_KEYS[2]
    before_files = week_files(warehouse.delta_root, "filtered_headlines")
    before = serial.delta_tables["filtered_headlines"]

    # The week again, with neutral articles kept: its rows change, every other week's rows and files stay.
    keep_neutral = {"ops": {"filtered_headlines": {"config": {"drop_neutral": False}}}}
    run(warehouse, tiny_finbert_dir, week, ["filtered_headlines"], keep_neutral)
    after = tables(warehouse)["filtered_headlines"]
    this_week = after["week_start"] == pd.Timestamp(week)
    assert this_week.sum() > (before["week_start"] == pd.Timestamp(week)).sum()
    pd.testing.assert_frame_equal(
        after[~this_week].reset_index(drop=True),
        before[before["week_start"] != pd.Timestamp(week)].reset_index(drop=True),
    )
    files = week_files(warehouse.delta_root, "filtered_headlines")
    assert {key: value for key, value in files.items() if key != week} == {
        key: value for key, value in before_files.items() if key != week
    }
    assert files[week].isdisjoint(before_files[week])

    # And as before: the same rows as the first time, in every table.
    run(warehouse, tiny_finbert_dir, week, ["filtered_headlines"])
    assert_same_tables(serial.delta_tables, tables(warehouse))


def test_duckdb_reads_the_delta_tables_through_the_warehouse_and_the_documented_recipe(serial):
    week = pd.Timestamp(SAMPLE_WEEK_KEYS[-1])
    with serial.delta.connect() as connection:
        through_warehouse = connection.execute(
            "SELECT * FROM signals.scaled_signal WHERE week_start = ? ORDER BY numerai_ticker", [week]
        ).fetchdf()
        with pytest.raises(ReadOnlyWarehouse, match=r"INSERT refused.*SIGNALS_WAREHOUSE=duckdb"):
            connection.execute("INSERT INTO signals.scaled_signal SELECT * FROM signals.scaled_signal")
        with pytest.raises(duckdb.CatalogException):  # a table never written: as in the DuckDB file
            connection.execute("SELECT * FROM signals.no_such_table")

    # The README's recipe, as a user types it: the deltalake package and DuckDB, nothing of this project.
    recipe = duckdb.connect()
    recipe.register(
        "scaled_signal", DeltaTable(f"{serial.delta.delta_root}/signals/scaled_signal").to_pyarrow_dataset()
    )
    by_recipe = recipe.sql(
        f"SELECT * FROM scaled_signal WHERE week_start = '{SAMPLE_WEEK_KEYS[-1]}' ORDER BY numerai_ticker"
    ).df()
    pd.testing.assert_frame_equal(by_recipe, through_warehouse)
    assert len(by_recipe) == (serial.duck_tables["scaled_signal"]["week_start"] == week).sum() > 0


def test_an_empty_week_creates_typed_delta_tables_that_a_later_week_fills(tmp_path, tiny_finbert_dir):
    warehouse = warehouse_in(tmp_path, "delta")
    run(warehouse, tiny_finbert_dir, "2026-09-05", [*UP_TO_SCORES, "finbert_scores"])  # before the sample: no news
    run(warehouse, tiny_finbert_dir, SAMPLE_WEEK_KEYS[0], UP_TO_SCORES)
    with warehouse.connect() as connection:
        types = dict(
            connection.execute("SELECT column_name, column_type FROM (DESCRIBE signals.raw_articles)").fetchall()
        )
        weeks = connection.execute(
            "SELECT DISTINCT strftime(week_start, '%Y-%m-%d') FROM signals.raw_articles"
        ).fetchall()
        scores = connection.execute("SELECT count(*) FROM signals.finbert_scores").fetchone()
    assert types["tickers"] == "VARCHAR[]" and types["title"] == "VARCHAR"
    assert weeks == [(SAMPLE_WEEK_KEYS[0],)]
    assert scores == (0,)


def test_a_commit_conflicting_with_another_runs_is_run_again_and_one_that_keeps_conflicting_fails_clearly(tmp_path):
    """Two writers of the same week: the later one read the table before the other's commit, so deltalake refuses
    its commit; run again on the new version, it lands. Each run only sees a stale version: a clear error."""
    uri = str(tmp_path / "signals" / "t")
    predicate = "week_start >= '2026-10-10 00:00:00' AND week_start < '2026-10-17 00:00:00'"

    def week(value: int) -> pd.DataFrame:
        return pd.DataFrame({"value": [value, value], "week_start": pd.Timestamp("2026-10-10")})

    def overwrite(table, value: int) -> None:
        write_deltalake(table, week(value), mode="overwrite", predicate=predicate, partition_by=["week_start"])

    overwrite(uri, 0)
    overwrite(uri, 1)  # "another run" commits after our snapshot (version 0) was taken
    snapshots = iter([DeltaTable(uri, version=0)])
    attempts = committed(lambda: overwrite(next(snapshots, None) or DeltaTable(uri), 2), "Writing week 2026-10-10")
    assert attempts == 2
    assert DeltaTable(uri).to_pandas()["value"].tolist() == [2, 2]

    with pytest.raises(
        DeltaWriteConflict,
        match=r"Writing week 2026-10-10 did not commit in 3 attempts.*run this one again.*dagster/partition",
    ):
        committed(lambda: overwrite(DeltaTable(uri, version=0), 3), "Writing week 2026-10-10", retries=2)
    assert DeltaTable(uri).to_pandas()["value"].tolist() == [2, 2]


WITHOUT_THE_SCALE_EXTRA = """
import sys
for package in ("deltalake", "dagster_deltalake", "dagster_deltalake_pandas"):
    sys.modules[package] = None  # what `import` meets when the package is not installed
from signals_assets.definitions import build_definitions
from signals_assets.defs.warehouse import Warehouse
build_definitions()
with Warehouse(backend="duckdb", database=sys.argv[1] + "/w.duckdb").connect() as connection:
    print("duckdb", connection.execute("SELECT 42").fetchone()[0])
try:
    with Warehouse(backend="delta", delta_root=sys.argv[1]).connect():
        pass
except ImportError as error:
    print(error)
"""


def test_without_the_scale_extra_the_definitions_load_and_the_delta_backend_names_the_extra(tmp_path):
    """dg imports every module under defs/ when the code location loads: none of them may need deltalake."""
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_THE_SCALE_EXTRA, str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "duckdb 42" in done.stdout
    assert "SIGNALS_WAREHOUSE=delta" in done.stdout and 'pip install -e ".[scale]"' in done.stdout


class ProbeConfig(dg.Config):
    column: str = "value"
    as_text: bool = False


@dg.asset(partitions_def=weekly_partitions, metadata={"partition_expr": "week_start"})
def probe(context: dg.AssetExecutionContext, config: ProbeConfig) -> pd.DataFrame:
    value = "one" if config.as_text else 1.0
    return pd.DataFrame({config.column: [value], "week_start": week_of(context).week_start})


def test_a_column_gained_is_added_and_earlier_weeks_hold_null_in_it(tmp_path):
    """A table from before the asset gained a column (the signal variants' `variant`) takes the new column."""
    resources = {"warehouse": warehouse_in(tmp_path, "delta"), "io_manager": warehouse_io_manager}
    assert materialize([probe], partition_key=SAMPLE_WEEK_KEYS[0], resources=resources).success
    gained = {"ops": {"probe": {"config": {"column": "variant"}}}}
    assert materialize([probe], partition_key=SAMPLE_WEEK_KEYS[1], resources=resources, run_config=gained).success
    with resources["warehouse"].connect() as connection:
        rows = connection.execute("SELECT value, variant FROM signals.probe ORDER BY week_start").fetchall()
    assert rows == [(1.0, None), (None, 1.0)]


def test_a_week_whose_column_types_changed_fails_naming_the_table_and_the_fix(tmp_path):
    resources = {"warehouse": warehouse_in(tmp_path, "delta"), "io_manager": warehouse_io_manager}
    first = materialize([probe], partition_key=SAMPLE_WEEK_KEYS[0], resources=resources)
    assert first.success
    retyped = {"ops": {"probe": {"config": {"as_text": True}}}}
    second = materialize(
        [probe], partition_key=SAMPLE_WEEK_KEYS[1], resources=resources, run_config=retyped, raise_on_error=False
    )
    (failure,) = [event for event in second.all_events if event.is_step_failure]
    error = failure.step_failure_data.error.cause
    assert error.cls_name == "DeltaSchemaChanged"
    assert "signals.probe (partition 2026-10-17)" in error.message and "Move " in error.message
    assert "materialize every week of probe again" in error.message
    with resources["warehouse"].connect() as connection:
        assert connection.execute("SELECT count(*) FROM signals.probe").fetchone() == (1,)
