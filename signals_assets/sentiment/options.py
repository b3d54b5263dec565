"""The FinBERT resource's options and their limits, without torch: the Dagster shell validates its settings
with these when the code location loads, and loads torch only in the step that scores (sentiment.scorer).
"""

from __future__ import annotations

PRECISIONS = ("auto", "fp32", "bf16", "fp16", "int8")
# The FinBERT resource's `precision` field is a str with this pattern, not a Literal: Dagster turns a Literal
# field into an Enum config type, which cannot take its default from an environment variable.
PRECISION_PATTERN = f"^({'|'.join(PRECISIONS)})$"
# precision="auto" promises scores within this distance of fp32 scores.
PRECISION_TOLERANCE = 0.02

# The FinBERT resource's `device` field is validated against this pattern; nothing here re-checks it.
DEVICE_PATTERN = r"^(auto|cpu|cuda(:[0-9]+)?)$"
DEVICES_HELP = "'auto', 'cpu', 'cuda' or 'cuda:N'"

# Measured on 2 CPU cores (bert-base, headlines of ~16 tokens): 32 to 128 are within noise of each
# other. On a GPU large batches keep it busy; tokenization, not the GPU, bounds throughput there.
DEFAULT_BATCH_SIZE = {"cpu": 64, "cuda": 2048}

MIN_MAX_LENGTH = 8  # [CLS] + [SEP] + a few word pieces
