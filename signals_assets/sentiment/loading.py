"""Tokenizer and model through `from_pretrained`, from a hub id or a local directory, with errors that
say where the model was looked for and how to provide a local copy."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from signals_assets.sentiment.errors import FinBERTLoadError

HUB_DOWNLOAD_HELP = (
    "Provide a local copy and point the FinBERT resource's `model` at it (env FINBERT_MODEL=/path/to/finbert): "
    "a directory written by `save_pretrained`, or one made on a machine with internet access by "
    "`hf download ProsusAI/finbert --local-dir /path/to/finbert` (older huggingface_hub: `huggingface-cli download ...`)."
)


def offline_mode() -> bool:
    # huggingface_hub reads HF_HUB_OFFLINE once at import; read it per load so it can be switched.
    return any(
        os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def looks_like_path(model: str) -> bool:
    return model.startswith(("/", "./", "../", "~", ".\\")) or os.path.isabs(model) or Path(model).expanduser().exists()


def local_model_directory(model: str) -> Path | None:
    """The directory `model` names, checked to hold a saved model; None when `model` is a hub id."""
    if not looks_like_path(model):
        return None
    directory = Path(model).expanduser()
    if not directory.is_dir():
        raise FinBERTLoadError(f"FinBERT model directory {model!r} does not exist. {HUB_DOWNLOAD_HELP}")
    if not (directory / "config.json").is_file():
        raise FinBERTLoadError(f"{model!r} holds no saved model (no config.json). {HUB_DOWNLOAD_HELP}")
    return directory


def _hub_load_errors() -> tuple[type[BaseException], ...]:
    """What a failed `from_pretrained` raises: transformers and huggingface_hub wrap missing files,
    connection and hub errors in OSError (and bad ids in ValueError); EntryNotFoundError is neither."""
    try:
        from huggingface_hub.errors import EntryNotFoundError
    except ImportError:
        return (OSError, ValueError)
    return (OSError, ValueError, EntryNotFoundError)


LOAD_ERRORS = _hub_load_errors()


@contextlib.contextmanager
def no_progress_bars() -> Iterator[None]:
    """transformers draws a "Loading weights" bar on stderr per load; noise in a run's logs."""
    from transformers.utils import logging as hf_logging

    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            hf_logging.enable_progress_bar()


def load_pretrained(model: str, revision: str | None, attn_implementation: str):
    """(tokenizer, fp32 model in eval mode) from a hub id or a local `save_pretrained` directory."""
    import torch  # here, like transformers: fingerprint.py imports this module without loading a model
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    directory = local_model_directory(model)
    if directory is not None:
        source, is_local, local_files_only = str(directory), True, True
    else:
        source, is_local, local_files_only = model, False, offline_mode()

    options = {"revision": revision, "local_files_only": local_files_only}
    try:
        with no_progress_bars():
            tokenizer = AutoTokenizer.from_pretrained(source, **options)
            network = AutoModelForSequenceClassification.from_pretrained(
                source, dtype=torch.float32, attn_implementation=attn_implementation, **options
            )
    except LOAD_ERRORS as error:
        if is_local:
            where = "from its local directory"
        elif local_files_only:
            where = "from the local Hugging Face cache (offline mode: HF_HUB_OFFLINE is set, so nothing is downloaded)"
        else:
            where = "from the Hugging Face hub"
        cause = str(error).strip().splitlines()[0] if str(error).strip() else "no message"
        reason = (
            ""
            if is_local
            else (
                " The model could not be downloaded: the hub is unreachable, offline mode is on, or the repository "
                "or revision does not exist."
            )
        )
        raise FinBERTLoadError(
            f"FinBERT model {model!r} (revision {revision or 'default'}) could not be loaded {where} "
            f"({type(error).__name__}: {cause}).{reason} {HUB_DOWNLOAD_HELP}"
        ) from error
    return tokenizer, network.eval()
