"""Tests of hf_sched.finetune.length_grouping: length-grouped batches, seeded, sharded, resumable.

The order itself is checked directly (every example once per epoch, the same batches for a
seed, other epochs and seeds differ, padding on the main job's real tweets), then through real
Accelerate dataloaders on one process and on two (``accelerate launch``, gloo): the batches of
the two processes are the one-process batches dealt alternately, every epoch, and skipping the
first batches of an epoch (a resume mid-epoch) gives the rest of that epoch's batches.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from launched import run_launched, two_process_command

from hf_sched.finetune.length_grouping import (
    LengthGroupedSampler,
    TokenCount,
    grouped_order,
    megabatch_size,
    padded_token_fraction,
)

ROOT = Path(__file__).resolve().parents[1]


def batches_of(order: list[int], batch_size: int) -> list[list[int]]:
    return [order[k:k + batch_size] for k in range(0, len(order), batch_size)]


@pytest.mark.parametrize("n,batch_size", [(1, 4), (7, 2), (100, 16), (250, 16), (2000, 16), (96, 8), (33, 1)])
def test_every_example_once_per_epoch_in_as_many_batches_as_a_random_order(n, batch_size):
    lengths = [(13 * i) % 61 + 1 for i in range(n)]
    for epoch in range(3):
        order = grouped_order(lengths, batch_size, seed=5, epoch=epoch)
        assert sorted(order) == list(range(n))
        batches = batches_of(order, batch_size)
        assert len(batches) == math.ceil(n / batch_size)  # the step budget does not change
        assert all(len(b) == batch_size for b in batches[:-1])  # only the last one may be partial


def test_deterministic_for_a_seed_and_new_for_each_epoch_and_seed():
    lengths = [(7 * i) % 40 + 3 for i in range(500)]
    first = grouped_order(lengths, 16, seed=42, epoch=0)
    assert first == grouped_order(lengths, 16, seed=42, epoch=0)
    assert first != grouped_order(lengths, 16, seed=42, epoch=1)
    assert first != grouped_order(lengths, 16, seed=43, epoch=0)
    sampler = LengthGroupedSampler(lengths, 16, seed=42)
    assert list(sampler) == first and len(sampler) == 500
    sampler.set_epoch(1)
    assert list(sampler) == grouped_order(lengths, 16, seed=42, epoch=1) == list(sampler)


def test_batches_group_similar_lengths_and_megabatches_follow_the_rule():
    lengths = list(range(1, 801))
    order = grouped_order(lengths, 16, seed=0)
    spreads = [max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches_of(order, 16)]
    random_spreads = [max(b) - min(b) for b in batches_of(list(np.random.default_rng(0).permutation(800) + 1), 16)]
    assert np.median(spreads) * 5 < np.median(random_spreads)
    assert megabatch_size(800, 16) == 16 * 12 and megabatch_size(2000, 16) == 16 * 31
    assert megabatch_size(10**6, 16) == 16 * 50 and megabatch_size(3, 16) == 16


def test_the_main_jobs_tweets_are_padded_well_under_a_tenth_when_grouped():
    from transformers import AutoTokenizer

    from hf_sched.finetune.data import load_text_classification, tokenize_splits
    from hf_sched.finetune.model import default_model_path

    tokenizer = AutoTokenizer.from_pretrained(default_model_path(), local_files_only=True)
    data = load_text_classification(max_train_samples=2000, max_eval_samples=16, seed=42)  # the main job's split
    lengths = [len(ids) for ids in tokenize_splits(data, tokenizer, max_length=64)["train"]["input_ids"]]
    random = [padded_token_fraction(lengths, np.random.default_rng(s).permutation(2000), 16) for s in range(3)]
    grouped = [padded_token_fraction(lengths, grouped_order(lengths, 16, seed=42, epoch=e), 16) for e in range(3)]
    assert all(0.35 < f < 0.43 for f in random), random  # 39% of a random batch is padding
    assert all(f < 0.05 for f in grouped), grouped  # about 3% grouped


def test_padded_token_fraction_and_token_count():
    assert padded_token_fraction([2, 2, 4, 4], [0, 2, 1, 3], 2) == pytest.approx(1 - 12 / 16)
    assert padded_token_fraction([2, 2, 4, 4], [0, 1, 2, 3], 2) == 0.0
    assert padded_token_fraction([], [], 4) == 0.0
    import torch

    count = TokenCount()
    assert count.padded_fraction is None
    count.add(torch.zeros(2, 3, dtype=torch.long))  # no mask: every token is real
    count.add(torch.zeros(1, 4, dtype=torch.long), torch.tensor([[1, 1, 0, 0]]))
    assert (count.real, count.total) == (8, 10) and count.padded_fraction == pytest.approx(0.2)


@pytest.mark.parametrize("call,message", [
    (lambda: grouped_order([1, 2], 0, seed=0), "batch_size=0 is invalid: it must be an integer >= 1"),
    (lambda: grouped_order([1, 2], 2, seed=-1), "seed=-1 is invalid: it must be an integer in [0, 2**63)"),
    (lambda: grouped_order([1, 2], 2, seed=0, epoch=-2), "epoch=-2 is invalid: it must be an integer >= 0"),
    (lambda: grouped_order([1, -2], 2, seed=0), "lengths must be a sequence of integers >= 0 (token counts); got [1, -2]"),
    (lambda: grouped_order([1.5, 2], 2, seed=0), "lengths must be a sequence of integers >= 0"),
    (lambda: grouped_order([1, 2], 2, seed=0, megabatch_batches=0), "megabatch_batches=0 is invalid"),
    (lambda: LengthGroupedSampler([1, 2], 2, seed=True), "seed=True is invalid"),
    (lambda: LengthGroupedSampler([1, 2], 2, seed=0).set_epoch(-1), "epoch=-1 is invalid"),
    (lambda: padded_token_fraction([1], [0], 0), "batch_size=0 is invalid"),
])
def test_bad_arguments_name_the_parameter_and_the_value(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert message in str(info.value)


# --------------------------------------------------------------------------- real Accelerate dataloaders

N_EXAMPLES, BATCH, SKIP = 96, 8, 2  # 12 batches: 6 per process on two
SCRIPT = f'''
import json, sys
from pathlib import Path
from accelerate import Accelerator
from torch.utils.data import DataLoader
from hf_sched.finetune.length_grouping import LengthGroupedSampler
from hf_sched.finetune.process_group import end_process_group

accelerator = Accelerator(cpu=True)
lengths = [(7 * i) % 23 + 1 for i in range({N_EXAMPLES})]
loader = accelerator.prepare(DataLoader(list(range({N_EXAMPLES})), batch_size={BATCH},
                                        sampler=LengthGroupedSampler(lengths, {BATCH}, seed=3)))
seen = {{}}
for epoch in range(2):
    loader.set_epoch(epoch)
    seen[str(epoch)] = [batch.tolist() for batch in loader]
loader.set_epoch(1)  # a resume in the middle of epoch 1, as the recipe does it
skipped = accelerator.skip_first_batches(loader, {SKIP})
skipped.set_epoch(1)  # the skipping copy too (accelerate 1.10 starts it at epoch 0)
seen["resumed"] = [batch.tolist() for batch in skipped]
Path(sys.argv[1], f"rank{{accelerator.process_index}}.json").write_text(json.dumps(seen))
end_process_group(accelerator)
'''


@pytest.fixture(scope="module")
def batches_script(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("grouping") / "batches.py"
    path.write_text(SCRIPT)
    return path


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def test_one_process_dataloader_gives_the_order_and_resumes_mid_epoch(batches_script, tmp_path):
    proc = subprocess.run([sys.executable, str(batches_script), str(tmp_path)], capture_output=True, text=True,
                          timeout=300, env=_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = json.loads((tmp_path / "rank0.json").read_text())
    lengths = [(7 * i) % 23 + 1 for i in range(N_EXAMPLES)]
    for epoch in (0, 1):
        assert seen[str(epoch)] == batches_of(grouped_order(lengths, BATCH, seed=3, epoch=epoch), BATCH)
    assert seen["resumed"] == seen["1"][SKIP:]


def test_two_processes_share_the_one_process_batches_alternately(batches_script, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    proc = subprocess.run([sys.executable, str(batches_script), str(one)], capture_output=True, text=True,
                          timeout=300, env=_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    launched = run_launched(two_process_command(batches_script, str(two)), timeout=600, env=_env())
    assert launched.returncode == 0, launched.stderr[-3000:]
    single = json.loads((one / "rank0.json").read_text())
    ranks = [json.loads((two / f"rank{r}.json").read_text()) for r in (0, 1)]
    for epoch in ("0", "1"):
        for rank in (0, 1):
            assert ranks[rank][epoch] == single[epoch][rank::2]  # process p takes batches p, p + 2, ...
        assert sorted(i for r in ranks for b in r[epoch] for i in b) == list(range(N_EXAMPLES))
    for rank in (0, 1):
        assert ranks[rank]["resumed"] == single["1"][rank::2][SKIP:]
