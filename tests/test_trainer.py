"""The Trainer integration: SchedTrainingArguments, SchedTrainer, LRCurveCallback, the recipe.

Real Trainer runs on a tiny random BERT (hidden 32, 2 layers, no dropout) and synthetic
token ids, on the CPU. The LR the Trainer logs at optimizer step ``k`` is read after
``optimizer.step()`` and before ``scheduler.step()``, so it is ``peak * f(k - 1)``; the
closed forms below are written out here, independent of hf_sched's own schedules.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import pickle
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hf_versions import RESTORES_BATCH_SIZE, stock_warmup_ratio
from transformers import (
    HfArgumentParser,
    PrinterCallback,
    ProgressCallback,
    Trainer,
    TrainingArguments,
)
from transformers.trainer_utils import SchedulerType

from hf_sched.lr_scheduler import ScheduledLR
from hf_sched.integrations.scheduler_name import SchedulerName
from hf_sched.integrations.lr_curve import LRCurveCallback, lr_curve_from_log_history, save_lr_curve
from hf_sched.integrations.transformers import SchedTrainer, SchedTrainingArguments

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("trainer_ddp_script", REPO / "tests" / "scripts" / "trainer_ddp.py")
ddp_script = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ddp_script)

pytestmark = pytest.mark.usefixtures("frozen_gc")

PEAK = 1e-3
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CANONICAL = ["constantlr", "warmupconstant", "warmuplinear", "warmupcosine", "warmupcosinewithhardrestarts", "noam"]


# ---------------------------------------------------------------------------- helpers



def make_data(n: int = 40) -> list[dict]:
    g = torch.Generator().manual_seed(1)
    return [{"input_ids": torch.randint(1, ddp_script.VOCAB, (8,), generator=g), "labels": i % 2} for i in range(n)]


def make_args(output_dir, cls=SchedTrainingArguments, **overrides):
    kw = dict(
        output_dir=str(output_dir),
        learning_rate=PEAK,
        per_device_train_batch_size=4,
        num_train_epochs=1.5,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        seed=0,
    )
    if cls is SchedTrainingArguments:
        kw["save_lr_curve"] = False
    kw.update(overrides)
    return cls(**kw)


def make_trainer(args, trainer_cls=SchedTrainer, data=None, **kwargs):
    trainer = trainer_cls(model=ddp_script.make_model(), args=args, train_dataset=data or make_data(), **kwargs)
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    return trainer


def logged(trainer) -> list[tuple[int, float]]:
    return [(h["step"], h["learning_rate"]) for h in trainer.state.log_history if "learning_rate" in h]


def parse(argv: list[str]) -> SchedTrainingArguments:
    (args,) = HfArgumentParser(SchedTrainingArguments).parse_args_into_dataclasses(
        [*argv, "--output_dir", "unused_out", "--report_to", "none"]
    )
    return args


def closed_form(name: str, total: int, warmup: int, num_cycles: float | None = None):
    """The multiplier f(s) of each canonical schedule, written out."""

    def f(s: int) -> float:
        if name == "constantlr":
            return 1.0
        if s < warmup:
            return s / warmup
        if name == "warmupconstant":
            return 1.0
        if name == "noam":
            return math.sqrt(warmup / s)
        p = (s - warmup) / max(1, total - warmup)
        if name == "warmuplinear":
            return max(0.0, (total - s) / max(1, total - warmup))
        if name == "warmupcosine":
            c = 0.5 if num_cycles is None else num_cycles
            return max(0.0, 0.5 * (1 + math.cos(math.pi * 2 * c * p)))
        if name == "warmupcosinewithhardrestarts":
            c = 1.0 if num_cycles is None else num_cycles
            return 0.0 if p >= 1 else 0.5 * (1 + math.cos(math.pi * ((c * p) % 1.0)))
        raise AssertionError(name)

    return f


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


# ---------------------------------------------------------------------------- import


def test_public_names_are_lazy():
    import hf_sched

    assert (hf_sched.SchedTrainer, hf_sched.SchedTrainingArguments, hf_sched.LRCurveCallback) == (
        SchedTrainer, SchedTrainingArguments, LRCurveCallback)
    code = "import sys, hf_sched; hf_sched.canonical_name('noam'); print('transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.stdout.strip() == "False", out.stderr


# ---------------------------------------------------------------------------- arguments: parser


def test_parser_warmupcosine_ratio_and_json_kwargs():
    args = parse(["--lr_scheduler_type", "warmupcosine", "--warmup_ratio", "0.1", "--lr_scheduler_kwargs", '{"num_cycles": 2}'])
    assert args.lr_scheduler_type == "warmupcosine"
    assert isinstance(args.lr_scheduler_type, SchedulerName)
    assert args.lr_scheduler_type.value == "warmupcosine"
    assert args.lr_scheduler_kwargs == {"num_cycles": 2}
    assert (args.warmup_ratio, args.warmup_steps, args.warmup) == (0.1, None, None)
    assert args.warmup_request() == 0.1
    assert args.get_warmup_steps(30) == 3  # ceil(0.1 * 30), exact decimal arithmetic


@pytest.mark.parametrize(
    "given, stored",
    [
        ("constantlr", "constantlr"),
        ("warmupconstant", "warmupconstant"),
        ("warmuplinear", "warmuplinear"),
        ("warmupcosine", "warmupcosine"),
        ("warmupcosinewithhardrestarts", "warmupcosinewithhardrestarts"),
        ("hard-restarts", "warmupcosinewithhardrestarts"),
        ("noam", "noam"),
        ("WarmupCosine", "warmupcosine"),
        ("Cosine-With-Restarts", "cosine_with_restarts"),
    ],
)
def test_parser_accepts_every_canonical_name(given, stored):
    args = parse(["--lr_scheduler_type", given])
    assert args.lr_scheduler_type == stored
    assert args.lr_scheduler_type.value == stored


@pytest.mark.parametrize("name", [t.value for t in SchedulerType])
def test_parser_accepts_every_transformers_name(name):
    extra: list[str] = []
    if name in ("cosine_with_min_lr", "cosine_warmup_with_min_lr"):
        extra = ["--lr_scheduler_kwargs", '{"min_lr_rate": 0.1}']
    if name in ("reduce_lr_on_plateau", "greedy"):
        extra = ["--eval_strategy", "steps", "--eval_steps", "5"]
    args = parse(["--lr_scheduler_type", name, *extra])
    assert args.lr_scheduler_type == name
    # the Trainer's own checks compare with the enum; they must still match
    assert args.lr_scheduler_type == SchedulerType(name)
    if name in ("reduce_lr_on_plateau", "greedy"):
        assert args.metric_for_best_model == "loss"  # set by TrainingArguments for metric-driven schedules


def test_parser_help_lists_the_new_flags():
    text = HfArgumentParser(SchedTrainingArguments).format_help()
    for flag in ("--lr_scheduler_type", "--warmup_ratio", "--warmup ", "--lr_scheduler_strict_resume", "--layer_decay"):
        assert flag in text
    assert "warmupcosinewithhardrestarts" in text and "'10%'" in text


def test_parser_bad_name_says_what_was_meant():
    with pytest.raises(ValueError) as err:
        parse(["--lr_scheduler_type", "warmupcosin"])
    msg = str(err.value)
    assert "lr_scheduler_type='warmupcosin' is invalid" in msg
    assert "Did you mean 'warmupcosine'?" in msg
    assert "noam" in msg  # the list of available names


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ('{"num_cycle": 2}', "got unknown argument(s) 'num_cycle'; it accepts: num_cycles (default 0.5)"),
        ('{"min_lr": 1e-6}', "schedule 'warmupcosine' got unknown argument(s) 'min_lr'"),
        ('{num_cycles: 2}', "lr_scheduler_kwargs must be a JSON object such as '{\"num_cycles\": 2}', got '{num_cycles: 2}'"),
        ("[1, 2]", "lr_scheduler_kwargs must be a JSON object such as '{\"num_cycles\": 2}', got a list: '[1, 2]'"),
        ('{"num_cycles": -1}', "num_cycles must be a number > 0, got -1"),
    ],
)
def test_parser_bad_kwargs_name_the_parameter(kwargs, expected):
    with pytest.raises(ValueError) as err:
        parse(["--lr_scheduler_type", "warmupcosine", "--lr_scheduler_kwargs", kwargs])
    assert expected in str(err.value)


def test_parser_kwargs_of_metric_driven_schedule_are_checked():
    with pytest.raises(ValueError, match="'reduce_lr_on_plateau' got unknown argument.*'patients'.*patience"):
        parse(["--lr_scheduler_type", "reduce_lr_on_plateau", "--eval_strategy", "epoch",
               "--lr_scheduler_kwargs", '{"patients": 2}'])
    with pytest.raises(ValueError, match="requires an eval strategy"):  # transformers' own check still runs
        parse(["--lr_scheduler_type", "reduce_lr_on_plateau"])


def test_parser_warmup_steps_below_one_is_a_ratio_as_in_transformers():
    # transformers 5.x: warmup_steps >= 1 is steps, < 1 a ratio (ceil(T * ratio))
    args = parse(["--warmup_steps", "0.1"])
    assert (args.warmup_steps, args.warmup_request(), args.get_warmup_steps(30), args.get_warmup_steps(35)) == (
        0.1, 0.1, 3, 4)
    stock = TrainingArguments(output_dir="unused_out", report_to=[], **stock_warmup_ratio(0.1))  # 4.x: warmup_ratio
    assert [args.get_warmup_steps(t) for t in (30, 35, 99)] == [stock.get_warmup_steps(t) for t in (30, 35, 99)]
    steps = parse(["--warmup_steps", "10"])
    assert steps.warmup_steps == 10 and type(steps.warmup_steps) is int and steps.get_warmup_steps(30) == 10
    with pytest.raises(ValueError, match=r"warmup_steps=2.5 is invalid: a value >= 1 is a number of steps and must be whole"):
        parse(["--warmup_steps", "2.5"])


@pytest.mark.parametrize(
    "argv, request_, steps_of_100",
    [
        ([], 0.1, 10),  # unset: the ratio, default 10%
        (["--warmup_ratio", "0.25"], 0.25, 25),
        (["--warmup_steps", "0"], 0, 0),  # explicit 0: no warmup
        (["--warmup_steps", "1"], 1, 1),  # >= 1 is steps: 1 is one step, never 100%
        (["--warmup_steps", "0.25"], 0.25, 25),  # < 1 is a ratio, as in transformers 5.x
        (["--warmup_steps", "7", "--warmup_ratio", "0.1"], 7, 7),  # steps win over the ratio
        (["--warmup", "5%"], "5%", 5),
        (["--warmup", "0.06"], "0.06", 6),
        (["--warmup", "12"], "12", 12),
        (["--lr_scheduler_type", "constantlr"], None, 0),  # no warmup phase: the default ratio is not applied
    ],
)
def test_parser_warmup_fields(argv, request_, steps_of_100):
    args = parse(argv)
    assert args.warmup_request() == request_
    assert args.get_warmup_steps(100) == steps_of_100


def test_parser_layer_decay_and_opt_outs():
    args = parse(["--layer_decay", "0.9", "--lr_scheduler_strict_resume", "false", "--save_lr_curve", "false"])
    assert (args.layer_decay, args.lr_scheduler_strict_resume, args.save_lr_curve) == (0.9, False, False)
    with pytest.raises(ValueError, match=r"layer_decay=1.1 is invalid: it must be a number in \(0, 1\]"):
        parse(["--layer_decay", "1.1"])


def test_warmup_auto_reads_beta2_from_the_optimizer():
    args = parse(["--warmup", "auto", "--adam_beta2", "0.8"])
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], betas=(0.9, 0.8))
    assert args.get_warmup_steps(100, optimizer=opt) == 10  # 2 / (1 - 0.8)
    with pytest.raises(ValueError, match="warmup='auto' needs the optimizer"):
        args.get_warmup_steps(100)


# ---------------------------------------------------------------------------- arguments: in code


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"warmup_steps": 1.5}, "warmup_steps=1.5 is invalid: a value >= 1 is a number of steps and must be whole "
                                "(transformers would silently use 1)"),
        ({"warmup_steps": float("nan")}, "warmup_steps=nan is invalid: it must be a whole number of steps >= 1"),
        ({"warmup_steps": "10"}, "warmup_steps='10' is invalid"),
        ({"warmup_steps": -1}, "warmup_steps=-1 is invalid: it must be >= 0"),
        ({"warmup_steps": True}, "warmup_steps=True is invalid"),
        ({"warmup_ratio": 1.0}, "warmup_ratio=1.0 is invalid: it must be a number in [0, 1) (for a number of steps use warmup_steps)"),
        ({"warmup_ratio": -0.1}, "warmup_ratio=-0.1 is invalid: it must be a number in [0, 1)"),
        ({"warmup": "150%"}, "warmup='150%' is invalid: warmup (percent) must be a number in [0, 100), got 150.0"),
        ({"warmup": "lots"}, "warmup='lots' is invalid"),
        ({"warmup": "10%", "warmup_steps": 3}, "give the warmup once: warmup_steps=3 and warmup='10%' are both set"),
        ({"max_steps": 10, "warmup_steps": 20}, "warmup of 20 steps is longer than the 10 training steps"),
        ({"lr_scheduler_type": "noam", "warmup_steps": 0}, "noam needs num_warmup_steps >= 1"),
        ({"lr_scheduler_type": "cosine_with_min_lr"}, "needs one of min_lr"),
        ({"lr_scheduler_kwargs": "num_cycles=2"}, "lr_scheduler_kwargs must be a JSON object such as '{\"num_cycles\": 2}', got 'num_cycles=2'"),
        ({"lr_scheduler_kwargs": {1: 2}}, "lr_scheduler_kwargs keys must be argument names (str)"),
        ({"lr_scheduler_type": 3}, "lr_scheduler_type=3 is invalid: schedule name must be a string"),
        ({"layer_decay": 0.0}, "layer_decay=0.0 is invalid: it must be a number in (0, 1]"),
        ({"layer_decay": 1.5}, "layer_decay=1.5 is invalid"),
        ({"warmup": "auto", "adam_beta2": 1.0}, "warmup='auto' needs beta2 in [0, 1), the optimizer has beta2=1.0"),
        ({"lr_scheduler_type": "polynomial", "lr_scheduler_kwargs": {"lr_end": 1e-2}},
         "lr_end (0.01) must be smaller than the initial lr (0.001)"),
    ],
)
def test_bad_arguments_in_code(tmp_path, overrides, expected):
    with pytest.raises(ValueError) as err:
        make_args(tmp_path, **overrides)
    assert expected in str(err.value)


def test_warmup_on_a_schedule_without_warmup_warns(tmp_path):
    with pytest.warns(UserWarning, match="'constantlr' has no warmup phase; ignoring the warmup request"):
        args = make_args(tmp_path, lr_scheduler_type="constantlr", warmup_steps=5)
    assert args.get_warmup_steps(100) == 0


def test_ignored_warmup_ratio_warns(tmp_path):
    with pytest.warns(UserWarning, match="warmup_ratio=0.3 is ignored: warmup_steps=4 is set"):
        make_args(tmp_path, warmup_ratio=0.3, warmup_steps=4)


def test_scheduler_type_enum_and_set_lr_scheduler(tmp_path):
    args = make_args(tmp_path, lr_scheduler_type=SchedulerType.COSINE)
    assert args.lr_scheduler_type == "cosine" and type(args.lr_scheduler_type) is SchedulerName
    args.set_lr_scheduler("hard-restarts", max_steps=50, warmup="auto", kwargs={"num_cycles": 3})
    assert (args.lr_scheduler_type, args.max_steps, args.warmup, args.lr_scheduler_kwargs) == (
        "warmupcosinewithhardrestarts", 50, "auto", {"num_cycles": 3})
    with pytest.raises(ValueError, match="got unknown argument.*'cycles'"):
        args.set_lr_scheduler("warmupcosine", kwargs={"cycles": 3})


def test_args_serialise_and_rebuild(tmp_path):
    args = make_args(tmp_path, lr_scheduler_type="hard-restarts", lr_scheduler_kwargs='{"num_cycles": 3}', warmup="5%")
    d = args.to_dict()
    assert type(d["lr_scheduler_type"]) is str and d["lr_scheduler_type"] == "warmupcosinewithhardrestarts"
    loaded = json.loads(args.to_json_string())
    assert loaded["lr_scheduler_kwargs"] == {"num_cycles": 3}
    assert (loaded["warmup"], loaded["warmup_ratio"], loaded["warmup_steps"]) == ("5%", 0.1, None)
    assert loaded["lr_scheduler_strict_resume"] is True
    rebuilt = SchedTrainingArguments(**{k: v for k, v in loaded.items() if not k.endswith("_token")})
    assert rebuilt.lr_scheduler_type == args.lr_scheduler_type
    assert rebuilt.get_warmup_steps(200) == args.get_warmup_steps(200) == 10
    # pickled as the Trainer saves training_args.bin
    torch.save(args, tmp_path / "training_args.bin")
    back = torch.load(tmp_path / "training_args.bin", weights_only=False)
    assert back.lr_scheduler_type.value == "warmupcosinewithhardrestarts"
    assert pickle.loads(pickle.dumps(args)).to_dict() == d
    assert args.to_sanitized_dict()["lr_scheduler_type"] == "warmupcosinewithhardrestarts"


def test_stock_training_arguments_are_untouched():
    """Importing hf_sched.integrations patches nothing: stock TrainingArguments behave as before."""
    with pytest.raises(SystemExit):
        HfArgumentParser(TrainingArguments).parse_args_into_dataclasses(
            ["--lr_scheduler_type", "warmupcosine", "--output_dir", "unused_out"]
        )
    stock = TrainingArguments(output_dir="unused_out", lr_scheduler_type="cosine", report_to=[], **stock_warmup_ratio(0.1))
    assert stock.lr_scheduler_type is SchedulerType.COSINE
    assert stock.get_warmup_steps(30) == 3 and stock.warmup_steps == (0.1 if "warmup_steps" in stock_warmup_ratio(0.1) else 0)


# ---------------------------------------------------------------------------- Trainer runs: closed forms


@pytest.mark.parametrize("accum", [1, 3])
@pytest.mark.parametrize("name", CANONICAL)
def test_logged_lrs_equal_the_closed_form(tmp_path, name, accum):
    # 40 examples, batch 4: 10 batches per epoch; 1.5 epochs.
    kwargs = {"num_cycles": 2} if name == "warmupcosinewithhardrestarts" else {}
    args = make_args(tmp_path, lr_scheduler_type=name, gradient_accumulation_steps=accum, lr_scheduler_kwargs=kwargs)
    trainer = make_trainer(args)
    trainer.train()
    steps_per_epoch = math.ceil(10 / accum)  # the remainder micro-batch still makes a step
    total = math.ceil(1.5 * steps_per_epoch)  # 15 (accum 1) or 6 (accum 3)
    warmup = 0 if name == "constantlr" else math.ceil(0.1 * total)
    assert trainer.state.max_steps == total
    sched = trainer.lr_scheduler
    assert isinstance(sched, ScheduledLR)
    assert (sched.schedules[0].num_training_steps, sched.schedules[0].num_warmup_steps) == (total, warmup)

    f = closed_form(name, total, warmup, kwargs.get("num_cycles"))
    got = logged(trainer)
    assert [s for s, _ in got] == list(range(1, total + 1))
    for step, lr in got:
        assert lr == pytest.approx(PEAK * f(step - 1), rel=1e-12, abs=1e-18), (step, lr)
    # the last step used f(T-1); the scheduler now sits at the final value f(T)
    assert sched.optimizer_step == total
    assert sched.get_last_lr()[0] == pytest.approx(PEAK * f(total), abs=1e-18)
    final = {"constantlr": 1.0, "warmupconstant": 1.0, "noam": math.sqrt(warmup / total)}.get(name, 0.0)
    assert sched.get_last_lr()[0] == pytest.approx(PEAK * final, abs=1e-18)
    if name == "warmupcosinewithhardrestarts" and accum == 1:
        lrs = [lr for _, lr in got]
        assert any(b > a for a, b in zip(lrs[warmup + 1:], lrs[warmup + 2:]))  # the restart


def test_user_optimizer_with_no_scheduler(tmp_path):
    args = make_args(tmp_path, lr_scheduler_type="warmuplinear", max_steps=8)
    model = ddp_script.make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)  # its LR is the peak, not args.learning_rate
    trainer = SchedTrainer(model=model, args=args, train_dataset=make_data(), optimizers=(opt, None))
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    trainer.train()
    assert trainer.optimizer.optimizer is opt  # the Trainer wrapped it for Accelerate
    assert isinstance(trainer.lr_scheduler, ScheduledLR)
    f = closed_form("warmuplinear", 8, 1)
    assert [lr for _, lr in logged(trainer)] == pytest.approx([0.05 * f(k) for k in range(8)], rel=1e-12)


@pytest.mark.parametrize("optim", ["sgd", "adafactor"])
def test_optimizers_the_trainer_makes(tmp_path, optim):
    args = make_args(tmp_path, lr_scheduler_type="warmupcosine", optim=optim, max_steps=6)
    trainer = make_trainer(args)
    trainer.train()
    f = closed_form("warmupcosine", 6, 1)
    assert [lr for _, lr in logged(trainer)] == pytest.approx([PEAK * f(k) for k in range(6)], rel=1e-12, abs=1e-18)


def test_reduce_lr_on_plateau_is_stepped_with_the_eval_metric(tmp_path):
    # An LR this small cannot improve eval_loss by the 1e-4 relative threshold: every eval cuts it.
    args = make_args(
        tmp_path, lr_scheduler_type="reduce_lr_on_plateau", learning_rate=1e-7, max_steps=6,
        eval_strategy="steps", eval_steps=2, lr_scheduler_kwargs={"patience": 0, "factor": 0.5},
    )
    trainer = make_trainer(args, eval_dataset=make_data(8))
    trainer.train()
    assert isinstance(trainer.lr_scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    lrs = [lr for _, lr in logged(trainer)]
    # evals after steps 2, 4, 6: the first sets the best, each later one cuts the LR in half
    assert lrs == pytest.approx([1e-7] * 4 + [5e-8] * 2, rel=1e-9, abs=0)
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(2.5e-8, rel=1e-9, abs=0)


def test_scheduler_for_auto_warmup_and_its_errors(tmp_path):
    trainer = make_trainer(make_args(tmp_path, warmup="auto", adam_beta2=0.8))
    trainer.create_optimizer()
    sched = trainer.create_scheduler(num_training_steps=15)
    assert sched.schedules[0].num_warmup_steps == 10  # round(2 / (1 - 0.8))
    assert trainer.create_scheduler(num_training_steps=99) is sched  # an existing scheduler is kept

    trainer = make_trainer(make_args(tmp_path, warmup="auto", optim="sgd"))
    trainer.create_optimizer()
    with pytest.raises(ValueError, match="warmup='auto' needs an Adam-family optimizer with betas; SGD has none"):
        trainer.create_scheduler(num_training_steps=15)

    trainer = make_trainer(make_args(tmp_path, warmup_steps=20))
    trainer.create_optimizer()
    with pytest.raises(ValueError, match="warmup of 20 steps is longer than the 15 training steps"):
        trainer.create_scheduler(num_training_steps=15)
    with pytest.raises(ValueError, match="create_scheduler needs an optimizer"):
        make_trainer(make_args(tmp_path)).create_scheduler(num_training_steps=15)


def test_layer_decay_param_groups_follow_the_schedule(tmp_path):
    trainer = make_trainer(make_args(tmp_path, layer_decay=0.5, weight_decay=0.01, lr_scheduler_type="warmupconstant"))
    opt = trainer.create_optimizer()
    assert isinstance(opt, torch.optim.AdamW)
    peaks = {g["name"]: g["lr"] for g in opt.param_groups}
    # 2 layers: embeddings d**3, layer_0 d**2, layer_1 d, head 1
    assert peaks["embeddings.decay"] == pytest.approx(PEAK / 8)
    assert peaks["layer_0.decay"] == pytest.approx(PEAK / 4)
    assert peaks["layer_1.no_decay"] == pytest.approx(PEAK / 2)
    assert peaks["head.decay"] == pytest.approx(PEAK)
    sched = trainer.create_scheduler(num_training_steps=20)  # warmup 2 steps
    assert [g["lr"] for g in opt.param_groups] == [0.0] * len(opt.param_groups)
    opt.step(); sched.step()  # no grads: nothing moves, but an optimizer step is counted
    assert {g["name"]: g["lr"] for g in opt.param_groups} == pytest.approx({k: v / 2 for k, v in peaks.items()})
    opt.step(); sched.step()
    assert {g["name"]: g["lr"] for g in opt.param_groups} == pytest.approx(peaks)


def test_stock_trainingarguments_with_schedtrainer_match_the_stock_trainer(tmp_path):
    stock = make_args(tmp_path / "a", cls=TrainingArguments, lr_scheduler_type="cosine",
                      **stock_warmup_ratio(0.2))
    trainer = make_trainer(stock, trainer_cls=SchedTrainer)
    trainer.create_optimizer()
    sched = trainer.create_scheduler(num_training_steps=15)
    assert isinstance(sched, ScheduledLR)
    assert (sched.schedules[0].num_training_steps, sched.schedules[0].num_warmup_steps) == (15, 3)


# ---------------------------------------------------------------------------- stock Trainer + LR curve PNG


def test_stock_trainer_path_unchanged_and_lr_curve_png(tmp_path):
    """transformers' names on stock TrainingArguments + Trainer: its own LambdaLR, and our
    SchedTrainer gives the same LRs; LRCurveCallback writes a PNG on the stock Trainer."""
    callback = LRCurveCallback()
    stock_args = make_args(tmp_path / "stock", cls=TrainingArguments, lr_scheduler_type="cosine",
                           **stock_warmup_ratio(0.1))
    stock = make_trainer(stock_args, trainer_cls=Trainer, callbacks=[callback])
    stock.train()
    assert type(stock.lr_scheduler).__name__ == "LambdaLR"

    ours = make_trainer(make_args(tmp_path / "ours", lr_scheduler_type="cosine", warmup_ratio=0.1, save_lr_curve=True))
    ours.train()
    assert [s for s, _ in logged(ours)] == [s for s, _ in logged(stock)] == list(range(1, 16))
    assert [lr for _, lr in logged(ours)] == pytest.approx([lr for _, lr in logged(stock)], rel=1e-12, abs=1e-18)

    for png in (tmp_path / "stock" / "lr_curve.png", tmp_path / "ours" / "lr_curve.png"):
        assert png.is_file()
        assert png.stat().st_size > 5_000
        assert png_size(png) == (700, 350)
    assert callback.path == str(tmp_path / "stock" / "lr_curve.png")

    # create_model_card reads args.lr_scheduler_type.value
    ours.create_model_card(model_name="tiny-bert")
    card = (tmp_path / "ours" / "README.md").read_text()
    assert "lr_scheduler_type: cosine" in card
    assert "lr_scheduler_warmup_steps: 2" in card  # resolved from warmup_ratio 0.1 of 15 steps
    assert ours.args.warmup_steps is None  # the args are left as they were


def test_no_png_when_disabled_or_nothing_logged(tmp_path):
    trainer = make_trainer(make_args(tmp_path, max_steps=2, save_lr_curve=False))
    trainer.train()
    assert not (tmp_path / "lr_curve.png").exists()
    assert not any(isinstance(cb, LRCurveCallback) for cb in trainer.callback_handler.callbacks)


def test_lr_curve_helpers(tmp_path):
    history = [
        {"loss": 1.0, "learning_rate": 0.0, "step": 1},
        {"eval_loss": 0.9, "step": 1},
        {"loss": 1.0, "learning_rate": 2e-3, "step": 2},
        {"learning_rate": 1e-3, "step": 2},  # a resumed run logs step 2 again: the last one wins
        {"train_runtime": 1.0, "step": 2},
    ]
    assert lr_curve_from_log_history(history) == [(1, 0.0), (2, 1e-3)]
    path = save_lr_curve([(1, 0.0), (2, 1e-3)], str(tmp_path / "sub" / "curve.png"), planned=([1, 2], [0.0, 1e-3]))
    assert Path(path).read_bytes()[:8] == PNG_SIGNATURE
    with pytest.raises(ValueError, match="filename='curve.jpg' is invalid: it must be a file name ending in .png"):
        LRCurveCallback(filename="curve.jpg")


# ---------------------------------------------------------------------------- resume


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """12 steps (48 examples, batch 4, 1 epoch) with checkpoints at 6 and 12."""
    out = tmp_path_factory.mktemp("uninterrupted")
    args = make_args(
        out, lr_scheduler_type="warmupcosine", num_train_epochs=1, save_strategy="steps", save_steps=6
    )
    trainer = make_trainer(args, data=make_data(48))
    trainer.train()
    return out, trainer


def test_resume_gives_the_same_lrs_and_weights(tmp_path, uninterrupted):
    out, full = uninterrupted
    assert full.state.max_steps == 12 and (out / "checkpoint-6" / "scheduler.pt").is_file()
    state = torch.load(out / "checkpoint-6" / "scheduler.pt", weights_only=True)
    assert state["step"] == 6 and state["schedules"][0]["num_training_steps"] == 12

    args = make_args(tmp_path, lr_scheduler_type="warmupcosine", num_train_epochs=1, save_strategy="steps", save_steps=6)
    resumed = make_trainer(args, data=make_data(48))
    resumed.train(resume_from_checkpoint=str(out / "checkpoint-6"))
    assert resumed.state.global_step == 12
    # the resumed log history starts with the checkpoint's (steps 1-6); 7-12 were trained here
    got = logged(resumed)
    assert [s for s, _ in got] == list(range(1, 13))
    assert got[6:] == logged(full)[6:]
    assert resumed.lr_scheduler.optimizer_step == 12
    full_weights = full.model.state_dict()
    for name, value in resumed.model.state_dict().items():
        assert torch.allclose(value, full_weights[name], rtol=1e-6, atol=1e-7), name


@pytest.mark.parametrize(
    "overrides, change",
    [
        ({"per_device_train_batch_size": 8}, "num_training_steps: 12 -> 6, num_warmup_steps: 2 -> 1"),
        ({"max_steps": 20}, "num_training_steps: 12 -> 20"),
        ({"lr_scheduler_type": "warmuplinear"}, "kind: cosine -> linear"),
        ({"lr_scheduler_kwargs": {"num_cycles": 1}}, "num_cycles: 0.5 -> 1.0"),
    ],
)
def test_resume_with_a_different_schedule_is_refused(tmp_path, uninterrupted, overrides, change):
    out, _ = uninterrupted
    kw = dict(lr_scheduler_type="warmupcosine", num_train_epochs=1)
    kw.update(overrides)
    trainer = make_trainer(make_args(tmp_path, **kw), data=make_data(48))
    if RESTORES_BATCH_SIZE and "per_device_train_batch_size" in overrides:
        # transformers 4.x resumes with the checkpoint's batch size: the same schedule, nothing to refuse
        trainer.train(resume_from_checkpoint=str(out / "checkpoint-6"))
        assert trainer._train_batch_size == 4 and trainer.lr_scheduler.schedules[0].num_training_steps == 12
        return
    with pytest.raises(ValueError) as err:
        trainer.train(resume_from_checkpoint=str(out / "checkpoint-6"))
    msg = str(err.value)
    assert msg.startswith("cannot resume: the LR schedule of this run differs from the one in")
    assert change in msg
    assert all(f"--lr_scheduler_resume {mode} (" in msg for mode in ("checkpoint", "rescale", "replan"))


def test_resume_with_a_changed_batch_size_opted_out_warns(tmp_path, uninterrupted):
    out, _ = uninterrupted
    args = make_args(
        tmp_path, lr_scheduler_type="warmupcosine", num_train_epochs=1, per_device_train_batch_size=8,
        lr_scheduler_strict_resume=False,
    )
    trainer = make_trainer(args, data=make_data(48))
    if RESTORES_BATCH_SIZE:  # transformers 4.x resumes with the checkpoint's batch size: the same schedule
        trainer.train(resume_from_checkpoint=str(out / "checkpoint-6"))
        assert trainer._train_batch_size == 4 and trainer.lr_scheduler.schedules[0].num_training_steps == 12
        return
    with pytest.warns(UserWarning) as record:
        trainer.train(resume_from_checkpoint=str(out / "checkpoint-6"))
    msgs = [str(w.message) for w in record]
    assert any(m.startswith("resuming anyway (lr_scheduler_resume=checkpoint)") and "num_training_steps: 12 -> 6" in m
               and "continuing with the checkpoint's schedule from step 6; the global batch changed (4 -> 8 examples "
               "per step): the Trainer resumes its data at step 6, skipping 6 batches of the new size (48 examples; the "
               "checkpoint's run had seen 24)" in m for m in msgs), msgs
    assert not any("strict=False)" in m for m in msgs), msgs  # one wording
    sched = trainer.lr_scheduler
    # non-strict means one thing everywhere: the checkpoint's schedule (T = 12, warmup 2), from its step 6
    assert (sched.schedules[0].num_training_steps, sched.schedules[0].num_warmup_steps, sched.optimizer_step) == (12, 2, 6)
    f = closed_form("warmupcosine", 12, 2)
    assert sched.get_last_lr() == pytest.approx([PEAK * f(6)] * 2, rel=1e-12)  # two param groups (decay, no decay)
    assert sched.strict is False


def test_resume_from_a_stock_trainer_checkpoint_is_refused(tmp_path):
    stock_args = make_args(tmp_path / "stock", cls=TrainingArguments, max_steps=2, save_strategy="steps", save_steps=2)
    make_trainer(stock_args, trainer_cls=Trainer).train()
    trainer = make_trainer(make_args(tmp_path / "ours", max_steps=4))
    with pytest.raises(ValueError, match="written by another scheduler .*not by hf_sched's ScheduledLR"):
        trainer.train(resume_from_checkpoint=str(tmp_path / "stock" / "checkpoint-2"))


# ---------------------------------------------------------------------------- recipe


def test_recipe_end_to_end(tmp_path):
    from hf_sched.finetune.model import save_tiny_bert

    model_dir = save_tiny_bert(tmp_path / "tiny")
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf_home")}
    cmd = [
        sys.executable, str(REPO / "recipes" / "finetune_trainer.py"),
        "--model", model_dir, "--max_train_samples", "64", "--max_eval_samples", "32",
        "--output_dir", str(out), "--per_device_train_batch_size", "16", "--max_steps", "6",
        "--lr_scheduler_type", "warmupcosine", "--warmup", "auto", "--adam_beta2", "0.5",
        "--logging_steps", "1", "--save_strategy", "no", "--use_cpu", "--report_to", "none",
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "[hf_sched] warmupcosine: 6 training steps, 4 warmup steps" in proc.stdout  # auto: 2 / (1 - 0.5)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["schedule"]["num_training_steps"] == 6
    assert 0.0 <= metrics["eval"]["eval_accuracy"] <= 1.0 and 0.0 <= metrics["eval"]["eval_f1"] <= 1.0
    assert len(metrics["lr_curve"]) == 6
    assert (out / "lr_curve.png").read_bytes()[:8] == PNG_SIGNATURE
    # batches grouped by length by default (the Trainer's own sampler), their padding counted
    assert metrics["group_by_length"] is True
    assert 0.0 <= metrics["padded_token_fraction"] < 0.5 and metrics["train_tokens_per_s"] > 0


def run_trainer_recipe(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess:
    """``recipes/finetune_trainer.py`` on the tiny BERT (made once per test) and 64 real tweets, one CPU thread."""
    from hf_sched.finetune.model import save_tiny_bert

    model_dir = tmp_path / "tiny"
    if not (model_dir / "config.json").is_file():
        save_tiny_bert(model_dir)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf_home")}
    cmd = [sys.executable, str(REPO / "recipes" / "finetune_trainer.py"), "--model", str(model_dir),
           "--max_train_samples", "64", "--max_eval_samples", "32", "--lr_scheduler_type", "warmupcosine",
           "--logging_steps", "1", "--use_cpu", "--report_to", "none", "--save_model", "false", *argv]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)


def test_recipe_resume_modes_reach_the_trainer(tmp_path):
    """Issue 23 through the Trainer recipe: 2 epochs of 4 steps saved at step 4, resumed for 4 epochs (16 steps):
    strict refuses in one line naming the modes; rescale continues and ends at the schedule's final value."""
    first = run_trainer_recipe(tmp_path, "--output_dir", str(tmp_path / "first"), "--num_train_epochs", "2",
                               "--per_device_train_batch_size", "16", "--save_strategy", "steps", "--save_steps", "4")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    checkpoint = str(tmp_path / "first" / "checkpoint-4")
    longer = ["--num_train_epochs", "4", "--per_device_train_batch_size", "16", "--save_strategy", "no",
              "--resume_from_checkpoint", checkpoint]

    refused = run_trainer_recipe(tmp_path, "--output_dir", str(tmp_path / "strict"), *longer)
    assert refused.returncode == 2, refused.stderr[-3000:]
    assert "Traceback" not in refused.stderr
    last = refused.stderr.strip().splitlines()[-1]
    assert last.startswith(f"finetune_trainer.py: error: cannot resume: the LR schedule of this run differs from "
                           f"the one in {checkpoint}")
    assert "num_training_steps: 8 -> 16" in last
    assert all(f"--lr_scheduler_resume {mode}" in last for mode in ("checkpoint", "rescale", "replan"))

    rescaled = run_trainer_recipe(tmp_path, "--output_dir", str(tmp_path / "rescale"), *longer,
                                  "--lr_scheduler_resume", "rescale")
    assert rescaled.returncode == 0, rescaled.stdout[-3000:] + rescaled.stderr[-3000:]
    metrics = json.loads((tmp_path / "rescale" / "metrics.json").read_text())
    assert metrics["lr_scheduler_resume"] == "rescale" and metrics["resumed_from"] == checkpoint
    assert metrics["schedule"]["num_training_steps"] == 16
    assert metrics["resume_note"] is not None and metrics["resume_note"] in rescaled.stderr
    first_curve = json.loads((tmp_path / "first" / "metrics.json").read_text())["lr_curve"]
    curve = metrics["lr_curve"]  # the checkpoint's 4 logged steps (its log history), then this run's 12
    assert [step for step, _ in curve] == list(range(1, 17)) and curve[:4] == first_curve[:4]
    # each logged LR is the one its step used: step 5 continues the first run's step 5 exactly (f_old(4)), step 6
    # lies at 4 + 4/12 of the old plan's 8 steps, and it never rises down to the schedule's final value, 0
    assert curve[4][1] == pytest.approx(first_curve[4][1], rel=1e-12)
    assert first_curve[4][1] > curve[5][1] > first_curve[5][1]
    later = [lr for _, lr in curve[4:]]
    assert all(a > b for a, b in zip(later, later[1:]))
    assert metrics["final_lr"] == pytest.approx(0.0, abs=1e-18)


