"""Parity: our LR values equal transformers' and sentence-transformers' own schedulers.

For every transformers schedule name and a grid of (total, warmup, kwargs), both
schedulers are stepped side by side on real optimizers and the LR of every step is
compared to 1e-12. Steps run from 0 to T inclusive (past T we hold the final value by
contract, where some transformers schedules keep going).
"""

from __future__ import annotations

import itertools

import pytest
import torch
import transformers
from hf_versions import HAS_GREEDY, TIMESCALE_IN_GET_SCHEDULER
from transformers.trainer_utils import SchedulerType

import hf_sched
from hf_sched import get_scheduler

pytestmark = pytest.mark.filterwarnings("ignore:schedule .constantlr. has no warmup phase")

TOTALS = (1, 2, 7, 30, 101)
WARMUP_FRACS = (0.0, 0.1, 0.5, 0.99)

# name -> list of scheduler_specific_kwargs to try
KWARGS = {
    "linear": [{}],
    "cosine": [{}, {"num_cycles": 2.0}, {"num_cycles": 0.25}],
    "cosine_with_restarts": [{}, {"num_cycles": 3}, {"num_cycles": 1.5}],
    "polynomial": [{}, {"power": 2.0, "lr_end": 1e-4}, {"power": 0.5, "lr_end": 0.0}],
    "constant": [{}],
    "constant_with_warmup": [{}],
    "inverse_sqrt": [{}, {"timescale": 7}],
    "cosine_with_min_lr": [{"min_lr_rate": 0.1}, {"min_lr": 1e-4, "num_cycles": 1.0}],
    "cosine_warmup_with_min_lr": [{"min_lr_rate": 0.1}, {"min_lr": 2e-4}, {"min_lr_rate": 0.05, "warmup_lr_rate": 0.2}],
    "warmup_stable_decay": [
        {"num_decay_steps": 0},
        {"decay_type": "linear"},
        {"decay_type": "1-sqrt", "min_lr_ratio": 0.1},
        {"decay_type": "cosine", "warmup_type": "cosine", "min_lr_ratio": 0.2},
        {"warmup_type": "1-sqrt"},
    ],
}
ADAPTIVE = {"reduce_lr_on_plateau", "greedy"}


def _opt(lr: float = 1e-3, groups: int = 2) -> torch.optim.Optimizer:
    params = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr * (i + 1)} for i in range(groups)]
    return torch.optim.AdamW(params, lr=lr)


def _lrs(sched, opt, steps: int) -> list[list[float]]:
    out = [[g["lr"] for g in opt.param_groups]]
    for _ in range(steps):
        opt.step()
        sched.step()
        out.append([g["lr"] for g in opt.param_groups])
    return out


def test_every_transformers_name_is_registered():
    for member in SchedulerType:
        info = hf_sched.get_info(member.value)
        assert info.adaptive == (member.value in ADAPTIVE), member
    assert set(KWARGS) | (ADAPTIVE if HAS_GREEDY else ADAPTIVE - {"greedy"}) == {m.value for m in SchedulerType}


def _cases():
    for name, kw_list in KWARGS.items():
        for total, frac, kw in itertools.product(TOTALS, WARMUP_FRACS, kw_list):
            warmup = int(frac * total)
            if warmup >= total and total > 1:
                continue
            yield name, total, warmup, kw


@pytest.mark.parametrize("name,total,warmup,kw", list(_cases()))
def test_values_equal_transformers(name, total, warmup, kw):
    kw = dict(kw)
    theirs_kw = dict(kw)
    ours_kw = dict(kw)
    if name == "warmup_stable_decay":
        theirs_kw.setdefault("num_decay_steps", max(0, (total - warmup) // 3))
        ours_kw["num_decay_steps"] = theirs_kw["num_decay_steps"]
    if name == "polynomial" and warmup == total:
        pytest.skip("transformers divides by zero when warmup == total")
    opt_t, opt_o = _opt(), _opt()
    if name == "inverse_sqrt" and theirs_kw and not TIMESCALE_IN_GET_SCHEDULER:
        # before 5.4 transformers' get_scheduler dropped timescale: compare with its schedule function itself
        from transformers.optimization import get_inverse_sqrt_schedule

        ref = get_inverse_sqrt_schedule(opt_t, num_warmup_steps=warmup, **theirs_kw)
    else:
        ref = transformers.get_scheduler(name, opt_t, num_warmup_steps=warmup, num_training_steps=total,
                                         scheduler_specific_kwargs=theirs_kw)
    ours = get_scheduler(name, opt_o, num_warmup_steps=warmup, num_training_steps=total,
                         scheduler_specific_kwargs=ours_kw)
    a, b = _lrs(ref, opt_t, total), _lrs(ours, opt_o, total)
    for step, (x, y) in enumerate(zip(a, b)):
        assert y == pytest.approx(x, abs=1e-12, rel=1e-12), (name, total, warmup, kw, step)


@pytest.mark.parametrize("name", ["constantlr", "warmupconstant", "warmuplinear", "warmupcosine",
                                  "warmupcosinewithhardrestarts"])
@pytest.mark.parametrize("total,warmup", [(1, 0), (10, 1), (50, 5), (33, 10), (100, 99)])
def test_values_equal_sentence_transformers(name, total, warmup):
    from sentence_transformers import SentenceTransformer

    opt_t, opt_o = _opt(), _opt()
    ref = SentenceTransformer._get_scheduler(opt_t, scheduler=name, warmup_steps=warmup, t_total=total)
    ours = get_scheduler(name, opt_o, num_warmup_steps=warmup if name != "constantlr" else None,
                         num_training_steps=total)
    a, b = _lrs(ref, opt_t, total), _lrs(ours, opt_o, total)
    for step, (x, y) in enumerate(zip(a, b)):
        assert y == pytest.approx(x, abs=1e-12, rel=1e-12), (name, step)


def test_adaptive_names_delegate():
    opt = _opt()
    s = get_scheduler("reduce_lr_on_plateau", opt, scheduler_specific_kwargs={"patience": 0, "factor": 0.5})
    assert isinstance(s, torch.optim.lr_scheduler.ReduceLROnPlateau)  # the Trainer steps it with the metric
    s.step(1.0)
    opt.step()  # one metric per optimizer step count: a second one at the same count is the same evaluation
    s.step(2.0)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.5e-3)
    if not HAS_GREEDY:  # transformers < 5.4 has no GreedyLR: the name says so instead of scheduling
        with pytest.raises((ImportError, ValueError), match="GreedyLR"):
            get_scheduler("greedy", _opt(), scheduler_specific_kwargs={"patience": 1})
        return
    g = get_scheduler("greedy", _opt(), scheduler_specific_kwargs={"patience": 1})
    assert type(g.scheduler).__name__ == "GreedyLR"  # wrapped: warmup and step counting (tests/test_metric_schedulers.py)


def test_constant_ignores_warmup_like_transformers_but_warns():
    opt = _opt()
    with pytest.warns(UserWarning, match="has no warmup phase"):
        s = get_scheduler("constant", opt, num_warmup_steps=5, num_training_steps=10)
    assert s.get_last_lr() == [1e-3, 2e-3]
