"""The two ways FinBERT scoring fails before it starts: a setting that cannot work, or a model that
cannot be loaded. Both messages name the setting (and its environment variable) and the fix."""


class FinBERTSettingError(ValueError):
    """A FinBERT setting (model, device, precision, label_map, ...) is invalid for this machine or model."""


class FinBERTLoadError(RuntimeError):
    """The FinBERT model or tokenizer could not be loaded."""
