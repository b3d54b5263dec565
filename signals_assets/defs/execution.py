"""How a run's steps execute: which executor runs them (in one process, a process each, or on a cluster), and the
Kubernetes request of the GPU step.

Both are read from the environment where the code location loads (defs/environment.py), and neither changes
a local run: the executor stays `in_process` unless SIGNALS_EXECUTOR says otherwise, and the
`dagster-k8s/config` tag on `finbert_scores` is read only by dagster-k8s' `k8s_job_executor`, which launches
each step as its own Kubernetes Job. Every other executor ignores it.

This module defines no Dagster objects, only the functions that build them for defs/resources.py (the code
location's executor) and defs/sentiment/assets.py (the FinBERT step's tags), so loading the defs folder finds
nothing here to register.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from signals_assets.defs.environment import choice_from_env, json_from_env

EXECUTORS = ("in_process", "multiprocess", "k8s")
DEFAULT_EXECUTOR = "in_process"

# The tag dagster-k8s reads (dagster_k8s.job.USER_DEFINED_K8S_CONFIG_KEY): under the k8s_job_executor, each
# step's pod is built from its op's tags; under the K8sRunLauncher, the run's pod from the run's tags.
K8S_CONFIG_TAG = "dagster-k8s/config"
GPU_RESOURCE = "nvidia.com/gpu"

NODE_SELECTOR_EXAMPLE = '{"nvidia.com/gpu.present": "true"}'
TOLERATIONS_EXAMPLE = '[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]'


def step_process_preloads() -> list[str]:
    """What the multiprocess executor's forkserver imports once per run, before it forks a process per step:
    the instance's storage (SQLite, the default, or PostgreSQL: SQLAlchemy and alembic), which each step
    process opens, the Delta warehouse's IO manager, and signals_assets.preloaded, which loads the code
    location (every module of the defs folder, pandas, DuckDB) and builds its definitions. The forkserver skips
    a module that cannot be imported (the Delta IO manager and dagster_postgres without the `scale` extra).
    Last, FinBERT's scorer with torch and transformers' BERT, imported but not used (no CUDA initialized, no
    thread started, so forking after them is safe): finbert_scores, the step that holds the `gpu` pool's slot,
    then spends that slot scoring rather than importing (~6 s of imports on 2 CPU cores).

    Without it each step's process is a fresh interpreter that imports and loads the code location again,
    several CPU-seconds before the step does anything (a week's run: 14 such processes)."""
    return [
        "dagster._core.storage.sqlite_storage",
        "dagster_postgres",
        "signals_assets.delta_io_manager",
        "signals_assets.preloaded",
        "signals_assets.sentiment.scorer",
        "transformers.models.bert.modeling_bert",
    ]


def executor_name() -> str:
    """SIGNALS_EXECUTOR, checked: `in_process` (default), `multiprocess` or `k8s`."""
    return choice_from_env("SIGNALS_EXECUTOR", DEFAULT_EXECUTOR, EXECUTORS)


def run_executor() -> dg.ExecutorDefinition:
    """The executor of every job of the code location.

    - `in_process` (default): the steps of a run share one process. DuckDB allows one writing process per
      file, so this is the setting for the DuckDB warehouse.
    - `multiprocess`: a process per step, as many at once as the DAG and the CPUs allow, each forked from a
      forkserver that imported the code location once; only with the Delta warehouse (SIGNALS_WAREHOUSE=delta),
      which takes concurrent writers.
    - `k8s`: dagster-k8s' `k8s_job_executor`, a Kubernetes Job per step (the run fans out over the cluster,
      and `finbert_scores` gets its GPU pod). Needs the `[scale]` extra, a run launched on Kubernetes and a
      warehouse every pod reaches (the Delta warehouse on a shared volume).
    """
    name = executor_name()
    if name == "in_process":
        return dg.in_process_executor
    if name == "multiprocess":
        # A forkserver with the code location preloaded (step_process_preloads) rather than a spawned
        # interpreter per step, as many steps at once as there are CPUs.
        return dg.multiprocess_executor.configured(
            {"start_method": {"forkserver": {"preload_modules": step_process_preloads()}}},
            name="multiprocess",
        )
    try:
        from dagster_k8s import k8s_job_executor
    except ImportError as error:
        raise ImportError(
            "SIGNALS_EXECUTOR=k8s needs dagster-k8s, which is not installed: "
            'pip install -e ".[scale]" (or unset SIGNALS_EXECUTOR to run steps in one process).'
        ) from error
    return k8s_job_executor


def finbert_node_selector() -> dict[str, str] | None:
    """FINBERT_K8S_NODE_SELECTOR: a JSON object of node labels the FinBERT pod must run on; unset: none."""
    selector = json_from_env("FINBERT_K8S_NODE_SELECTOR", None, dict, NODE_SELECTOR_EXAMPLE)
    if selector is not None and not all(isinstance(value, str) for value in selector.values()):
        raise ValueError(
            f"FINBERT_K8S_NODE_SELECTOR: every label value must be a string, like {NODE_SELECTOR_EXAMPLE}."
        )
    return selector


def finbert_tolerations() -> list[dict[str, Any]] | None:
    """FINBERT_K8S_TOLERATIONS: a JSON list of Kubernetes tolerations (objects) for the FinBERT pod, so it
    may run on tainted GPU nodes; unset: none."""
    tolerations = json_from_env("FINBERT_K8S_TOLERATIONS", None, list, TOLERATIONS_EXAMPLE)
    if tolerations is not None and not all(isinstance(toleration, dict) for toleration in tolerations):
        raise ValueError(f"FINBERT_K8S_TOLERATIONS: every toleration must be an object, like {TOLERATIONS_EXAMPLE}.")
    return tolerations


def finbert_k8s_config() -> dict[str, Any]:
    """The `dagster-k8s/config` of the FinBERT step: one GPU, and the node selector and tolerations when set."""
    config: dict[str, Any] = {"container_config": {"resources": {"limits": {GPU_RESOURCE: 1}}}}
    pod_spec: dict[str, Any] = {}
    node_selector = finbert_node_selector()
    if node_selector:
        pod_spec["node_selector"] = node_selector
    tolerations = finbert_tolerations()
    if tolerations:
        pod_spec["tolerations"] = tolerations
    if pod_spec:
        config["pod_spec_config"] = pod_spec
    return config


def finbert_op_tags() -> dict[str, Any]:
    """The op tags of `finbert_scores`: its GPU request for the k8s_job_executor (ignored by every other)."""
    return {K8S_CONFIG_TAG: finbert_k8s_config()}
