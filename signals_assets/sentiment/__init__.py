"""FinBERT headline scoring, the pure core (no Dagster).

errors (FinBERTSettingError, FinBERTLoadError), labels (which logit is which label), devices (device
resolution, what each device allows, per-device defaults), precisions (the model at a precision, the
forward pass), calibration (precision="auto"), loading (from_pretrained with clear errors), batching
(length-sorted batches, in this process or DataLoader workers), scorer (HeadlineScorer, load_scorer),
headline_scores (the per-headline cache), fingerprint (what keys that cache: a hash of a local model's files, or
the hub commit; a variant's checkpoint), aggregation (a ticker's sentiment as a variant asks: stories once,
attribution weights), provider_labels (the provider's labels as scores), untrained_model (FinBERT-shaped
models with random weights, for tests, benchmarks and the offline demo).
"""
