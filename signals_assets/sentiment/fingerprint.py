"""What a FinBERT model's scores depend on, fingerprinted without loading it: the key of the per-headline
score cache (signals.headline_scores), so that changed weights are rescored and unchanged ones are not.

- A local directory: sha256 over the sorted names and contents of the files `from_pretrained` reads from
  it (config, weights, tokenizer), shortened to 'sha256:<16 hex>'. Other files (a README, Trainer
  checkpoints in subfolders, optimizer state) do not count. The files are read and hashed each time:
  about 0.3 s for a bert-base checkpoint (440 MB), which is simpler and safer than remembering digests
  by inode and mtime (a file rewritten within one mtime tick would keep its old digest).
- A hub id: the commit its revision resolves to, asked of the hub, or read from the local Hugging Face
  cache when offline mode is on or the hub cannot be reached (as `from_pretrained` falls back). A commit
  names its files for good; the model is then loaded at that commit (`load_revision`), so the scores
  stored under it are that commit's.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path

from signals_assets.sentiment.errors import FinBERTLoadError
from signals_assets.sentiment.labels import parse_label_map
from signals_assets.sentiment.loading import HUB_DOWNLOAD_HELP, local_model_directory, offline_mode

FINGERPRINT_HEX = 16  # 64 bits: no accidental collision between the versions of one model
# Top-level files from_pretrained reads for a sequence classifier and its tokenizer.
SCORE_FILES = frozenset(
    {
        "config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "added_tokens.json",
        "vocab.txt",
        "vocab.json",
        "merges.txt",
    }
)
SCORE_FILE_SUFFIXES = (".safetensors", ".bin", ".index.json", ".model")  # weights, shard indexes, sentencepiece
COMMIT = re.compile(r"[0-9a-f]{40}")
HUB_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class ModelFingerprint:
    """value: the cache key ('sha256:...' of a local directory's files, or a hub commit). load_revision:
    the revision to load (the commit for a hub id, so the scores are that commit's). described: what
    the value was computed from, for logs and metadata."""

    model: str
    value: str
    load_revision: str | None
    described: str
    local: bool


@dataclass(frozen=True)
class Checkpoint:
    """A model to score with: hub id or local folder, the revision asked for, and the label map (None: the
    model's own label names). Variants with equal checkpoints share one load and one set of scores."""

    model: str
    revision: str | None = None
    label_map: str | None = None

    def cache_revision(self, fingerprint: ModelFingerprint) -> str:
        """The `revision` key of the headline score cache: the fingerprint of the model's files, and the label map
        when one is given (the same weights read with another label order give other scores)."""
        if self.label_map is None:
            return fingerprint.value
        mapping = parse_label_map(self.label_map) or {}
        return f"{fingerprint.value}|labels:" + ",".join(f"{index}:{mapping[index]}" for index in sorted(mapping))


def score_files(directory: Path) -> list[Path]:
    """The files of a saved model that define its scores, sorted by name."""
    return sorted(
        (path for path in directory.iterdir() if is_score_file(path.name) and path.is_file()),
        key=lambda path: path.name,
    )


def is_score_file(name: str) -> bool:
    return name in SCORE_FILES or name.endswith(SCORE_FILE_SUFFIXES)


def file_digest(path: Path) -> str:
    """sha256 of a file's content (a hub snapshot's files are symlinks to blobs: the blob is read)."""
    with path.open("rb") as handle:
        if hasattr(hashlib, "file_digest"):  # Python 3.11+
            return hashlib.file_digest(handle, "sha256").hexdigest()
        hasher = hashlib.sha256()
        for block in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(block)
        return hasher.hexdigest()


def directory_fingerprint(directory: str | Path) -> tuple[str, list[Path]]:
    """('sha256:<16 hex>', the files it covers): over each score file's name and content digest."""
    files = score_files(Path(directory))
    hasher = hashlib.sha256()
    for path in files:
        hasher.update(f"{path.name}\0{file_digest(path)}\n".encode())
    return f"sha256:{hasher.hexdigest()[:FINGERPRINT_HEX]}", files


def hub_commit(model: str, revision: str | None, cache_dir: str | Path | None = None) -> tuple[str, str]:
    """(commit, how it was found) for a hub id: a commit given as the revision is itself; else the hub
    is asked, and where it cannot be (offline mode, no connection, hub down) the local cache's ref."""
    if revision and COMMIT.fullmatch(revision):
        return revision, "the pinned commit"
    if offline_mode():
        problem = "offline mode is on (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE), so the hub is not asked"
    else:
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HfHubHTTPError

        try:
            sha = HfApi().model_info(model, revision=revision, timeout=HUB_TIMEOUT_S).sha
            if sha:
                return sha, "the hub"
            problem = "the hub named no commit"
        except HfHubHTTPError as error:
            status = getattr(getattr(error, "response", None), "status_code", None)
            if status is not None and status < 500:  # the hub answered: no such repository or revision, no access
                raise FinBERTLoadError(
                    f"FinBERT model {model!r} (revision {revision or 'default'}) is not on the Hugging Face hub "
                    f"or not accessible ({type(error).__name__}: {_first_line(error)}). {HUB_DOWNLOAD_HELP}"
                ) from error
            problem = f"the hub could not be reached ({type(error).__name__}: {_first_line(error)})"
        # No connection, a timeout, offline mode set at import (the error classes differ between
        # huggingface_hub versions): like from_pretrained, fall back to the local cache.
        except Exception as error:
            problem = f"the hub could not be reached ({type(error).__name__}: {_first_line(error)})"
    from huggingface_hub import try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(model, "config.json", cache_dir=cache_dir, revision=revision)
    except ValueError as error:  # not a valid repository id
        raise FinBERTLoadError(
            f"FinBERT model {model!r} is neither a local directory nor a hub id ({error}). {HUB_DOWNLOAD_HELP}"
        ) from error
    if isinstance(cached, str):  # <cache>/models--org--name/snapshots/<commit>/config.json
        return Path(cached).parent.name, f"the local Hugging Face cache ({problem})"
    raise FinBERTLoadError(
        f"FinBERT model {model!r} (revision {revision or 'default'}) cannot be identified: {problem}, and the "
        f"local Hugging Face cache holds no snapshot of it. {HUB_DOWNLOAD_HELP}"
    )


def model_fingerprint(model: str, revision: str | None = None, cache_dir: str | Path | None = None) -> ModelFingerprint:
    """The fingerprint of FinBERT model `model` (the FinBERT resource's `model`, env FINBERT_MODEL) at
    `revision` (a hub id's branch, tag or commit; ignored for a local directory)."""
    started = time.perf_counter()
    directory = local_model_directory(model)
    if directory is None:
        commit, source = hub_commit(model, revision, cache_dir)
        return ModelFingerprint(
            model,
            commit,
            commit,
            f"commit of {model} at {revision or 'its default branch'}, from {source}",
            local=False,
        )
    value, files = directory_fingerprint(directory)
    megabytes = sum(path.stat().st_size for path in files) / 1e6
    described = (
        f"sha256 of {len(files)} files in {directory} ({', '.join(path.name for path in files)}; "
        f"{megabytes:.1f} MB, {time.perf_counter() - started:.2f} s)"
    )
    return ModelFingerprint(model, value, revision, described, local=True)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else "no message"
