"""transformers' own trainers with hf_sched: Seq2SeqTrainer, and a script in the style of the examples.

* ``SchedSeq2SeqTrainer`` on a tiny random BART (d_model 32, one layer each side) over
  made-up token ids: 48 pairs, batch 4, one epoch = 12 optimizer steps; its generation in
  ``evaluate``/``predict`` keeps working.
* A script written the way transformers' ``run_classification.py`` / ``run_glue.py`` are
  (``HfArgumentParser`` over model, data and training dataclasses), with the one import line
  swapped, run with ``--lr_scheduler_type warmupcosine --warmup_ratio 0.1`` and with
  transformers 5.x's ``--warmup_steps 0.1``.
* ``import hf_sched`` imports no integration module, no torch and no transformers.
"""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pytest
from hf_versions import RATIO_IN_WARMUP_STEPS, RESTORES_BATCH_SIZE
import torch
from transformers import BartConfig, BartForConditionalGeneration, PrinterCallback, ProgressCallback

import lr_closed_forms as cf
from hf_sched.integrations.transformers import SchedSeq2SeqTrainer, SchedSeq2SeqTrainingArguments

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("frozen_gc")

PEAK = 1e-3
VOCAB = 64


# ---------------------------------------------------------------------------- import cost


def test_import_hf_sched_imports_no_integration_nor_torch():
    code = (
        "import sys, hf_sched, hf_sched.integrations; hf_sched.canonical_name('noam'); "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'transformers', 'sentence_transformers', 'trl', 'lightning', 'pytorch_lightning', 'accelerate') "
        "or (m.startswith('hf_sched.integrations.'))); print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_lazy_names_resolve_to_their_modules():
    import hf_sched
    import hf_sched.integrations as integ

    assert hf_sched.SchedTrainer is integ.SchedTrainer
    assert hf_sched.SchedTrainingArguments.__module__ == "hf_sched.integrations.transformers"
    assert hf_sched.LRCurveCallback.__module__ == "hf_sched.integrations.lr_curve"
    for name in integ.__all__:
        assert getattr(integ, name).__module__.startswith("hf_sched.integrations."), name
    with pytest.raises(AttributeError, match="module 'hf_sched.integrations' has no attribute 'Nope'"):
        integ.Nope  # noqa: B018


# ---------------------------------------------------------------------------- the mechanism


def test_the_mixins_must_come_first():
    from transformers import Trainer, TrainingArguments

    from hf_sched.integrations import SchedArgumentsMixin, SchedTrainerMixin, SchedTrainingArguments

    with pytest.raises(TypeError, match=r"Args: put SchedArgumentsMixin first in the bases, before TrainingArguments"):
        @dataclass
        class Args(TrainingArguments, SchedArgumentsMixin):
            pass
    with pytest.raises(TypeError, match=r"MyTrainer: put SchedTrainerMixin first in the bases, before Trainer"):
        class MyTrainer(Trainer, SchedTrainerMixin):
            pass

    @dataclass
    class MoreArgs(SchedTrainingArguments):  # a subclass of a ready class is fine
        extra: int = 1

    args = MoreArgs(output_dir="unused_out", lr_scheduler_type="hard-restarts", warmup_steps=0.1, report_to=[])
    assert (args.lr_scheduler_type, args.extra, args.get_warmup_steps(30)) == ("warmupcosinewithhardrestarts", 1, 3)


# ---------------------------------------------------------------------------- Seq2Seq


def tiny_bart() -> BartForConditionalGeneration:
    torch.manual_seed(0)
    config = BartConfig(vocab_size=VOCAB, d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64,
                        dropout=0.0, attention_dropout=0.0, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                        decoder_start_token_id=2, forced_eos_token_id=None)
    return BartForConditionalGeneration(config)


def pairs(n: int = 48) -> list[dict]:
    g = torch.Generator().manual_seed(3)
    return [{"input_ids": torch.randint(3, VOCAB, (8,), generator=g),
             "labels": torch.randint(3, VOCAB, (6,), generator=g)} for _ in range(n)]


