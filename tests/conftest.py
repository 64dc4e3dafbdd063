"""Shared test setup: everything offline, caches in a temporary HF_HOME, quiet logs."""

from __future__ import annotations

import os
import tempfile

# Set before transformers/datasets/evaluate are imported by any test module.
_HF_HOME = tempfile.mkdtemp(prefix="hf_sched_tests_hf_home_")
os.environ.setdefault("HF_HOME", _HF_HOME)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("DISABLE_MLFLOW_INTEGRATION", "TRUE")
os.environ.setdefault("WANDB_DISABLED", "true")
os.environ.setdefault("OMP_NUM_THREADS", "1")
