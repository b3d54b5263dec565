"""Signal variants: a name plus everything that makes its signal (pure: no Dagster here).

A variant says where each headline's sentiment comes from (the FinBERT resource's model, another FinBERT
checkpoint with its own revision and label map, or the news provider's labels), whether a ticker's copies of
one story count once, whether an article's sentiment goes mainly to the tickers its title names, and the
halflife that smooths it over weeks. Every variant is computed every week from the same headlines, stored
side by side (a `variant` column), scored side by side, and one of them is submitted.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

SOURCE_FINBERT = "finbert"  # the FinBERT resource's model (FINBERT_MODEL)
SOURCE_PROVIDER = "provider_labels"  # the Stock News API's own sentiment labels
ATTRIBUTION_EQUAL, ATTRIBUTION_TITLE = "equal", "title"
ATTRIBUTIONS = (ATTRIBUTION_EQUAL, ATTRIBUTION_TITLE)
DEFAULT_VARIANT = "finbert"
# Tables written before variants existed hold what the `finbert` variant computes now.
LEGACY_VARIANT = DEFAULT_VARIANT
VARIANT_COLUMN = "variant"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
EXAMPLE_FILE = """variants:
  - name: finbert_tone
    source: yiyanghkust/finbert-tone
    label_map: "0:neutral,1:positive,2:negative"
    collapse_stories: true
    attribution: title"""


class VariantError(ValueError):
    """A variant setting that cannot be used: the message names the setting and the fix."""


@dataclass(frozen=True)
class Variant:
    name: str
    source: str = SOURCE_FINBERT
    """'finbert': the FinBERT resource's model; 'provider_labels': the provider's labels (+1/-1/0); else a
    Hugging Face hub id or a local folder of a FinBERT-style classifier."""
    revision: str | None = None
    """Hub branch, tag or commit of `source` (a hub id only)."""
    label_map: str | None = None
    """Logit index of each label for `source`, e.g. '0:neutral,1:positive,2:negative' (a model id only)."""
    collapse_stories: bool = False
    """A ticker's copies of one story in a week (reprints, near-duplicates) enter its mean once."""
    attribution: str = ATTRIBUTION_EQUAL
    """'equal': every tagged ticker gets the article's sentiment at full weight; 'title': full weight for the
    tickers the title names, the lower tagged weight for tickers only tagged."""
    halflife_weeks: float | None = None
    """Smoothing over weeks; None: the signal settings' halflife_weeks (SIGNAL_HALFLIFE_WEEKS)."""

    @property
    def uses_model(self) -> bool:
        return self.source != SOURCE_PROVIDER

    def described(self) -> str:
        parts = [self.source if self.source != SOURCE_FINBERT else "FinBERT (FINBERT_MODEL)"]
        if self.revision:
            parts.append(f"@{self.revision}")
        parts.append("stories once" if self.collapse_stories else "every headline")
        parts.append("title attribution" if self.attribution == ATTRIBUTION_TITLE else "equal attribution")
        if self.halflife_weeks is not None:
            parts.append(f"halflife {self.halflife_weeks:g} weeks")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


DEFAULT_VARIANTS = (
    # The blog post's signal, unchanged: FinBERT's mean over every headline, each tagged ticker in full.
    Variant(DEFAULT_VARIANT),
    # The baseline FinBERT has to beat: free, and already in every article the API returns.
    Variant(SOURCE_PROVIDER, source=SOURCE_PROVIDER),
    # FinBERT with a story counted once and an article's sentiment given to the ticker it is about.
    Variant("finbert_stories", collapse_stories=True, attribution=ATTRIBUTION_TITLE),
    # The same two changes on the free labels: what they are worth without any model.
    Variant("provider_labels_stories", source=SOURCE_PROVIDER, collapse_stories=True, attribution=ATTRIBUTION_TITLE),
)