@pytest.mark.parametrize("argv,expected", [
    (["--warmup", "-1ep"], "warmup='-1ep' is invalid: warmup in epochs must be a finite number of epochs >= 0"),
    (["--lr_scheduler_type", "nope"], "lr_scheduler_type='nope' is invalid: unknown schedule name 'nope'. Did you mean 'noam'?"),
])
def test_recipe_bad_arguments_exit_2_with_one_line(tmp_path, argv, expected):
    cmd = [sys.executable, str(REPO / "recipes" / "finetune_trainer.py"), "--output_dir", str(tmp_path / "out"), *argv]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("finetune_trainer.py: error: ") and expected in last, last


# ---------------------------------------------------------------------------- budget-dependent arguments


def test_epoch_warmup_and_step_milestones_use_the_real_budget(tmp_path):
    """'1ep' is the Trainer's optimizer steps per epoch; int milestones are checked against the
    real total (not a made-up million-step run) once the dataloader gives it."""
    # 40 examples / batch 4 = 10 batches, accumulation 2 -> 5 optimizer steps per epoch, 3 epochs = 15
    args = make_args(tmp_path, num_train_epochs=3, gradient_accumulation_steps=2, warmup="1ep")
    trainer = make_trainer(args)
    trainer.train()
    s = trainer.lr_scheduler.schedules[0]
    assert (s.num_training_steps, s.num_warmup_steps) == (15, 5)
    assert [lr for _, lr in logged(trainer)] == pytest.approx([PEAK * s(k) for k in range(15)], abs=1e-15)

    args = make_args(tmp_path, num_train_epochs=3, lr_scheduler_type="multistep",
                     lr_scheduler_kwargs='{"milestones": [6, 9], "gamma": 0.5}', warmup_steps=0)
    trainer = make_trainer(args, data=make_data(40))
    trainer.train()
    lrs = [lr for _, lr in logged(trainer)]
    assert lrs == pytest.approx([PEAK] * 6 + [PEAK / 2] * 3 + [PEAK / 4] * 21, abs=1e-15)


