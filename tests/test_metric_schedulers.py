"""reduce_lr_on_plateau and greedy by name: a warmup prefix, optimizer-step counting, one cut per evaluation.

Real optimizers, a real Trainer, and a real Accelerate loop on 1 and on 2 CPU processes
(``tests/scripts/plateau_loop.py``). The expected LRs are written out here from the rules
(linear warmup ``s / W``; patience 0: a bad evaluation halves the LR, a good one keeps it, or
for greedy doubles it up to ``max_lr``), independent of the code under test.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from launched import run_launched, two_process_command
from test_trainer import logged, make_args, make_data, make_trainer
import transformers.optimization

from hf_sched import get_scheduler
from hf_sched.metric_schedulers import MetricScheduler

# transformers < 5.4 has no GreedyLR: there the name is refused in one line (tests/test_parity.py checks it),
# and the tests below run greedy's cases where it exists and plateau's everywhere.
GreedyLR = getattr(transformers.optimization, "GreedyLR", None)
NEEDS_GREEDY = pytest.mark.skipif(GreedyLR is None, reason="transformers < 5.4 has no GreedyLR")
METRIC_NAME = "greedy" if GreedyLR is not None else "reduce_lr_on_plateau"

SCRIPT = Path(__file__).resolve().parent / "scripts" / "plateau_loop.py"
sys.path.insert(0, str(SCRIPT.parent))
import plateau_loop as loop

pytestmark = pytest.mark.usefixtures("frozen_gc")


def expected_curve(name: str) -> list[float]:
    """The LR of each optimizer step of plateau_loop.py, from the rules."""
    lr, best, out = loop.PEAK, float("inf"), []
    cap = loop.KWARGS["greedy"]["max_lr"]
    for k in range(1, loop.STEPS + 1):
        s = k - 1
        out.append(loop.PEAK * s / loop.WARMUP if s < loop.WARMUP else lr)
        if k % loop.EVAL_EVERY == 0 and k >= loop.WARMUP:  # an evaluation after step k, warmup over
            metric = loop.METRICS[k // loop.EVAL_EVERY - 1]
            threshold = best * (1 - 1e-4) if name == "reduce_lr_on_plateau" else best - 1e-6
            if metric < threshold:
                best = metric
                if name == "greedy":
                    lr = min(lr / 0.5, cap)
            else:
                lr *= 0.5
    return out


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(SCRIPT.parents[2]), "OMP_NUM_THREADS": "1"}


# ------------------------------------------------------------------------------ a plain loop


def _opt(lr: float = 1.0) -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def test_warmup_then_cut_once_per_evaluation_whatever_the_calls():
    opt = _opt()
    sched = get_scheduler("reduce_lr_on_plateau", opt, warmup=3, patience=0, factor=0.5)
    assert isinstance(sched, MetricScheduler) and isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau)
    used = []
    for k, metric in enumerate([9.0, 9.0, 2.0, 2.0, 2.0, 1.0, 3.0], start=1):
        opt.step()
        used.append(opt.param_groups[0]["lr"])
        for _ in range(3):  # Accelerate on 3 processes: the same evaluation three times
            sched.step(metric)
        sched.step()
    # warmup 0, 1/3, 2/3 (the metrics at steps 1-2 fall in it); at 3 the best (2.0); 4, 5 bad; 6 good; 7 bad
    assert used == pytest.approx([0, 1 / 3, 2 / 3, 1, 0.5, 0.25, 0.25])
    assert opt.param_groups[0]["lr"] == 0.125 and sched.last_epoch == 7


def test_no_warmup_and_one_metric_per_step_is_torchs_and_transformers_own():
    rng = random.Random(0)
    metrics = [rng.choice([1.0, 0.9, 0.8, 0.8, 0.7]) for _ in range(60)]
    cases = [("reduce_lr_on_plateau", torch.optim.lr_scheduler.ReduceLROnPlateau, {"patience": 1})]
    if GreedyLR is not None:
        cases.append(("greedy", GreedyLR, {"patience": 1, "min_lr": 1e-3}))
    for name, ref_cls, kw in cases:
        ours_opt, ref_opt = _opt(0.1), _opt(0.1)
        ours, ref = get_scheduler(name, ours_opt, scheduler_specific_kwargs=kw), ref_cls(ref_opt, **kw)
        for m in metrics:
            ours_opt.step()
            ref_opt.step()
            ours.step(m)
            ref.step(m)
            assert ours_opt.param_groups[0]["lr"] == ref_opt.param_groups[0]["lr"], name


def test_state_dict_resumes_exactly(tmp_path):
    metrics = [3.0, 2.0, 2.0, 2.5, 1.0, 1.0, 1.5, 1.2, 0.5, 0.6]

    def build():
        opt = _opt()
        return opt, get_scheduler("reduce_lr_on_plateau", opt, warmup=2, patience=0, factor=0.5)

    def run(opt, sched, ms):
        out = []
        for m in ms:
            opt.step()
            out.append(opt.param_groups[0]["lr"])
            sched.step(m)
        return out

    opt, sched = build()
    full = run(opt, sched, metrics)
    opt, sched = build()
    head = run(opt, sched, metrics[:5])
    torch.save({"opt": opt.state_dict(), "sched": sched.state_dict()}, tmp_path / "ckpt.pt")
    state = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    opt, sched = build()
    opt.load_state_dict(state["opt"])
    sched.load_state_dict(state["sched"])
    assert head + run(opt, sched, metrics[5:]) == full
    other = get_scheduler("reduce_lr_on_plateau", _opt(), warmup=3)
    with pytest.raises(ValueError, match="the checkpoint's warmup is 2 steps, this run's 3"):
        other.load_state_dict(state["sched"])


def test_ratio_warmup_needs_the_total_and_takes_it():
    assert get_scheduler(METRIC_NAME, _opt(), warmup="10%", num_training_steps=50).num_warmup_steps == 5
    assert get_scheduler("reduce_lr_on_plateau", _opt(), num_warmup_steps=0.2, num_training_steps=50).num_warmup_steps == 10
    with pytest.raises(ValueError, match=r"^warmup='10%' for 'reduce_lr_on_plateau' without num_training_steps: give "
                                         "the warmup as a whole number of optimizer steps"):
        get_scheduler("reduce_lr_on_plateau", _opt(), warmup="10%")


def test_a_plateau_kwarg_for_another_name_is_refused_in_one_line():
    with pytest.raises(ValueError, match=r"^schedule 'warmupcosine' got unknown argument\(s\) 'patience'; it accepts: "):
        get_scheduler("warmupcosine", _opt(), num_training_steps=20, patience=2)


# ------------------------------------------------------------------------------ the Trainer


def test_trainer_plateau_with_warmup(tmp_path):
    # An LR this small cannot improve eval_loss by the 1e-4 relative threshold: every eval after the first cuts.
    args = make_args(tmp_path, lr_scheduler_type="reduce_lr_on_plateau", learning_rate=1e-7, max_steps=10,
                     warmup_steps=4, eval_strategy="steps", eval_steps=2,
                     lr_scheduler_kwargs={"patience": 0, "factor": 0.5})
    trainer = make_trainer(args, eval_dataset=make_data(8))
    trainer.train()
    assert trainer.lr_scheduler.num_warmup_steps == 4
    lrs = [lr for _, lr in logged(trainer)]
    # steps 1-4 warm up (s / 4); the eval after step 2 falls in it, the one after 4 sets the best,
    # those after 6 and 8 cut (after 10: the run is over)
    assert lrs == pytest.approx([0, 2.5e-8, 5e-8, 7.5e-8, 1e-7, 1e-7, 5e-8, 5e-8, 2.5e-8, 2.5e-8], rel=1e-9, abs=0)


def test_trainer_warmup_in_epochs_and_ratio(tmp_path):
    for warmup, want in [({"warmup": "1ep"}, 10), ({"warmup_steps": 0.2}, 4)]:
        args = make_args(tmp_path, lr_scheduler_type=METRIC_NAME, max_steps=20, eval_strategy="steps", eval_steps=5,
                         **warmup)
        trainer = make_trainer(args, eval_dataset=make_data(8))
        trainer.train()
        assert trainer.lr_scheduler.num_warmup_steps == want, warmup
        assert [lr for _, lr in logged(trainer)][:want] == pytest.approx([1e-3 * s / want for s in range(want)])


# ------------------------------------------------------------------------------ Accelerate, 1 and 2 processes


def _one_process(tmp_path, name):
    out = tmp_path / f"one_{name}.json"
    subprocess.run([sys.executable, str(SCRIPT), str(out), name], check=True, env=_env(), timeout=300)
    return json.loads(out.read_text())


@pytest.mark.parametrize("name", ["reduce_lr_on_plateau", pytest.param("greedy", marks=[pytest.mark.slow, NEEDS_GREEDY])])
def test_accelerate_two_processes_cut_once_per_evaluation_like_one(tmp_path, name):
    one = _one_process(tmp_path, name)
    out = tmp_path / f"two_{name}.json"
    proc = run_launched(two_process_command(SCRIPT, str(out), name), env=_env(), timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    two = json.loads(out.read_text())
    assert (one["num_processes"], two["num_processes"]) == (1, 2)
    want = expected_curve(name)
    assert one["used"] == pytest.approx(want, rel=1e-12, abs=0)
    assert two["used"] == one["used"]  # the same curve: AcceleratedScheduler's second call cut nothing
    assert two["state"] == one["state"] == loop.STEPS