def checked_variant(fields: dict[str, Any], where: str) -> Variant:
    """A Variant from its settings, or VariantError naming the field and `where` it was set."""
    known = set(Variant.__dataclass_fields__)
    unknown = sorted(set(fields) - known)
    if unknown:
        raise VariantError(f"{where}: unknown field(s) {', '.join(unknown)}; a variant has {', '.join(sorted(known))}.")
    name = fields.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise VariantError(
            f"{where}: name {name!r} is not a variant name: lower case letters, digits and '_', starting with a "
            "letter, at most 40 characters (it becomes a value of the tables' variant column)."
        )
    source = fields.get("source", SOURCE_FINBERT)
    if not isinstance(source, str) or not source.strip():
        raise VariantError(f"{where}: variant {name!r} needs a source: 'finbert', 'provider_labels', or a model id.")
    attribution = fields.get("attribution", ATTRIBUTION_EQUAL)
    if attribution not in ATTRIBUTIONS:
        raise VariantError(
            f"{where}: variant {name!r} has attribution {attribution!r}; use one of {', '.join(ATTRIBUTIONS)}."
        )
    if source in (SOURCE_FINBERT, SOURCE_PROVIDER) and (fields.get("revision") or fields.get("label_map")):
        raise VariantError(
            f"{where}: variant {name!r} sets revision or label_map, which only a model id or folder as source takes "
            f"(source {source!r}: set FINBERT_REVISION / FINBERT_LABEL_MAP for the FinBERT resource's model)."
        )
    halflife = fields.get("halflife_weeks")
    if halflife is not None:
        from signals_assets.signal.smoothing import validated_halflife

        try:
            halflife = validated_halflife(halflife)
        except ValueError as error:
            raise VariantError(f"{where}: variant {name!r}: {error}") from None
    collapse = fields.get("collapse_stories", False)
    if not isinstance(collapse, bool):
        raise VariantError(f"{where}: variant {name!r} has collapse_stories {collapse!r}; use true or false.")
    return Variant(
        name=name,
        source=source.strip(),
        revision=fields.get("revision") or None,
        label_map=fields.get("label_map") or None,
        collapse_stories=collapse,
        attribution=attribution,
        halflife_weeks=halflife,
    )


def checked_variants(items: list[dict[str, Any]], where: str) -> tuple[Variant, ...]:
    """Every variant checked, names unique; at least one."""
    if not items:
        raise VariantError(f"{where}: no variant is defined; define at least one (e.g. name: finbert).")
    variants = tuple(checked_variant(dict(item), f"{where}, variant {index + 1}") for index, item in enumerate(items))
    names = [variant.name for variant in variants]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise VariantError(
            f"{where}: variant name(s) {', '.join(repeated)} appear more than once; names must be unique."
        )
    return variants


def variants_from_file(path: str | Path, variable: str) -> list[dict[str, Any]]:
    """The `variants:` list of a YAML file (named by the environment variable `variable`), each item a dict."""
    import yaml

    file = Path(path).expanduser()
    if not file.is_file():
        raise VariantError(f"{variable}={str(path)!r}: no such file. Point it at a YAML file like:\n{EXAMPLE_FILE}")
    try:
        loaded = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise VariantError(f"{variable}={str(path)!r} is not valid YAML ({error}).") from None
    items = loaded.get("variants") if isinstance(loaded, dict) else None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise VariantError(
            f"{variable}={str(path)!r} has no list of variants under the key 'variants'. Write it like:\n{EXAMPLE_FILE}"
        )
    checked_variants(items, f"{variable}={str(path)!r}")
    return items


def submitted_variant(variants: tuple[Variant, ...], name: str, where: str) -> Variant:
    """The variant named `name`, or VariantError listing the names that exist."""
    for variant in variants:
        if variant.name == name:
            return variant
    raise VariantError(
        f"{where}={name!r} names no variant; the variants are {', '.join(variant.name for variant in variants)}. "
        "Set it to one of them, or add the variant (SIGNAL_VARIANTS_FILE)."
    )


def with_variant(frame: Any) -> Any:
    """`frame` (a pandas DataFrame) with a `variant` column of names; a table written before variants existed has no
    such column, or NULLs in it, and holds the default variant's rows."""
    if VARIANT_COLUMN not in frame.columns:
        return frame.assign(**{VARIANT_COLUMN: LEGACY_VARIANT})
    values = frame[VARIANT_COLUMN].astype("object").where(frame[VARIANT_COLUMN].notna(), LEGACY_VARIANT)
    return frame.assign(**{VARIANT_COLUMN: values.astype(str)})


def rows_of(frame: Any, name: str) -> Any:
    """The rows of `frame` that belong to variant `name` (see `with_variant`)."""
    if frame is None:
        return None
    return frame.loc[(with_variant(frame)[VARIANT_COLUMN] == name).to_numpy()]
