"""Which logit is which sentiment label.

The order differs between FinBERT checkpoints (ProsusAI/finbert: 0 positive, 1 negative, 2 neutral; the
blog post's ipuneetrathore/bert-base-cased-finetuned-finBERT: generic LABEL_0..2), so the indices are read
from `config.id2label` by name, or from an explicit `label_map`, and never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from signals_assets.sentiment.errors import FinBERTSettingError

LABEL_NAMES = ("positive", "negative", "neutral")
_EXAMPLE = "e.g. label_map='0:negative,1:neutral,2:positive'"


class LabelIndices(NamedTuple):
    """Logit index of each sentiment label in the model's output."""

    positive: int
    negative: int
    neutral: int


def parse_label_map(label_map: str | Mapping[Any, str] | None) -> dict[int, str] | None:
    """'0:negative,1:neutral,2:positive' or {0: 'negative', ...} -> {index: label name}, validated."""
    if label_map is None or (isinstance(label_map, str) and not label_map.strip()):
        return None
    if isinstance(label_map, str):
        pairs = []
        for item in label_map.split(","):
            index, sep, name = item.partition(":")
            if not sep:
                raise FinBERTSettingError(
                    f"label_map={label_map!r}: item {item.strip()!r} is not 'index:label' ({_EXAMPLE})."
                )
            pairs.append((index, name))
    elif isinstance(label_map, Mapping):
        pairs = list(label_map.items())
    else:
        raise FinBERTSettingError(f"label_map must be a string or a dict ({_EXAMPLE}), not {type(label_map).__name__}.")

    mapping: dict[int, str] = {}
    for index, name in pairs:
        try:
            position = int(str(index).strip())
        except ValueError:
            raise FinBERTSettingError(
                f"label_map={label_map!r}: {index!r} is not a logit index ({_EXAMPLE})."
            ) from None
        label = str(name).strip().lower()
        if label not in LABEL_NAMES:
            raise FinBERTSettingError(
                f"label_map={label_map!r}: unknown label {name!r}; the labels are {', '.join(LABEL_NAMES)} ({_EXAMPLE})."
            )
        if position in mapping:
            raise FinBERTSettingError(f"label_map={label_map!r}: index {position} is given twice ({_EXAMPLE}).")
        mapping[position] = label
    if sorted(mapping.values()) != sorted(LABEL_NAMES):
        raise FinBERTSettingError(
            f"label_map={label_map!r} must name each of {', '.join(LABEL_NAMES)} exactly once ({_EXAMPLE})."
        )
    return mapping


def resolve_label_indices(id2label: Mapping[Any, str], label_map: str | Mapping[Any, str] | None) -> LabelIndices:
    """Logit indices of positive/negative/neutral: from an explicit `label_map`, else from the
    model's `config.id2label` names (any case). Generic LABEL_k names without a mapping raise."""
    model_labels = {int(index): str(name) for index, name in id2label.items()}
    mapping = parse_label_map(label_map)
    if mapping is not None:
        for index, label in mapping.items():
            if index not in model_labels:
                raise FinBERTSettingError(
                    f"label_map maps index {index}, but the model has only logits {sorted(model_labels)} "
                    f"(id2label {model_labels})."
                )
            named = model_labels[index].strip().lower()
            if named in LABEL_NAMES and named != label:
                raise FinBERTSettingError(
                    f"label_map says index {index} is {label!r}, but the model's id2label names it {model_labels[index]!r} "
                    f"(id2label {model_labels}). Remove label_map to use the model's own names, or fix it."
                )
        return LabelIndices(**{label: index for index, label in mapping.items()})

    by_label = {}
    for index, name in sorted(model_labels.items()):
        label = name.strip().lower()
        if label in LABEL_NAMES:
            if label in by_label:
                raise FinBERTSettingError(
                    f"The model's id2label names {label!r} twice: {model_labels}. Give an explicit label_map."
                )
            by_label[label] = index
    if len(by_label) < len(LABEL_NAMES):
        raise FinBERTSettingError(
            f"The model's config.id2label {model_labels} does not name the labels {', '.join(LABEL_NAMES)}, so the "
            "positive and negative logits are unknown and will not be guessed. Set `label_map` on the FinBERT resource "
            "(env FINBERT_LABEL_MAP), e.g. label_map='0:negative,1:neutral,2:positive' for "
            "ipuneetrathore/bert-base-cased-finetuned-finBERT; check the order on the model's card."
        )
    return LabelIndices(**by_label)