def test_milestones_that_fit_no_run_are_refused_at_parse_time_and_beyond_the_real_total_at_train(tmp_path):
    with pytest.raises(ValueError, match=r"lr_scheduler_type='multistep' cannot be built from these arguments.*milestones"):
        SchedTrainingArguments(output_dir="unused", lr_scheduler_type="multistep",
                               lr_scheduler_kwargs='{"milestones": [-5]}', report_to=[])
    with pytest.raises(ValueError, match=r"cannot be built from these arguments with max_steps=40.*milestones\[0\]"):
        SchedTrainingArguments(output_dir="unused", lr_scheduler_type="multistep", max_steps=40,
                               lr_scheduler_kwargs='{"milestones": [50, 75]}', report_to=[])
    # without max_steps they wait for the real total, and are checked against it
    args = make_args(tmp_path, lr_scheduler_type="multistep", lr_scheduler_kwargs='{"milestones": [50, 75]}')
    with pytest.raises(ValueError, match=r"milestones\[0\] must be a step in \[3, 15\].*got 50"):
        make_trainer(args).train()


def test_one_step_trainer_run_trains_at_the_peak(tmp_path):
    trainer = make_trainer(make_args(tmp_path, max_steps=1, lr_scheduler_type="warmuplinear"))
    trainer.train()
    assert trainer.lr_scheduler.schedules[0].num_warmup_steps == 0
    assert logged(trainer) == [(1, PEAK)]


