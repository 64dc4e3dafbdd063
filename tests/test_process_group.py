"""End of a multi-process run: no DDP reducer is left to free the process group with the GIL held."""

from __future__ import annotations

import gc
import json
import os
import weakref
from pathlib import Path

import pytest
from launched import run_launched, two_process_command

from hf_sched.finetune.process_group import end_process_group, release_ddp_reducers

SCRIPT = Path(__file__).parent / "scripts" / "process_group_end.py"


def _launch(tmp_path: Path, mode: str) -> list[dict]:
    out = tmp_path / mode
    proc = run_launched(two_process_command(SCRIPT, str(out), mode), env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads(Path(f"{out}.rank{r}.json").read_text()) for r in (0, 1)]


def test_two_processes_end_process_group_frees_the_reducer_before_the_group_goes(tmp_path):
    for rank in _launch(tmp_path, "ours"):
        assert rank["ddp_model_alive"] == "DistributedDataParallel"
        assert not rank["reducer_left"], rank   # the group is no longer the reducer's to free
        assert not rank["group_initialized"]


def test_two_processes_plain_end_training_leaves_the_group_to_the_ddp_model(tmp_path):
    """Why end_process_group exists: after Accelerate's own end_training the DDP reducer still
    holds the group, and frees it when the model goes, with the GIL held (the hang)."""
    for rank in _launch(tmp_path, "plain"):
        assert rank["reducer_left"], rank
        assert not rank["group_initialized"]


def test_one_process_nothing_to_release_and_nothing_to_destroy():
    from accelerate import Accelerator

    acc = Accelerator(cpu=True)
    assert release_ddp_reducers() == 0
    end_process_group(acc)   # no process group: only the (absent) trackers are closed


def test_a_dead_weakref_proxy_is_passed_over_and_a_live_ddp_reducer_still_released(tmp_path):
    """Older library versions leave dead weakref proxies about; isinstance() on one raises ReferenceError."""
    import torch
    import torch.distributed as dist

    class Referent:
        pass

    referent = Referent()
    dead = weakref.proxy(referent)
    del referent
    assert any(obj is dead for obj in gc.get_objects())
    with pytest.raises(ReferenceError):
        isinstance(dead, torch.nn.Module)   # what the loop did before
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        ddp = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(2, 1))
        assert release_ddp_reducers() == 1
        assert "reducer" not in ddp.__dict__ and release_ddp_reducers() == 0
    finally:
        dist.destroy_process_group()
    assert dead is not None   # kept alive (and dead) through both calls


@pytest.mark.parametrize("path", ["recipes/finetune_accelerate.py", "recipes/finetune_trainer.py",
                                  "tests/scripts/budget_loop.py", "tests/scripts/trainer_ddp.py",
                                  "tests/scripts/set_and_tokens_accelerate.py"])
def test_every_multi_process_script_ends_through_end_process_group(path):
    text = (Path(__file__).parents[1] / path).read_text()
    assert "end_process_group(" in text and ".end_training()" not in text and "destroy_process_group()" not in text
