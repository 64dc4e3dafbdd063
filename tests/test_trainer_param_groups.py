"""LR rules through the Trainer: ``--lr_mapping``, ``--loraplus_lr_ratio``, ``--layer_decay`` in SchedTrainer.

Real short SchedTrainer runs on a tiny random BERT (hidden 32, 2 layers) wrapped by a real
``peft.get_peft_model``; a callback reads every param group's LR at the start of each
optimizer step, which must equal the group's peak (computed here from the parameter's
name) times the closed-form schedule.
"""

from __future__ import annotations

import math
import re

import pytest
import torch
from optional import require
from test_trainer import ddp_script
from transformers import HfArgumentParser, PrinterCallback, ProgressCallback, TrainerCallback

from hf_sched.integrations.transformers import SchedTrainer, SchedTrainingArguments

peft = require("peft")


pytestmark = pytest.mark.usefixtures("frozen_gc")

PEAK = 1e-3
L = 2  # layers of ddp_script.make_model()


def parse(argv: list[str]) -> SchedTrainingArguments:
    (args,) = HfArgumentParser(SchedTrainingArguments).parse_args_into_dataclasses(
        [*argv, "--output_dir", "unused_out", "--report_to", "none"]
    )
    return args


def lora_model():
    config = peft.LoraConfig(r=4, lora_alpha=8, target_modules=["query", "value"], task_type="SEQ_CLS")
    return peft.get_peft_model(ddp_script.make_model(), config)


def data(n: int = 40) -> list[dict]:
    g = torch.Generator().manual_seed(1)
    return [{"input_ids": torch.randint(1, ddp_script.VOCAB, (8,), generator=g), "labels": i % 2} for i in range(n)]


class GroupLRs(TrainerCallback):
    """Every group's LR at the start of each optimizer step (the LR that step uses)."""

    def __init__(self) -> None:
        self.seen: list[list[float]] = []

    def on_step_begin(self, args, state, control, optimizer=None, **kwargs):
        self.seen.append([float(g["lr"]) for g in optimizer.param_groups])


def make_trainer(tmp_path, model, callback=None, **overrides):
    kw = dict(output_dir=str(tmp_path), learning_rate=PEAK, per_device_train_batch_size=4, num_train_epochs=1,
              logging_steps=1, save_strategy="no", report_to=[], use_cpu=True, seed=0, save_lr_curve=False,
              lr_scheduler_type="warmupcosine")
    kw.update(overrides)
    trainer = SchedTrainer(model=model, args=SchedTrainingArguments(**kw), train_dataset=data(),
                           callbacks=[callback] if callback else None)
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    return trainer


def cosine(total: int, warmup: int):
    def f(s: int) -> float:
        if s < warmup:
            return s / warmup
        return 0.5 * (1 + math.cos(math.pi * (s - warmup) / (total - warmup)))

    return f


def expected_peak(name: str, d: float, ratio: float) -> float:
    """classifier at 1e-2 (the map), LoRA B at ratio x, layer i at d**(L - i); from the name alone."""
    m = re.search(r"\.encoder\.layer\.(\d+)\.", name)
    depth = int(m.group(1)) + 1 if m else L + 1
    base = 1e-2 if ".classifier." in name else PEAK
    return base * d ** (L + 1 - depth) * (ratio if ".lora_B." in name else 1.0)


