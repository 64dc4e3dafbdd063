"""Shared test setup: everything offline, caches in a temporary HF_HOME, quiet logs."""

from __future__ import annotations

import os
import sys
import tempfile

import pytest

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


@pytest.fixture(scope="module")
def offline_hf_home(tmp_path_factory: pytest.TempPathFactory):
    """Point HF_HOME at a temporary folder and switch the Hub off.

    The folder is the same for the whole test session: ``evaluate`` cannot move its
    module cache once it has imported a module from it.
    """
    hf_home = tmp_path_factory.getbasetemp() / "hf_home"
    hf_home.mkdir(exist_ok=True)
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("HF_HOME", str(hf_home))
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
        monkeypatch.setenv("HF_EVALUATE_OFFLINE", "1")
        # Modules imported before this fixture read their settings already: patch them.
        if "huggingface_hub" in sys.modules:
            monkeypatch.setattr(sys.modules["huggingface_hub"].constants, "HF_HUB_OFFLINE", True)
        if "datasets" in sys.modules:
            config = sys.modules["datasets"].config
            monkeypatch.setattr(config, "HF_DATASETS_CACHE", hf_home / "datasets")
            monkeypatch.setattr(config, "HF_HUB_OFFLINE", True)
        if "evaluate" in sys.modules:
            monkeypatch.setattr(sys.modules["evaluate"].config, "HF_METRICS_CACHE", hf_home / "metrics")
            monkeypatch.setattr(sys.modules["evaluate"].config, "HF_EVALUATE_OFFLINE", True)
        yield hf_home


@pytest.fixture(scope="module")
def frozen_gc():
    """Every Trainer.train() runs gc.collect(); freezing the (never garbage) objects of the
    imports keeps that a few ms instead of half a second. Unfrozen after the module.
    Trainer test modules use it with ``pytestmark = pytest.mark.usefixtures("frozen_gc")``."""
    import gc

    gc.freeze()
    yield
    gc.unfreeze()
