"""The code location: everything under signals_assets/defs/, loaded the dg way."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path

import dagster as dg

# The definitions loaded by `preload()` and the settings they were loaded with (see `preload`).
_preloaded: tuple[tuple[tuple[str, str | None], ...], dg.Definitions] | None = None


def build_definitions(
    resources: Mapping[str, object] | None = None, executor: dg.ExecutorDefinition | None = None
) -> dg.Definitions:
    """The definitions in defs/; `resources` replace those of the same key and `executor` the code location's
    (the demo, tests, benches).

    Each asset carries a reference to the Python function that defines it (`dagster/code_references`): the UI's
    "Source code" link. Modules of the defs folder get none from the loader, which adds one only for what a
    defs.yaml declares (and then points it at the YAML)."""
    loaded = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    with warnings.catch_warnings():
        # Code references are a beta API in dagster 1.13; its warning on every load would say nothing new.
        warnings.simplefilter("ignore", dg.BetaWarning)
        assets = dg.with_source_code_references(list(loaded.assets or []))
    return dg.Definitions(
        assets=assets,
        asset_checks=loaded.asset_checks,
        jobs=loaded.jobs,
        schedules=loaded.schedules,
        sensors=loaded.sensors,
        resources={**(loaded.resources or {}), **(resources or {})},
        executor=executor or loaded.executor,
        loggers=loaded.loggers,
        metadata=loaded.metadata,
        component_tree=loaded.component_tree,
    )


def _settings() -> tuple[tuple[str, str | None], ...]:
    """The project's environment variables (defs/environment.py), on which the loaded definitions depend."""
    from signals_assets.defs.environment import VARIABLES

    return tuple((name, os.environ.get(name)) for name in VARIABLES)


def preload() -> None:
    """Load the definitions now and keep them for `defs()` in this process and every process forked from it.

    Only signals_assets.preloaded calls it, which only the multiprocess executor's forkserver imports
    (defs/execution.py): each step process forked from it then finds the definitions loaded instead of walking
    the defs folder again (about a second a step). Kept only while the settings are the ones they were loaded
    with: a process whose environment differs loads its own.
    """
    global _preloaded
    _preloaded = (_settings(), build_definitions())


@dg.definitions
def defs() -> dg.Definitions:
    if _preloaded is not None and _preloaded[0] == _settings():
        return _preloaded[1]
    return build_definitions()