# ---------------------------------------------------------------------------- a run that diverges


def test_stop_on_divergence_stops_the_trainer_before_the_first_nan_step(tmp_path):
    """Without the callback the Trainer trains on through NaN (and logs a finite loss); with it,
    train() raises at the first non-finite step, before the optimizer applies it."""
    from hf_sched.divergence import DivergenceError
    from hf_sched.integrations import StopOnDivergence

    plain = make_trainer(make_args(tmp_path / "plain", learning_rate=1e30, warmup_steps=0, max_steps=6))
    plain.train()
    assert not all(bool(p.isfinite().all()) for p in plain.model.parameters())

    trainer = make_trainer(make_args(tmp_path / "guarded", learning_rate=1e30, warmup_steps=0, max_steps=6),
                           callbacks=[StopOnDivergence()])
    with pytest.raises(DivergenceError) as stopped:
        trainer.train()
    exc = stopped.value
    assert exc.step == trainer.state.global_step + 1 and exc.step >= 2
    assert str(exc).startswith(f"training diverged at optimizer step {exc.step}: the ")
    assert all(bool(p.isfinite().all()) for p in trainer.model.parameters())

    healthy = make_trainer(make_args(tmp_path / "healthy", max_steps=4), callbacks=[StopOnDivergence()])
    healthy.train()
    assert healthy.state.global_step == 4