def test_parser_flags():
    args = parse(["--lr_mapping", '{"classifier": 1e-3, "pooler": "x2"}', "--loraplus_lr_ratio", "16",
                  "--layer_decay", "0.9"])
    assert args.lr_mapping == {"classifier": 1e-3, "pooler": "x2"}
    assert (args.loraplus_lr_ratio, args.layer_decay) == (16.0, 0.9)
    assert args.param_group_rules() == {"lr": 5e-5, "weight_decay": 0.0, "layer_decay": 0.9,
                                        "lr_mapping": {"classifier": 1e-3, "pooler": "x2"}, "loraplus_lr_ratio": 16.0}
    text = HfArgumentParser(SchedTrainingArguments).format_help()
    assert "--lr_mapping" in text and "--loraplus_lr_ratio" in text
    assert parse([]).param_group_rules() == {}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--lr_mapping", '{"classifier": 1e-3'], "lr_mapping='{\"classifier\": 1e-3' is not valid JSON (Expecting ',' delimiter"),
        (["--lr_mapping", '{"classifier": "fast"}'], "lr_mapping['classifier']='fast' is invalid: it must be an LR > 0"),
        (["--loraplus_lr_ratio", "0"], "loraplus_lr_ratio=0.0 is invalid: it must be a finite number > 0"),
        (["--loraplus_lr_ratio", "nan"], "loraplus_lr_ratio=nan is invalid: it must be a finite number > 0"),
        (["--loraplus_lr_ratio", "-16"], "loraplus_lr_ratio=-16.0 is invalid: it must be a finite number > 0"),
    ],
)
def test_parser_bad_rules(argv, message):
    with pytest.raises(ValueError) as exc:
        parse(argv)
    assert str(exc.value).startswith(message) and "\n" not in str(exc.value)


def test_schedtrainer_run_with_lr_mapping_loraplus_and_layer_decay(tmp_path):
    """A real run: every group's LR at every step is its rule's peak times warmupcosine."""
    model = lora_model()
    callback = GroupLRs()
    d, ratio = 0.5, 16.0
    trainer = make_trainer(tmp_path, model, callback, lr_mapping='{"classifier": 1e-2}', loraplus_lr_ratio=ratio,
                           layer_decay=d, weight_decay=0.01)
    before = {n: p.detach().clone() for n, p in model.named_parameters() if ".lora_B." in n}
    trainer.train()
    opt = trainer.optimizer
    names = {id(p): n for n, p in model.named_parameters()}
    peaks = []
    for g in opt.param_groups:
        wanted = {expected_peak(names[id(p)], d, ratio) for p in g["params"]}
        assert len(wanted) == 1, g["name"]
        peaks.append(wanted.pop())
    assert {p for p in peaks} >= {PEAK * d**2, PEAK * d**2 * ratio, PEAK * d * ratio, 1e-2}
    T = trainer.state.max_steps
    assert T == 10 and len(callback.seen) == T
    f = cosine(T, math.ceil(T / 10))
    for s, lrs in enumerate(callback.seen):
        assert lrs == pytest.approx([p * f(s) for p in peaks], rel=1e-12, abs=0), s
    assert any(not torch.equal(p, before[n]) for n, p in model.named_parameters() if n in before)
    # the logged LR is the first group's, as the Trainer logs it
    assert [h["learning_rate"] for h in trainer.state.log_history if "learning_rate" in h] == pytest.approx(
        [peaks[0] * f(s) for s in range(T)], rel=1e-12, abs=0)


def test_loraplus_flag_on_a_model_without_lora(tmp_path):
    trainer = make_trainer(tmp_path, ddp_script.make_model(), loraplus_lr_ratio=16)
    with pytest.raises(ValueError, match=r"^loraplus_lr_ratio=16.0 needs LoRA B matrices .* but BertForSequenceClassification has none"):
        trainer.train()


def test_regex_that_matches_nothing_fails_when_the_optimizer_is_made(tmp_path):
    trainer = make_trainer(tmp_path, ddp_script.make_model(), lr_mapping={"clasifier": 1e-2})
    with pytest.raises(ValueError, match=r"^lr_mapping regex 'clasifier' matches no trainable parameter"):
        trainer.create_optimizer()


def test_an_optimizer_with_its_own_groups_is_refused(tmp_path):
    model = ddp_script.make_model()
    trainer = make_trainer(tmp_path, model, lr_mapping={"classifier": 1e-2})
    trainer.optimizer_cls_and_kwargs = (torch.optim.SGD, {"params": list(model.parameters())})  # as Trainer(optimizer_cls_and_kwargs=...)
    with pytest.raises(ValueError) as exc:
        trainer.create_optimizer()
    assert re.fullmatch(
        r"lr_mapping=\{'classifier': 0.01\} cannot be used with optim='\w+': that optimizer builds its own parameter "
        r"groups\. Use a plain optimizer \(adamw_torch, sgd, adafactor, \.\.\.\) or leave these unset",
        str(exc.value),
    )
