"""Every environment variable the project reads: read here, and nowhere else.

A resource field that a variable sets is declared `Field(default=from_env(NAME, default))`: the field's
own default is `EnvVar(NAME)` when the variable is set where the code location loads, else the
documented default. Because it is the field's default (not a value given when the resource is built),
a run that changes any other field at launch (the Launchpad, `dagster asset materialize -c`) keeps it,
and a secret is resolved when the run starts, never written into the run's config.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from typing import Any

import dagster as dg

# name -> what it sets (docs/settings.md lists the same; a test keeps the two in step).
VARIABLES = {
    "STOCKNEWS_API_KEY": "Stock News API token; set: real news from the API, unset: the packaged sample news",
    "STOCKNEWS_BASE_URL": "Stock News API base URL (a loopback stand-in in tests)",
    "STOCKNEWS_MONTHLY_CALLS": "the plan's monthly Stock News API call budget (unset: no budget check)",
    "FINBERT_MODEL": "FinBERT hub id or local directory",
    "FINBERT_REVISION": "hub branch, tag or commit of FINBERT_MODEL",
    "FINBERT_LABEL_MAP": "logit index of each label for models named LABEL_0..",
    "FINBERT_DEVICE": "auto, cpu, cuda or cuda:N",
    "FINBERT_PRECISION": "auto, fp32, bf16, fp16 or int8",
    "NUMERAI_PUBLIC_ID": "Numerai API public id (upload)",
    "NUMERAI_SECRET_KEY": "Numerai API secret key (upload)",
    "NUMERAI_MODEL_NAME": "the Signals model to submit as",
    "NUMERAI_UNIVERSE": "the universe: a parquet/csv file, 'live' (Numerai's live.parquet) or 'sample'",
    "NUMERAI_DATASET_VERSION": "pin a Signals dataset version (signals/vX.Y); unset: the newest on the server",
    "NUMERAI_DATA_DIR": "a local folder holding Numerai's files under their own names (validation.parquet, ..)",
    "SIGNALS_DUCKDB_PATH": "the DuckDB warehouse file",
    "SIGNALS_DATA_DIR": "caches: API responses, Numerai files",
    "SIGNALS_OUTPUT_DIR": "submission CSVs",
    "SIGNALS_WAREHOUSE": "duckdb (default: one DuckDB file) or delta (Delta tables many runs can write at once)",
    "SIGNALS_DELTA_ROOT": "the folder of the Delta tables with SIGNALS_WAREHOUSE=delta (default data/delta)",
    "SIGNALS_EXECUTOR": "how a run's steps execute: in_process (default), multiprocess or k8s (a pod per step)",
    "FINBERT_K8S_NODE_SELECTOR": "JSON object: node selector of the finbert_scores pod under the k8s executor",
    "FINBERT_K8S_TOLERATIONS": "JSON list: tolerations of the finbert_scores pod under the k8s executor",
    "SIGNAL_VARIANTS_FILE": "a YAML file of signal variants (`variants:` list) computed side by side every week",
    "SIGNAL_VARIANT": "the variant that is submitted (default finbert)",
    "SIGNAL_STORY_SIMILARITY": "MinHash similarity at which two of a ticker's headlines are one story (default 0.65)",
    "SIGNAL_TAGGED_WEIGHT": "attribution 'title': weight of a ticker tagged but not named (default 1/tagged tickers)",
    "SIGNAL_HALFLIFE_WEEKS": "smooth each ticker's sentiment over earlier weeks (0: this week only; at most 52)",
    "SIGNAL_MAX_CHURN": "the churn gate's threshold before an upload (default 0.2)",
    "SIGNAL_CHURN_GATE": "blend (default), block or warn: what the churn gate does over its threshold",
    "SIGNALS_ALERT_WEBHOOK": "Slack-compatible webhook URL for alerts: a failed weekly run, a missed upload (secret)",
}


def is_set(name: str) -> bool:
    if name not in VARIABLES:
        raise KeyError(f"{name} is not one of the project's environment variables ({', '.join(VARIABLES)}).")
    return bool(os.environ.get(name, "").strip())


def from_env(name: str, default: Any = None) -> Any:
    """A resource field's default: `EnvVar(name)` when the variable is set, else `default`."""
    return dg.EnvVar(name) if is_set(name) else default


def text_from_env(name: str, default: str | None = None) -> str | None:
    """A setting read when the code location loads (a name or a path that is checked then, not a secret): the
    variable's value, stripped, when set, else `default`."""
    return os.environ[name].strip() if is_set(name) else default


def number_from_env(name: str, default: float, minimum: float | None = None, maximum: float | None = None) -> float:
    """A numeric field's default: the variable's value when set, else `default`.

    Dagster takes `EnvVar` only for string fields (and `EnvVar.int`), so a number is read here when the
    code location loads; like `from_env`, it is the field's default and survives a partial override. A value
    outside [minimum, maximum] fails here, naming the variable, rather than in every run that uses it.
    """
    if not is_set(name):
        return default
    value = os.environ[name].strip()
    try:
        number = float(value)
    except ValueError:
        raise ValueError(
            f"{name}={value!r} is not a number: set it to a number such as {default:g}, or unset it."
        ) from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(
            f"{name}={value!r} is not a finite number: set it to a number such as {default:g}, or unset it."
        )
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        bounds = (
            f"from {minimum:g} to {maximum:g}"
            if minimum is not None and maximum is not None
            else (f"at least {minimum:g}" if minimum is not None else f"at most {maximum:g}")
        )
        raise ValueError(
            f"{name}={value!r} is out of range: set it to a number {bounds} (default {default:g}), or unset it."
        )
    return number


def choice_from_env(name: str, default: str, choices: tuple[str, ...]) -> str:
    """A choice field's default (a Literal, which Dagster will not take as `EnvVar`): the variable's value
    when set, checked against `choices`, else `default`."""
    if not is_set(name):
        return default
    value = os.environ[name].strip()
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(choices)}: set one of them, or unset it.")
    return value


def json_from_env(name: str, default: Any, kind: type, example: str) -> Any:
    """A structured setting read when the code location loads: the variable's value parsed as JSON and
    checked to be a `kind` (dict, list), else `default`."""
    if not is_set(name):
        return default
    value = os.environ[name].strip()
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as error:
        raise ValueError(f"{name}={value!r} is not JSON ({error.msg}): set it like {example}, or unset it.") from None
    if not isinstance(parsed, kind):
        expected = {dict: "object", list: "list"}.get(kind, kind.__name__)
        raise ValueError(f"{name}={value!r} is not a JSON {expected}: set it like {example}, or unset it.")
    return parsed


def uses_sample_news() -> bool:
    """No Stock News API key: the packaged sample news (and, unless NUMERAI_UNIVERSE says otherwise,
    the sample universe that goes with it)."""
    return not is_set("STOCKNEWS_API_KEY")


def numerai_data_default() -> Any:
    """NUMERAI_DATA_DIR when set; else, with the sample news, the packaged synthetic Numerai files of the
    sample weeks (so the sample weeks are evaluated offline); else None (Numerai's files, downloaded)."""
    sample = str(resources.files("signals_assets.numerai") / "sample_data")
    return from_env("NUMERAI_DATA_DIR", sample if uses_sample_news() else None)


def universe_default() -> Any:
    """NUMERAI_UNIVERSE when set; else the sample universe with the sample news, Numerai's live one with real news."""
    return from_env("NUMERAI_UNIVERSE", "sample" if uses_sample_news() else "live")
