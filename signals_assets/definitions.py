"""The code location: everything under signals_assets/defs/, loaded the dg way."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import dagster as dg


def build_definitions(resources: Mapping[str, object] | None = None) -> dg.Definitions:
    """The definitions in defs/; `resources` replace those of the same key (the demo, tests, benches)."""
    loaded = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    if not resources:
        return loaded
    return dg.Definitions(
        assets=loaded.assets,
        asset_checks=loaded.asset_checks,
        jobs=loaded.jobs,
        schedules=loaded.schedules,
        sensors=loaded.sensors,
        resources={**(loaded.resources or {}), **resources},
        executor=loaded.executor,
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