def _recipe(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "HF_HOME": str(tmp_path / "hf_home"), "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, str(REPO / "recipes" / "finetune_trainer.py"), *argv], env=env,
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)


def _one_error_line(stderr: str) -> str:
    errors = [line for line in stderr.splitlines() if "finetune_trainer.py: error: " in line]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr[-3000:]
    return errors[0]


def test_recipe_diverged_run_exits_1_with_one_line_strict_json_and_a_resumable_checkpoint(tmp_path):
    from hf_sched.finetune.model import save_tiny_bert

    model_dir = save_tiny_bert(tmp_path / "tiny")
    out = tmp_path / "out"
    argv = ["--model", model_dir, "--max_train_samples", "48", "--max_eval_samples", "16", "--max_length", "16",
            "--per_device_train_batch_size", "8", "--max_steps", "6", "--save_strategy", "steps", "--save_steps", "1",
            "--learning_rate", "1e30", "--warmup_steps", "0", "--logging_steps", "1", "--use_cpu",
            "--report_to", "none", "--output_dir", str(out)]
    proc = _recipe(tmp_path, *argv)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert _one_error_line(proc.stderr) == (
        "finetune_trainer.py: error: training diverged at optimizer step 2: the loss is nan and the gradient norm "
        "is nan (LR 8.33e+29); the step was not taken, the weights are those after step 1. Try a lower "
        "--learning_rate, a longer --warmup_ratio or --max_grad_norm 1 in a fresh --output_dir; the last checkpoint "
        f"is {out / 'checkpoint-1'} (--resume_from_checkpoint {out / 'checkpoint-1'} continues it with these settings)")

    def refuse(constant: str) -> None:
        raise AssertionError(f"metrics.json holds {constant}")

    metrics = json.loads((out / "metrics.json").read_text(), parse_constant=refuse)
    assert metrics["diverged"]["step"] == 2 and metrics["diverged"]["loss"] is None
    assert metrics["diverged"]["last_checkpoint"] == str(out / "checkpoint-1")
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-1"]
    from safetensors.torch import load_file

    weights = load_file(str(out / "checkpoint-1" / "model.safetensors"))
    assert all(bool(t.isfinite().all()) for t in weights.values())

    again = _recipe(tmp_path, *argv, "--resume_from_checkpoint", str(out / "checkpoint-1"))
    assert again.returncode == 1, again.stderr[-3000:]  # it resumed at step 1 and the same step diverged again
    assert "training diverged at optimizer step 2: the loss is nan" in _one_error_line(again.stderr)