def seq2seq(out, **overrides) -> SchedSeq2SeqTrainer:
    kw = dict(output_dir=str(out), learning_rate=PEAK, per_device_train_batch_size=4, num_train_epochs=1,
              logging_steps=1, save_strategy="no", report_to=[], use_cpu=True, seed=0, disable_tqdm=True,
              save_lr_curve=False)
    kw.update(overrides)
    trainer = SchedSeq2SeqTrainer(model=tiny_bart(), args=SchedSeq2SeqTrainingArguments(**kw), train_dataset=pairs(),
                                  eval_dataset=pairs(8))
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    return trainer


def logged(trainer):
    return [(h["step"], h["learning_rate"]) for h in trainer.state.log_history if "learning_rate" in h]


def test_seq2seq_warmupcosine_default_warmup_every_step_and_generation(tmp_path):
    trainer = seq2seq(tmp_path, lr_scheduler_type="warmupcosine", predict_with_generate=True,
                      generation_max_length=5)
    trainer.train()
    total, warmup = 12, cf.default_warmup(12)
    f = cf.warmupcosine(total, warmup)
    got = logged(trainer)
    assert [s for s, _ in got] == list(range(1, total + 1))
    assert [lr for _, lr in got] == pytest.approx([PEAK * f(k) for k in range(total)], rel=1e-12, abs=1e-18)
    # Seq2SeqTrainer's own generation still runs in predict
    pred = trainer.predict(pairs(4))
    assert pred.predictions.ndim == 2 and pred.predictions.shape[0] == 4  # generated token ids, not logits
    trainer.create_model_card(model_name="tiny-bart")
    card = (tmp_path / "README.md").read_text()
    assert "lr_scheduler_type: warmupcosine" in card and f"lr_scheduler_warmup_steps: {warmup}" in card


def test_seq2seq_hard_restarts_with_kwargs_every_step(tmp_path):
    trainer = seq2seq(tmp_path, lr_scheduler_type="hard-restarts", lr_scheduler_kwargs='{"num_cycles": 2}')
    trainer.train()
    f = cf.hard_restarts(12, 2, num_cycles=2)
    assert [lr for _, lr in logged(trainer)] == pytest.approx([PEAK * f(k) for k in range(12)], rel=1e-12, abs=1e-18)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("seq2seq_full")
    trainer = seq2seq(out, lr_scheduler_type="warmupcosine", save_strategy="steps", save_steps=6)
    trainer.train()
    return out, trainer


def test_seq2seq_resume_from_a_mid_run_checkpoint_is_exact(tmp_path, uninterrupted):
    out, full = uninterrupted
    resumed = seq2seq(tmp_path, lr_scheduler_type="warmupcosine")
    resumed.train(resume_from_checkpoint=str(out / "checkpoint-6"))
    assert resumed.state.global_step == 12
    assert logged(resumed)[6:] == logged(full)[6:]
    full_weights = full.model.state_dict()
    for name, value in resumed.model.state_dict().items():
        assert torch.allclose(value, full_weights[name], rtol=1e-5, atol=1e-6), name


def test_seq2seq_a_changed_batch_size_is_refused_with_the_flag(tmp_path, uninterrupted):
    out, _ = uninterrupted
    trainer = seq2seq(tmp_path, lr_scheduler_type="warmupcosine", per_device_train_batch_size=8)
    if RESTORES_BATCH_SIZE:  # transformers 4.x resumes with the checkpoint's batch size: the same schedule
        trainer.train(resume_from_checkpoint=str(out / "checkpoint-6"))
        assert trainer._train_batch_size == 4 and trainer.lr_scheduler.schedules[0].num_training_steps == 12
        return
    with pytest.raises(ValueError) as err:
        trainer.train(resume_from_checkpoint=str(out / "checkpoint-6"))
    msg = str(err.value)
    assert msg.startswith("cannot resume: the LR schedule of this run differs from the one in")
    assert "num_training_steps: 12 -> 6" in msg and "--lr_scheduler_resume rescale" in msg


# ---------------------------------------------------------------------------- an example-style script


@dataclass
class ModelArguments:
    model_name_or_path: str = field(metadata={"help": "A local model directory or a Hub id."})
    num_labels: int = field(default=2, metadata={"help": "Number of classes."})


@dataclass
class DataTrainingArguments:
    max_seq_length: int = field(default=16, metadata={"help": "Truncate to this many tokens."})
    max_train_samples: Optional[int] = field(default=None, metadata={"help": "Use at most this many examples."})


