"""A schedule in tokens under the Trainer (TokenClockCallback): real Trainer runs on a tiny BERT.

Examples of 4..24 real tokens, padded per batch; the Trainer counts the real tokens
(``include_num_input_tokens_seen="non_padding"``) and logs them with the LR. The LR it logs at
step ``k`` (the one step ``k`` used) must be ``peak * f(tokens seen after step k - 1)``, ``f`` the
warmup + cosine closed form in tokens; a resume from a checkpoint continues the same curve.
"""

from __future__ import annotations

import math

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification, PrinterCallback, ProgressCallback

from hf_sched import SchedTrainer, SchedTrainingArguments, get_scheduler
from hf_sched.integrations import TokenClockCallback
from hf_sched.integrations.token_clock import counts_non_padding

pytestmark = pytest.mark.usefixtures("frozen_gc")
PEAK = 1e-3


def make_data() -> list[dict]:
    g = torch.Generator().manual_seed(3)
    return [{"input_ids": torch.randint(1, 64, (int(torch.randint(4, 25, (1,), generator=g)),), generator=g),
             "labels": i % 2} for i in range(48)]


TOTAL = sum(len(x["input_ids"]) for x in make_data())  # the run's real tokens: it ends at the final LR
#: transformers 4.x counts every token of the padded batches (no "non_padding"): there the run counts "all"
#: tokens over a total it does not reach, and the LR follows the closed form of the Trainer's own count
REAL = counts_non_padding()
COUNTING = "non_padding" if REAL else True


def collate(examples: list[dict]) -> dict[str, torch.Tensor]:
    width = max(len(e["input_ids"]) for e in examples)
    ids = torch.zeros(len(examples), width, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, e in enumerate(examples):
        ids[i, :len(e["input_ids"])] = e["input_ids"]
        mask[i, :len(e["input_ids"])] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": torch.tensor([e["labels"] for e in examples])}


def closed_form(c: int, total: int = TOTAL) -> float:
    w = math.ceil(total / 10)
    return c / w if c < w else 0.5 * (1.0 + math.cos(math.pi * (min(c, total) - w) / (total - w)))


def make_trainer(output_dir, counting=COUNTING, total=f"{TOTAL if REAL else 4 * TOTAL} tok"):
    config = BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                        max_position_embeddings=32)
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=PEAK)
    scheduler = get_scheduler("warmupcosine", optimizer, num_training_steps=total, warmup="10%")
    args = SchedTrainingArguments(output_dir=str(output_dir), per_device_train_batch_size=4, num_train_epochs=1,
                                  logging_steps=1, include_num_input_tokens_seen=counting, report_to=[], use_cpu=True,
                                  seed=0, save_strategy="steps", save_steps=5, save_lr_curve=False, disable_tqdm=True)
    trainer = SchedTrainer(model=model, args=args, train_dataset=make_data(), data_collator=collate,
                           optimizers=(optimizer, scheduler), callbacks=[TokenClockCallback()])
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    return trainer


def logged(trainer) -> list[tuple[int, float, int]]:
    return [(h["step"], h["learning_rate"], h["num_input_tokens_seen"]) for h in trainer.state.log_history
            if "learning_rate" in h]


def test_the_trainer_follows_the_closed_form_in_tokens_and_resumes_it(tmp_path):
    full = make_trainer(tmp_path / "full")
    full.train()
    logs = logged(full)
    total = TOTAL if REAL else 4 * TOTAL
    assert [s for s, _, _ in logs] == list(range(1, 13)) and (logs[-1][2] == TOTAL or not REAL)
    seen_before = [0] + [t for _, _, t in logs[:-1]]
    assert len({b - a for a, b in zip(seen_before, seen_before[1:])}) > 3  # the steps hold different token counts
    assert [lr for _, lr, _ in logs] == pytest.approx([PEAK * closed_form(c, total) for c in seen_before], rel=1e-12,
                                                      abs=1e-18)
    assert full.lr_scheduler.last_epoch == logs[-1][2] and full.lr_scheduler.optimizer_step == 12
    if REAL:
        assert full.lr_scheduler.get_last_lr() == [0.0]

    resumed = make_trainer(tmp_path / "resumed")
    resumed.train(resume_from_checkpoint=str(tmp_path / "full" / "checkpoint-5"))
    assert logged(resumed)[5:] == logs[5:]


@pytest.mark.parametrize("counting, total, message", [
    ("no", f"{TOTAL} tok", "include_num_input_tokens_seen='no': the Trainer counts no tokens"),
    ("non_padding", 100, "TokenClockCallback needs a scheduler on a clock in tokens, got ScheduledLR counting "
                         "optimizer steps"),
])
def test_a_run_that_cannot_count_tokens_is_refused_before_the_first_step(tmp_path, counting, total, message):
    if counting == "non_padding" and not REAL:
        message = "include_num_input_tokens_seen='non_padding': transformers .* has no such count"
    trainer = make_trainer(tmp_path, counting=counting, total=total)
    with pytest.raises(ValueError, match=message):
        trainer.train()
    assert trainer.state.global_step == 0