TRAINER_BAD_INPUTS = [
    (["--learning_rate", "nan"], "argument --learning_rate: got nan; it must be a finite number > 0"),
    (["--learning_rate", "-1"], "argument --learning_rate: got -1.0; it must be a finite number > 0"),
    (["--max_train_samples", "0"], "argument --max_train_samples: got 0; it must be a whole number >= 1"),
    (["--max_length", "0"], "argument --max_length: got 0; it must be a whole number >= 8"),
    (["--validation_split", "1.5"], "argument --validation_split: got 1.5; it must be strictly between 0 and 1"),
    (["--text_columns", "a", "b", "c"], "argument --text_columns: got 3 columns ['a', 'b', 'c']; give one"),
    (["--warmup", "auto", "--optim", "sgd"], "argument --warmup: 'auto' is 2 / (1 - beta2) steps of an Adam-family"),
    (["--output_dir", ""], "argument --output_dir: got ''; give a directory to write the run into"),
    (["--max_steps", str(10**18)], "--max_steps 1000000000000000000 gives 1,000,000,000,000,000,000 optimizer steps"),
]


def _trainer_recipe():
    """``recipes/finetune_trainer.py`` as a module (registered: its dataclasses need their module)."""
    name = "finetune_trainer_checks"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "recipes" / "finetune_trainer.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.mark.parametrize("argv,expected", TRAINER_BAD_INPUTS, ids=[" ".join(a) for a, _ in TRAINER_BAD_INPUTS])