def example_main(argv: list[str], trainer_cls, args_cls):
    """A text classifier in the shape of transformers' run_classification.py, short."""
    from datasets import Dataset
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding,
                              HfArgumentParser)

    parser = HfArgumentParser((ModelArguments, DataTrainingArguments, args_cls))
    model_args, data_args, training_args = parser.parse_args_into_dataclasses(argv)
    tokenizer = AutoTokenizer.from_pretrained(model_args.model_name_or_path)
    model = AutoModelForSequenceClassification.from_pretrained(model_args.model_name_or_path,
                                                               num_labels=model_args.num_labels)
    words = ["good", "bad", "fine", "awful", "great", "poor"]
    raw = Dataset.from_dict({"sentence": [f"the film was {words[i % 6]} number {i}" for i in range(40)],
                             "label": [i % 2 for i in range(40)]})
    if data_args.max_train_samples is not None:
        raw = raw.select(range(data_args.max_train_samples))
    train = raw.map(lambda b: tokenizer(b["sentence"], truncation=True, max_length=data_args.max_seq_length),
                    batched=True, remove_columns=["sentence"])
    trainer = trainer_cls(model=model, args=training_args, train_dataset=train, processing_class=tokenizer,
                          data_collator=DataCollatorWithPadding(tokenizer))
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    trainer.train()
    return trainer


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    from hf_sched.finetune.model import save_tiny_bert

    return save_tiny_bert(tmp_path_factory.mktemp("tiny_bert"))


def _argv(model_dir, out, *extra):
    return ["--model_name_or_path", model_dir, "--output_dir", str(out), "--per_device_train_batch_size", "4",
            "--num_train_epochs", "1", "--learning_rate", str(PEAK), "--logging_steps", "1", "--save_strategy", "no",
            "--report_to", "none", "--use_cpu", "--max_train_samples", "36", "--seed", "0", *extra]


@pytest.mark.parametrize("warmup_flags", [["--warmup_ratio", "0.1"], ["--warmup_steps", "0.1"]])
def test_example_script_with_one_import_line_swapped(tmp_path, tiny_model_dir, warmup_flags):
    # the swap: from hf_sched import SchedTrainer as Trainer, SchedTrainingArguments as TrainingArguments
    from hf_sched import SchedTrainer as Trainer, SchedTrainingArguments as TrainingArguments

    trainer = example_main(_argv(tiny_model_dir, tmp_path, "--lr_scheduler_type", "warmupcosine", *warmup_flags),
                           Trainer, TrainingArguments)
    total = 9  # 36 examples, batch 4
    warmup = math.ceil(0.1 * total)
    sched = trainer.lr_scheduler
    assert (sched.schedules[0].num_training_steps, sched.schedules[0].num_warmup_steps) == (total, warmup)
    f = cf.warmupcosine(total, warmup)
    assert [lr for _, lr in logged(trainer)] == pytest.approx([PEAK * f(k) for k in range(total)], rel=1e-12, abs=1e-18)


def test_example_script_warmup_steps_ratio_matches_stock_transformers(tmp_path, tiny_model_dir):
    from transformers import Trainer, TrainingArguments

    from hf_sched import SchedTrainer, SchedTrainingArguments

    argv = ["--lr_scheduler_type", "cosine", "--warmup_steps", "0.1"]
    stock_argv = argv if RATIO_IN_WARMUP_STEPS else [*argv[:2], "--warmup_ratio", "0.1"]  # 4.x: the ratio's own flag
    stock = example_main(_argv(tiny_model_dir, tmp_path / "stock", *stock_argv), Trainer, TrainingArguments)
    ours = example_main(_argv(tiny_model_dir, tmp_path / "ours", *argv), SchedTrainer, SchedTrainingArguments)
    assert len(logged(stock)) == len(logged(ours)) == 9
    assert [lr for _, lr in logged(ours)] == pytest.approx([lr for _, lr in logged(stock)], rel=1e-12, abs=1e-18)


def test_example_script_stock_arguments_refuse_our_name(tmp_path, tiny_model_dir, capsys):
    from transformers import Trainer, TrainingArguments

    with pytest.raises(SystemExit):
        example_main(_argv(tiny_model_dir, tmp_path, "--lr_scheduler_type", "warmupcosine"), Trainer, TrainingArguments)
    assert "invalid choice: 'warmupcosine'" in capsys.readouterr().err
