"""TRL with hf_sched: SFTTrainer and DPOTrainer through the one mechanism, end to end.

Real runs on a tiny random GPT-2 (n_embd 32, 2 layers, the MiniLM tokenizer's vocabulary,
``eos_token`` ``[SEP]``): SFT over a ``text`` column (48 rows, batch 4: 12 optimizer steps),
DPO over (prompt, chosen, rejected) triples and a reward model (GPT-2 with a one-output
head) over (chosen, rejected) pairs (32 rows: 8 steps each).
"""

from __future__ import annotations

import math

import pytest
from hf_versions import RESTORES_BATCH_SIZE
from optional import require
import torch

require("trl")

from datasets import Dataset  # noqa: E402
from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel, PrinterCallback, ProgressCallback  # noqa: E402

import lr_closed_forms as cf  # noqa: E402
from hf_sched.integrations.trl import (  # noqa: E402
    SchedDPOConfig,
    SchedDPOTrainer,
    SchedRewardConfig,
    SchedRewardTrainer,
    SchedSFTConfig,
    SchedSFTTrainer,
)

pytestmark = pytest.mark.usefixtures("frozen_gc")

PEAK = 1e-3


@pytest.fixture(scope="module")
def tokenizer():
    from hf_sched.finetune.model import default_model_path

    tok = AutoTokenizer.from_pretrained(default_model_path())
    tok.eos_token = "[SEP]"
    return tok


def tiny_gpt2(tok) -> GPT2LMHeadModel:
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tok), n_embd=32, n_layer=2, n_head=2, n_positions=64, resid_pdrop=0.0,
                        embd_pdrop=0.0, attn_pdrop=0.0, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    return GPT2LMHeadModel(config)


def texts(n: int = 48) -> Dataset:
    return Dataset.from_dict({"text": [f"sample {i} says hello to topic {i % 5}" for i in range(n)]})


COMMON = dict(learning_rate=PEAK, per_device_train_batch_size=4, num_train_epochs=1, logging_steps=1,
              save_strategy="no", report_to=[], use_cpu=True, seed=0, disable_tqdm=True, save_lr_curve=False,
              max_length=32, bf16=False, gradient_checkpointing=False)


def sft(tok, out, data=None, **overrides) -> SchedSFTTrainer:
    args = SchedSFTConfig(output_dir=str(out), **{**COMMON, **overrides})
    trainer = SchedSFTTrainer(model=tiny_gpt2(tok), args=args, train_dataset=data or texts(), processing_class=tok)
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    return trainer


def logged(trainer):
    return [(h["step"], h["learning_rate"]) for h in trainer.state.log_history if "learning_rate" in h]


def test_sft_warmupcosine_default_warmup_every_step(tmp_path, tokenizer):
    trainer = sft(tokenizer, tmp_path, lr_scheduler_type="warmupcosine")
    trainer.train()
    total, warmup = 12, cf.default_warmup(12)
    sched = trainer.lr_scheduler
    assert (sched.schedules[0].num_training_steps, sched.schedules[0].num_warmup_steps) == (total, warmup)
    f = cf.warmupcosine(total, warmup)
    got = logged(trainer)
    assert [s for s, _ in got] == list(range(1, total + 1))
    assert [lr for _, lr in got] == pytest.approx([PEAK * f(k) for k in range(total)], rel=1e-12, abs=1e-18)
    # TRL's own model card and saved config keep working with the custom name
    trainer.save_model(str(tmp_path / "saved"))
    trainer.create_model_card(model_name="tiny-gpt2")
    assert "SFT" in (tmp_path / "README.md").read_text()
    back = torch.load(tmp_path / "saved" / "training_args.bin", weights_only=False)
    assert type(back) is SchedSFTConfig and back.lr_scheduler_type.value == "warmupcosine" and back.max_length == 32


def test_sft_packing_hard_restarts_with_kwargs_every_step(tmp_path, tokenizer):
    trainer = sft(tokenizer, tmp_path, lr_scheduler_type="hard-restarts", lr_scheduler_kwargs='{"num_cycles": 2}',
                  packing=True)
    trainer.train()
    total = math.ceil(len(trainer.train_dataset) / 4)  # packed rows of up to 32 tokens
    assert total < 12  # packing ran: fewer rows than texts
    warmup = cf.default_warmup(total)
    assert trainer.state.max_steps == trainer.lr_scheduler.schedules[0].num_training_steps == total
    f = cf.hard_restarts(total, warmup, num_cycles=2)
    assert [lr for _, lr in logged(trainer)] == pytest.approx([PEAK * f(k) for k in range(total)], rel=1e-12, abs=1e-18)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, tokenizer):
    out = tmp_path_factory.mktemp("sft_full")
    trainer = sft(tokenizer, out, lr_scheduler_type="warmupcosine", save_strategy="steps", save_steps=6)
    trainer.train()
    return out, trainer