def test_recipe_checks_its_arguments_as_the_accelerate_recipe_does(tmp_path, capsys, argv, expected):
    """The same checks (hf_sched/finetune/input_checks.py) as finetune_accelerate.py, before anything loads."""
    output = [] if "--output_dir" in argv else ["--output_dir", str(tmp_path / "out")]
    with pytest.raises(SystemExit) as stopped:
        _trainer_recipe().parse_args([*output, "--report_to", "none", *argv])
    assert stopped.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("finetune_trainer.py: error: ") and expected in last, last


@pytest.mark.parametrize("name,content,expected", [
    ("args.json", '["--max_steps", "5"]', "args.json holds a JSON list; it must hold one object of arguments"),
    ("args.json", "", "args.json is empty; it must hold one object of arguments"),
    ("missing.json", None, "missing.json: no such file; give the path of a JSON file of arguments"),
    ("args.yaml", "- max_steps\n", "args.yaml holds a YAML list; it must hold one object of arguments"),
    ("args.json", '{"max_steps": 5', "args.json is not valid JSON: Expecting ',' delimiter"),
    ("args.json", '{"output_dir": "o", "max_stepz": 5}', "Some keys are not used by the HfArgumentParser: ['max_stepz']"),
])
def test_recipe_checks_an_arguments_file(tmp_path, capsys, monkeypatch, name, content, expected):
    monkeypatch.chdir(tmp_path)
    if content is not None:
        (tmp_path / name).write_text(content)
    with pytest.raises(SystemExit) as stopped:
        _trainer_recipe().parse_args([name])
    assert stopped.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("finetune_trainer.py: error: ") and expected in last, last


