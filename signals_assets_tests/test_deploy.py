"""deploy/: what can be checked without Docker, Kubernetes or a PostgreSQL server.

- deploy/dagster.yaml (the shared instance) passes Dagster's own instance-config validation, and its postgres
  storage resolves every setting from the environment through dagster-postgres' schema;
- the instance settings deploy/helm/values.yaml gives Dagster's Helm chart, rendered the way the chart's
  templates render them (a mirror of the few templates involved, not Helm itself), validate the same way,
  agree with deploy/dagster.yaml, and name the code location's image and module;
- with SIGNALS_EXECUTOR=k8s the Definitions load with dagster-k8s' k8s_job_executor, and the finbert_scores
  step carries the GPU request (and the node selector and tolerations from the environment), which dagster-k8s
  turns into the step's pod; with the default settings the executor stays in-process;
- the Dockerfile serves the module and installs the extra.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg
import pytest
import tomlkit  # a dependency of dagster-dg-cli; tomllib is Python 3.11+
import yaml
from dagster._config import process_config, resolve_to_config_type
from dagster._core.instance.config import ConcurrencyConfig, dagster_instance_config
from dagster._core.instance.ref import InstanceRef
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._core.storage.config import pg_config

from signals_assets.defs import execution
from signals_assets.defs.environment import VARIABLES

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
MODULE = "signals_assets.definitions"
PG_ENV = {
    "DAGSTER_PG_USERNAME": "dagster",
    "DAGSTER_PG_PASSWORD": "not-a-real-password",
    "DAGSTER_PG_HOST": "postgres.example.internal",
    "DAGSTER_PG_DB": "dagster",
    "DAGSTER_PG_PORT": "5433",
}
POSTGRES_FIELDS = ("username", "password", "hostname", "db_name", "port")  # in PG_ENV's order
PROJECT_SETTING_PREFIXES = ("STOCKNEWS_", "NUMERAI_", "FINBERT_", "SIGNALS_", "SIGNAL_")
# Cleared from the environment of a process that loads the definitions (the machine's own settings stay out).
PROJECT_ENV_PREFIXES = (*PROJECT_SETTING_PREFIXES, "DAGSTER_")
HAS_DAGSTER_K8S = importlib.util.find_spec("dagster_k8s") is not None
HAS_DAGSTER_POSTGRES = importlib.util.find_spec("dagster_postgres") is not None
NEEDS_K8S = pytest.mark.skipif(not HAS_DAGSTER_K8S, reason='dagster-k8s is not installed: pip install -e ".[scale]"')
NEEDS_POSTGRES = pytest.mark.skipif(
    not HAS_DAGSTER_POSTGRES, reason='dagster-postgres is not installed: pip install -e ".[scale]"'
)


@pytest.fixture
def pg_env(monkeypatch):
    for name, value in PG_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="module")
def helm_values() -> dict:
    return yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())


@pytest.fixture(scope="module")
def shared_instance() -> dict:
    return yaml.safe_load((DEPLOY / "dagster.yaml").read_text())


# deploy/dagster.yaml ------------------------------------------------------------------------------------------


def test_shared_instance_config_passes_dagsters_validation_without_a_database(pg_env, tmp_path):
    config, custom_class = dagster_instance_config(str(DEPLOY), config_filename="dagster.yaml")
    assert custom_class is None
    assert set(config["storage"]) == {"postgres"}

    # The instance's own reading of the file (no storage is opened): postgres storage, the queue, the limits.
    ref = InstanceRef.from_dir(str(tmp_path), config_dir=str(DEPLOY), config_filename="dagster.yaml")
    assert (ref.storage_data.module_name, ref.storage_data.class_name) == ("dagster_postgres", "DagsterPostgresStorage")
    coordinator = ref.run_coordinator_data.rehydrate()
    assert isinstance(coordinator, QueuedRunCoordinator)
    limits = ConcurrencyConfig.from_concurrency_settings(
        ref.settings["concurrency"], coordinator.get_run_queue_config()
    )
    assert limits.run_queue_config.max_concurrent_runs >= 4, "the shared instance runs weeks side by side"
    assert limits.pool_config.default_pool_limit == 1, "one FinBERT step per GPU slot"
    assert limits.pool_config.pool_granularity.value == "op"
    assert ref.settings["run_monitoring"]["free_slots_after_run_end_seconds"] > 0
    assert ref.settings["run_retries"] == {"enabled": True, "max_retries": 2}
    assert ref.settings["telemetry"] == {"enabled": False}


def test_every_postgres_setting_of_the_shared_instance_comes_from_the_environment(pg_env, shared_instance):
    postgres_db = shared_instance["storage"]["postgres"]["postgres_db"]
    assert postgres_db == {
        **{field: {"env": name} for field, name in zip(POSTGRES_FIELDS, PG_ENV)},
        "scheme": "postgresql+psycopg2",
    }
    resolved = process_config(resolve_to_config_type(pg_config()), shared_instance["storage"]["postgres"])
    assert resolved.success, resolved.errors
    assert resolved.value["postgres_db"] == {
        "username": "dagster",
        "password": "not-a-real-password",
        "hostname": "postgres.example.internal",
        "db_name": "dagster",
        "port": 5433,
        "params": {},
        "scheme": "postgresql+psycopg2",  # psycopg2, which dagster-postgres installs; not SQLAlchemy 2.1's psycopg 3
    }


def test_an_unset_postgres_variable_is_named(pg_env, monkeypatch, shared_instance):
    monkeypatch.delenv("DAGSTER_PG_PASSWORD")
    resolved = process_config(resolve_to_config_type(pg_config()), shared_instance["storage"]["postgres"])
    assert not resolved.success
    assert "DAGSTER_PG_PASSWORD" in " ".join(error.message for error in resolved.errors)


@NEEDS_POSTGRES
def test_the_postgres_storage_class_of_the_extra_accepts_the_shared_instance_storage(pg_env, shared_instance):
    from dagster_postgres import DagsterPostgresStorage

    resolved = process_config(
        resolve_to_config_type(DagsterPostgresStorage.config_type()), shared_instance["storage"]["postgres"]
    )
    assert resolved.success, resolved.errors


# deploy/helm/values.yaml ---------------------------------------------------------------------------------------


def chart_instance_config(values: dict, release_namespace: str = "signals") -> dict:
    """The parts of the instance dagster.yaml that Dagster's chart writes from `values` (configmap-instance.yaml
    and helpers/instance/*.tpl of helm/dagster), for the keys this project sets; chart defaults filled in."""
    pg = values["postgresql"]
    postgres_db = {
        "username": pg["postgresqlUsername"],
        "password": {"env": "DAGSTER_PG_PASSWORD"},
        "hostname": pg["postgresqlHost"],
        "db_name": pg["postgresqlDatabase"],
        "port": pg["service"]["port"],
        "params": pg.get("postgresqlParams", {}),
        **({"scheme": pg["postgresqlScheme"]} if pg.get("postgresqlScheme") else {}),
    }
    storage = {"config": {"postgres_db": postgres_db}}
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    daemon = values["dagsterDaemon"]
    queued = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    concurrency = values["concurrency"]
    coordinator_config = {}
    if queued.get("maxConcurrentRuns") is not None or not concurrency["enabled"]:
        coordinator_config["max_concurrent_runs"] = (
            -1 if queued.get("maxConcurrentRuns") is None else queued["maxConcurrentRuns"]
        )
    if queued.get("tagConcurrencyLimits"):
        coordinator_config["tag_concurrency_limits"] = queued["tagConcurrencyLimits"]
    config = {
        "run_storage": {"module": "dagster_postgres.run_storage", "class": "PostgresRunStorage", **storage},
        "event_log_storage": {"module": "dagster_postgres.event_log", "class": "PostgresEventLogStorage", **storage},
        "schedule_storage": {
            "module": "dagster_postgres.schedule_storage",
            "class": "PostgresScheduleStorage",
            **storage,
        },
        "run_launcher": {
            "module": "dagster_k8s",
            "class": "K8sRunLauncher",
            "config": {
                "load_incluster_config": launcher.get("loadInclusterConfig", True),
                "job_namespace": launcher.get("jobNamespace") or release_namespace,
                "image_pull_policy": launcher.get("imagePullPolicy", "Always"),
                "service_account_name": "dagster",
                "dagster_home": "/opt/dagster/dagster_home",
                "instance_config_map": "dagster-instance",
                "postgres_password_secret": values["global"]["postgresqlSecretName"],
                "env_secrets": [secret["name"] for secret in launcher.get("envSecrets", [])],
            },
        },
        "run_coordinator": {
            "module": "dagster.core.run_coordinator",
            "class": "QueuedRunCoordinator",
            **({"config": coordinator_config} if coordinator_config else {}),
        },
        "run_monitoring": {
            "enabled": daemon["runMonitoring"]["enabled"],
            "free_slots_after_run_end_seconds": daemon["runMonitoring"]["freeSlotsAfterRunEndSeconds"],
        },
        "run_retries": {"enabled": daemon["runRetries"]["enabled"], "max_retries": daemon["runRetries"]["maxRetries"]},
        "telemetry": {"enabled": values["telemetry"]["enabled"]},
    }
    if concurrency["enabled"]:
        pools, runs = concurrency["pools"], concurrency["runs"]
        config["concurrency"] = {
            "pools": {"default_limit": pools["defaultLimit"], "granularity": pools["granularity"]},
            "runs": {"max_concurrent_runs": runs["maxConcurrentRuns"]},
        }
    return config


def test_helm_values_name_the_code_locations_image_and_module(helm_values):
    user_deployments = helm_values["dagster-user-deployments"]
    assert user_deployments["enabled"] is True
    (deployment,) = user_deployments["deployments"]
    assert deployment["name"] == "signals-assets"
    assert deployment["image"]["repository"] and str(deployment["image"]["tag"])
    assert deployment["dagsterApiGrpcArgs"] == ["-m", MODULE]
    assert deployment["port"] == 3030
    pyproject = tomlkit.parse((ROOT / "pyproject.toml").read_text())
    assert pyproject["tool"]["dagster"]["module_name"] == MODULE
    assert importlib.util.find_spec(MODULE) is not None


def test_helm_values_run_on_kubernetes_with_the_external_postgres_and_secrets_from_secrets(helm_values):
    assert helm_values["runLauncher"]["type"] == "K8sRunLauncher"
    assert helm_values["postgresql"]["enabled"] is False, "the chart's bundled PostgreSQL stays off"
    assert helm_values["postgresql"]["postgresqlHost"]
    assert helm_values["generatePostgresqlPasswordSecret"] is False
    assert helm_values["postgresql"]["postgresqlPassword"] == "", "the password comes from a Secret"
    assert helm_values["global"]["postgresqlSecretName"]
    (deployment,) = helm_values["dagster-user-deployments"]["deployments"]
    assert deployment["envSecrets"] == [{"name": "signals-assets-secrets"}]
    secrets = {"STOCKNEWS_API_KEY", "NUMERAI_PUBLIC_ID", "NUMERAI_SECRET_KEY"}
    assert not secrets & set(deployment["env"]), "API keys come from the Secret, never from the values"
    assert deployment["env"]["SIGNALS_EXECUTOR"] == "k8s"
    assert "nvidia.com/gpu" not in json.dumps(deployment.get("resources", {})), "only the FinBERT step asks for a GPU"


def test_helm_values_set_only_the_projects_own_settings_and_concurrent_runs_only_with_delta(helm_values):
    (deployment,) = helm_values["dagster-user-deployments"]["deployments"]
    project_settings = {name for name in deployment["env"] if name.startswith(PROJECT_SETTING_PREFIXES)}
    assert project_settings <= set(VARIABLES), project_settings - set(VARIABLES)
    if helm_values["concurrency"]["runs"]["maxConcurrentRuns"] > 1:
        assert deployment["env"]["SIGNALS_WAREHOUSE"] == "delta", "a DuckDB file takes one writing run at a time"


def test_helm_values_gpu_settings_parse_as_the_code_location_reads_them(helm_values, monkeypatch):
    (deployment,) = helm_values["dagster-user-deployments"]["deployments"]
    for name in ("FINBERT_K8S_NODE_SELECTOR", "FINBERT_K8S_TOLERATIONS"):
        monkeypatch.setenv(name, deployment["env"][name])
    pod_spec = execution.finbert_k8s_config()["pod_spec_config"]
    assert pod_spec["node_selector"] == {"nvidia.com/gpu.present": "true"}
    assert pod_spec["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]


def test_the_instance_the_chart_writes_from_the_values_passes_dagsters_validation(helm_values, pg_env, tmp_path):
    config = chart_instance_config(helm_values)
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config))
    validated, _ = dagster_instance_config(str(tmp_path), config_filename="dagster.yaml")
    assert "max_concurrent_runs" not in validated["run_coordinator"].get("config", {}), (
        "Dagster refuses a run limit in both the run coordinator and `concurrency`"
    )
    assert validated["concurrency"]["runs"]["max_concurrent_runs"] > 1
    resolved = process_config(resolve_to_config_type(pg_config()), config["run_storage"]["config"])
    assert resolved.success, resolved.errors


def test_the_chart_and_the_shared_instance_set_the_same_limits(helm_values, shared_instance):
    from_chart = chart_instance_config(helm_values)
    for section in ("concurrency", "run_monitoring", "run_retries", "telemetry"):
        assert from_chart[section] == shared_instance[section], section


@NEEDS_K8S
def test_the_k8s_run_launcher_accepts_the_config_the_chart_writes(helm_values):
    from dagster_k8s import K8sRunLauncher

    launcher = chart_instance_config(helm_values)["run_launcher"]
    resolved = process_config(resolve_to_config_type(K8sRunLauncher.config_type()), launcher["config"])
    assert resolved.success, resolved.errors


# deploy/Dockerfile -----------------------------------------------------------------------------------------------


def test_the_dockerfile_serves_the_module_with_cuda_torch_and_the_scale_extra():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    instructions = [line for line in dockerfile.splitlines() if line and not line.startswith("#")]
    text = "\n".join(instructions)
    assert "cuda" in next(line for line in instructions if line.startswith("ARG BASE_IMAGE="))
    assert 'pip install -e ".[scale]"' in text, "an editable install: the dg project needs its pyproject.toml"
    assert "EXPOSE 3030" in text
    assert json.loads(text.split("CMD ", 1)[1].splitlines()[0])[-2:] == ["-m", MODULE]
    assert f"dagster definitions validate -m {MODULE}" in text
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    assert {"*", "!pyproject.toml", "!README.md", "!signals_assets/"} <= set(ignore)
    scale = tomlkit.parse((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["scale"]
    assert {requirement.split(">")[0] for requirement in scale} >= {"dagster-postgres", "dagster-k8s"}


# The executor and the GPU request, as the code location loads them ---------------------------------------------------

LOAD_DEFINITIONS = textwrap.dedent(
    """
    import json, warnings
    warnings.simplefilter("ignore")
    from dagster._core.execution.api import create_execution_plan
    from signals_assets.definitions import defs

    job = defs().resolve_job_def("weekly_signal")
    plan = create_execution_plan(job, tags={"dagster/partition": "2026-11-07"})
    step_tags = {key: dict(plan.get_step_by_key(key).tags) for key in ("finbert_scores", "raw_articles")}
    pod = None
    try:
        from dagster_k8s.job import DagsterK8sJobConfig, construct_dagster_k8s_job, get_user_defined_k8s_config
    except ImportError:
        pass
    else:
        # The step's Kubernetes Job as dagster-k8s builds it from the step's tags (k8s_job_executor does the same).
        job_config = DagsterK8sJobConfig(job_image="signals-assets:test", dagster_home="/opt/dagster/dagster_home")
        k8s_job = construct_dagster_k8s_job(
            job_config, ["dagster"], "dagster-step-test",
            user_defined_k8s_config=get_user_defined_k8s_config(step_tags["finbert_scores"]),
        )
        spec = k8s_job.spec.template.spec
        pod = {
            "limits": spec.containers[0].resources.limits,
            "node_selector": spec.node_selector,
            "tolerations": [t.to_dict() for t in spec.tolerations or []],
        }
    print(json.dumps({"executor": job.executor_def.name, "step_tags": step_tags, "pod": pod}))
    """
)


def load_definitions(settings: dict[str, str]) -> dict:
    """The Definitions as a fresh process loads them with `settings` as the project's environment."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(PROJECT_ENV_PREFIXES)}
    env.update(settings)
    done = subprocess.run(
        [sys.executable, "-c", LOAD_DEFINITIONS], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-8000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def k8s_config(tags: dict) -> dict:
    return json.loads(tags[execution.K8S_CONFIG_TAG])


def test_by_default_steps_run_in_process_and_the_gpu_tag_changes_nothing_else():
    loaded = load_definitions({})
    assert loaded["executor"] == "in_process"
    assert k8s_config(loaded["step_tags"]["finbert_scores"]) == {
        "container_config": {"resources": {"limits": {"nvidia.com/gpu": 1}}}
    }
    assert execution.K8S_CONFIG_TAG not in loaded["step_tags"]["raw_articles"]


@NEEDS_K8S
def test_with_the_k8s_executor_finbert_scores_gets_a_gpu_pod_on_the_chosen_nodes():
    selector = {"nvidia.com/gpu.present": "true", "pool": "gpu"}
    tolerations = [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "preemptible", "operator": "Equal", "value": "true", "effect": "NoExecute"},
    ]
    loaded = load_definitions(
        {
            "SIGNALS_EXECUTOR": "k8s",
            "FINBERT_K8S_NODE_SELECTOR": json.dumps(selector),
            "FINBERT_K8S_TOLERATIONS": json.dumps(tolerations),
        }
    )
    assert loaded["executor"] == "k8s"  # dagster_k8s.k8s_job_executor
    tag = k8s_config(loaded["step_tags"]["finbert_scores"])
    assert tag["pod_spec_config"] == {"node_selector": selector, "tolerations": tolerations}
    pod = loaded["pod"]
    assert pod["limits"] == {"nvidia.com/gpu": "1"}  # the Kubernetes client writes quantities as strings
    assert pod["node_selector"] == selector
    assert [{key: value for key, value in t.items() if value is not None} for t in pod["tolerations"]] == tolerations
    assert execution.K8S_CONFIG_TAG not in loaded["step_tags"]["raw_articles"], "other steps ask for no GPU"


# execution.py's settings -------------------------------------------------------------------------------------------


@pytest.fixture
def clean_cluster_env(monkeypatch):
    for name in ("SIGNALS_EXECUTOR", "FINBERT_K8S_NODE_SELECTOR", "FINBERT_K8S_TOLERATIONS"):
        monkeypatch.delenv(name, raising=False)


def test_the_executor_choices(clean_cluster_env, monkeypatch):
    assert execution.run_executor() is dg.in_process_executor
    monkeypatch.setenv("SIGNALS_EXECUTOR", "multiprocess")
    executor = execution.run_executor()
    assert executor.name == "multiprocess"
    assert executor.executor_creation_fn is dg.multiprocess_executor.executor_creation_fn
    monkeypatch.setenv("SIGNALS_EXECUTOR", "kubernetes")
    with pytest.raises(ValueError, match="SIGNALS_EXECUTOR='kubernetes' is not one of in_process, multiprocess, k8s"):
        execution.run_executor()


PRELOAD_CHECK = textwrap.dedent(
    """
    import os, sys
    import signals_assets.preloaded  # what the forkserver imports
    from signals_assets import definitions
    kept = definitions._preloaded[1]
    reused = definitions.defs() is kept  # a step process forked from it: no second load
    os.environ["SIGNAL_MAX_CHURN"] = "0.3"
    reloaded = definitions.defs() is not kept  # other settings: loaded afresh
    heavy = sorted(m for m in ("torch", "transformers", "matplotlib", "sklearn") if m in sys.modules)
    print(reused, reloaded, heavy)
    """
)


def test_multiprocess_steps_fork_from_a_server_that_preloaded_the_code_location(clean_cluster_env, monkeypatch):
    monkeypatch.setenv("SIGNALS_EXECUTOR", "multiprocess")
    config = execution.run_executor().config_schema.resolve_config({}).value["config"]
    preloads = config["start_method"]["forkserver"]["preload_modules"]
    assert "signals_assets.preloaded" in preloads
    assert {"dagster._core.storage.sqlite_storage", "dagster_postgres", "signals_assets.delta_io_manager"} <= set(
        preloads
    )
    for module in preloads:
        assert importlib.util.find_spec(module) is not None, module
    # The preloaded definitions serve every later load with the same settings, and no other; torch and the other
    # heavy imports are left to the steps that use them: loading the code location imports none of them.
    env = {name: value for name, value in os.environ.items() if not name.startswith(PROJECT_ENV_PREFIXES)}
    loaded = subprocess.run(
        [sys.executable, "-c", PRELOAD_CHECK], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip().splitlines()[-1] == "True True []"


def test_the_k8s_executor_without_dagster_k8s_says_which_extra_to_install(clean_cluster_env, monkeypatch):
    monkeypatch.setenv("SIGNALS_EXECUTOR", "k8s")
    monkeypatch.setitem(sys.modules, "dagster_k8s", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r'pip install -e "\.\[scale\]"'):
        execution.run_executor()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("FINBERT_K8S_NODE_SELECTOR", "gpu=true", "is not JSON"),
        ("FINBERT_K8S_NODE_SELECTOR", '["gpu"]', "is not a JSON object"),
        ("FINBERT_K8S_NODE_SELECTOR", '{"gpu": true}', "every label value must be a string"),
        ("FINBERT_K8S_TOLERATIONS", '{"key": "nvidia.com/gpu"}', "is not a JSON list"),
        ("FINBERT_K8S_TOLERATIONS", '["nvidia.com/gpu"]', "every toleration must be an object"),
    ],
)
def test_malformed_gpu_settings_fail_naming_the_variable(clean_cluster_env, monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name) as raised:
        execution.finbert_op_tags()
    assert message in str(raised.value)
