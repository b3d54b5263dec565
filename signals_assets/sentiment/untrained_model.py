"""FinBERT-shaped models with random weights, saved like a hub checkout: for tests, benchmarks and the
offline demo (their scores mean nothing).

One builder, `build_untrained_model`: a BertForSequenceClassification of a given shape and labels, and
a WordPiece tokenizer from a given vocabulary (a dict, a vocab.txt, or a directory holding a saved
tokenizer) or learnt from given texts, written with `save_pretrained` so that the scorer loads it
through the same `from_pretrained` path as ProsusAI/finbert. The same arguments give the same files.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

PROSUS_LABELS = {0: "positive", 1: "negative", 2: "neutral"}  # ProsusAI/finbert's order
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# Favouring a label adds this to its classifier bias: softmax of +8 against ~0 is ~0.9993.
FAVOUR_BIAS = 8.0


def _label_index(id2label: Mapping[int, str], favour: str | int) -> int:
    if isinstance(favour, int):
        if favour not in id2label:
            raise ValueError(f"favour={favour} is not an index of id2label {dict(id2label)}")
        return favour
    matches = [index for index, name in id2label.items() if name.lower() == favour.lower()]
    if len(matches) != 1:
        raise ValueError(
            f"favour={favour!r} names no single label of id2label {dict(id2label)}; pass the index instead"
        )
    return matches[0]


def learn_vocabulary(texts: Iterable[str], vocab_size: int, lowercase: bool = True) -> dict[str, int]:
    """A WordPiece vocabulary learnt from texts, the same for the same texts: the special tokens, every
    character seen, alone and as a '##' continuation (so no word made of them becomes [UNK]), then whole
    words by falling frequency (ties alphabetical) up to vocab_size tokens in all. Not tokenizers'
    WordPieceTrainer: it breaks ties in hash order, so two runs on the same texts learn different
    vocabularies (and the demo's untrained model scored differently on every fresh build)."""
    from tokenizers import normalizers, pre_tokenizers

    normalizer, splitter = normalizers.BertNormalizer(lowercase=lowercase), pre_tokenizers.BertPreTokenizer()
    counts = Counter(word for text in texts for word, _ in splitter.pre_tokenize_str(normalizer.normalize_str(text)))
    characters = sorted({character for word in counts for character in word})
    continuations = sorted({character for word in counts for character in word[1:]})
    tokens = [*SPECIAL_TOKENS, *characters, *(f"##{character}" for character in continuations)]
    words = sorted((word for word in counts if len(word) > 1), key=lambda word: (-counts[word], word))
    tokens += words[: max(0, vocab_size - len(tokens))]
    return {token: index for index, token in enumerate(tokens)}


def bert_tokenizer(vocabulary: Mapping[str, int] | str | Path, lowercase: bool = True):
    """A fast BERT tokenizer (BERT's normalizer and pre-tokenizer, WordPiece, [CLS] ... [SEP]) for a
    vocabulary: {token: index} or a vocab.txt; a directory is loaded as the tokenizer it holds."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    if isinstance(vocabulary, (str, Path)) and Path(vocabulary).is_dir():
        return AutoTokenizer.from_pretrained(vocabulary)
    if isinstance(vocabulary, (str, Path)):
        # Not BertTokenizerFast(vocab_file=...): transformers 5 ignores the file there (finbert.md).
        lines = Path(vocabulary).read_text(encoding="utf-8").splitlines()
        vocabulary = {token: index for index, token in enumerate(lines)}
    missing = [token for token in SPECIAL_TOKENS if token not in vocabulary]
    if missing:
        raise ValueError(f"The vocabulary lacks the special tokens {missing}.")
    wordpiece = Tokenizer(models.WordPiece(vocab=dict(vocabulary), unk_token="[UNK]"))
    wordpiece.normalizer = normalizers.BertNormalizer(lowercase=lowercase)
    wordpiece.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    cls, sep = vocabulary["[CLS]"], vocabulary["[SEP]"]
    wordpiece.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    wordpiece.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(
        tokenizer_object=wordpiece,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )


def build_untrained_model(
    directory: str | Path,
    id2label: Mapping[int, str] = PROSUS_LABELS,
    *,
    vocabulary: Mapping[str, int] | str | Path | None = None,
    train_texts: Iterable[str] | None = None,
    vocab_size: int = 30_522,
    lowercase: bool = True,
    layers: int = 12,
    hidden: int = 768,
    heads: int = 12,
    intermediate: int = 3072,
    positions: int = 512,
    initializer_range: float = 0.02,
    favour: str | int | None = None,
    seed: int = 0,
    reuse: bool = False,
) -> Path:
    """Save a BertForSequenceClassification with random weights and its tokenizer in `directory`; return it.

    The defaults are bert-base (12 layers, hidden 768, 12 heads, intermediate 3072, 512 positions) with
    ProsusAI/finbert's labels. Exactly one of vocabulary ({token: index}, a vocab.txt, or a directory
    with a saved tokenizer, used as is) and train_texts (`learn_vocabulary`, up to vocab_size tokens).
    favour: a label name from id2label (any case) or a logit index whose classifier bias gets
    +FAVOUR_BIAS, so that label wins for every text. The weights are drawn after torch.manual_seed(seed).
    reuse: return `directory` as it is when it already holds a saved model and tokenizer.
    """
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    directory = Path(directory)
    if reuse and (directory / "config.json").is_file() and (directory / "tokenizer_config.json").is_file():
        return directory
    if (vocabulary is None) == (train_texts is None):
        raise ValueError(
            "Give exactly one of vocabulary (a dict, a vocab.txt or a tokenizer directory) and train_texts."
        )
    id2label = {int(index): str(name) for index, name in id2label.items()}
    favoured = None if favour is None else _label_index(id2label, favour)
    if train_texts is not None:
        vocabulary = learn_vocabulary(train_texts, vocab_size, lowercase)
    tokenizer = bert_tokenizer(vocabulary, lowercase)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=intermediate,
        max_position_embeddings=positions,
        num_labels=len(id2label),
        id2label=id2label,
        label2id={name: index for index, name in id2label.items()},
        initializer_range=initializer_range,
    )
    torch.manual_seed(seed)
    model = BertForSequenceClassification(config).eval()
    if favoured is not None:
        with torch.no_grad():
            model.classifier.bias[favoured] += FAVOUR_BIAS
    from signals_assets.sentiment.loading import no_progress_bars

    directory.mkdir(parents=True, exist_ok=True)
    with no_progress_bars():  # transformers draws a "Writing model shards" bar on stderr
        model.save_pretrained(directory)
        tokenizer.save_pretrained(directory)
    return directory


def build_demo_model(directory: str | Path, titles: Iterable[str]) -> Path:
    """The offline demo's model, reused once saved: 2 layers, hidden 128, 2 heads, ProsusAI's label
    order, large random weights (initializer range 0.2, seed 0) so that scores vary, and a vocabulary of
    up to 4,000 tokens learnt from the titles."""
    return build_untrained_model(
        directory,
        PROSUS_LABELS,
        train_texts=titles,
        vocab_size=4000,
        layers=2,
        hidden=128,
        heads=2,
        intermediate=256,
        positions=128,
        initializer_range=0.2,
        seed=0,
        reuse=True,
    )