def test_sft_resume_from_a_mid_run_checkpoint_is_exact(tmp_path, tokenizer, uninterrupted):
    out, full = uninterrupted
    resumed = sft(tokenizer, tmp_path, lr_scheduler_type="warmupcosine")
    resumed.train(resume_from_checkpoint=str(out / "checkpoint-6"))
    assert resumed.state.global_step == 12
    assert logged(resumed)[6:] == logged(full)[6:]
    full_weights = full.model.state_dict()
    for name, value in resumed.model.state_dict().items():
        assert torch.allclose(value, full_weights[name], rtol=1e-5, atol=1e-6), name


def test_sft_a_changed_batch_size_is_refused_with_the_config_flag(tmp_path, tokenizer, uninterrupted):
    out, _ = uninterrupted
    trainer = sft(tokenizer, tmp_path, lr_scheduler_type="warmupcosine", per_device_train_batch_size=8)
    if RESTORES_BATCH_SIZE:  # transformers 4.x resumes with the checkpoint's batch size: the same schedule
        trainer.train(resume_from_checkpoint=str(out / "checkpoint-6"))
        assert trainer._train_batch_size == 4 and trainer.lr_scheduler.schedules[0].num_training_steps == 12
        return
    with pytest.raises(ValueError) as err:
        trainer.train(resume_from_checkpoint=str(out / "checkpoint-6"))
    msg = str(err.value)
    assert msg.startswith("cannot resume: the LR schedule of this run differs from the one in")
    assert "num_training_steps: 12 -> 6" in msg and "per_device_train_batch_size" in msg
    assert "--lr_scheduler_resume rescale" in msg


def test_sft_config_parses_our_flags_and_refuses_bad_ones():
    from transformers import HfArgumentParser

    (args,) = HfArgumentParser(SchedSFTConfig).parse_args_into_dataclasses(
        ["--output_dir", "unused_out", "--lr_scheduler_type", "noam", "--warmup_steps", "0.05", "--packing",
         "--use_cpu", "--report_to", "none"])
    assert (args.lr_scheduler_type, args.get_warmup_steps(200), args.packing) == ("noam", 10, True)
    with pytest.raises(ValueError, match=r"lr_scheduler_type='warmupcosin' is invalid: .*Did you mean 'warmupcosine'"):
        SchedSFTConfig(output_dir="unused_out", lr_scheduler_type="warmupcosin")


def test_dpo_hard_restarts_every_step(tmp_path, tokenizer):
    pref = Dataset.from_dict({
        "prompt": [f"question {i}" for i in range(32)],
        "chosen": [f" a good answer {i}" for i in range(32)],
        "rejected": [f" bad {i}" for i in range(32)],
    })
    args = SchedDPOConfig(output_dir=str(tmp_path), lr_scheduler_type="hard-restarts",
                          lr_scheduler_kwargs={"num_cycles": 2}, **COMMON)
    trainer = SchedDPOTrainer(model=tiny_gpt2(tokenizer), ref_model=tiny_gpt2(tokenizer), args=args,
                              train_dataset=pref, processing_class=tokenizer)
    trainer.remove_callback(PrinterCallback)
    trainer.train()
    total, warmup = 8, cf.default_warmup(8)
    f = cf.hard_restarts(total, warmup, num_cycles=2)
    assert [lr for _, lr in logged(trainer)] == pytest.approx([PEAK * f(k) for k in range(total)], rel=1e-12, abs=1e-18)
    assert any("rewards/margins" in h for h in trainer.state.log_history)  # DPO's own loss and metrics ran


def test_reward_trainer_warmupcosine_every_step(tmp_path, tokenizer):
    from transformers import GPT2ForSequenceClassification

    torch.manual_seed(0)
    model = GPT2ForSequenceClassification(GPT2Config(
        vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=2, n_positions=64, num_labels=1,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id))
    pairs = Dataset.from_dict({"chosen": [f"a good answer {i}" for i in range(32)],
                               "rejected": [f"bad {i}" for i in range(32)]})
    args = SchedRewardConfig(output_dir=str(tmp_path), lr_scheduler_type="warmupcosine", **COMMON)
    trainer = SchedRewardTrainer(model=model, args=args, train_dataset=pairs, processing_class=tokenizer)
    trainer.remove_callback(PrinterCallback)
    trainer.train()
    f = cf.warmupcosine(8, cf.default_warmup(8))
    assert [lr for _, lr in logged(trainer)] == pytest.approx([PEAK * f(k) for k in range(8)], rel=1e-12, abs=1e-18)
    assert any("margin" in h for h in trainer.state.log_history)  # the reward trainer's own metrics ran