def test_recipe_reads_arguments_from_a_yaml_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "args.yaml").write_text("output_dir: out\nmax_steps: 5\nlearning_rate: 2.0e-5\nreport_to: none\n")
    training_args, data_args = _trainer_recipe().parse_args(["args.yaml"])
    assert (training_args.max_steps, training_args.learning_rate, data_args.max_length) == (5, 2e-5, 64)


@pytest.mark.slow
def test_recipe_ctrl_c_ends_in_one_line_naming_the_checkpoint_to_continue_from(tmp_path):
    import re
    import signal
    import time

    from hf_sched.finetune.model import save_tiny_bert

    model_dir = save_tiny_bert(tmp_path / "tiny")
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "HF_HOME": str(tmp_path / "hf_home"), "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "recipes/finetune_trainer.py", "--model", model_dir, "--max_train_samples", "48",
         "--max_length", "16", "--per_device_train_batch_size", "8", "--max_steps", "300", "--save_strategy", "steps",
         "--save_steps", "2", "--use_cpu", "--report_to", "none", "--output_dir", str(out)],
        env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (out / "checkpoint-2" / "trainer_state.json").is_file():
        assert process.poll() is None and time.monotonic() < deadline, "the run did not save checkpoint-2"
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err[-3000:]
    line = _one_error_line(err)
    match = re.fullmatch(r"finetune_trainer\.py: error: interrupted \(Ctrl-C\); the last checkpoint is (\S+); to "
                         r"continue: python recipes/finetune_trainer\.py .* --resume_from_checkpoint (\S+)", line)
    assert match and match[1] == match[2] and (Path(match[1]) / "trainer_state.json").is_file(), line
