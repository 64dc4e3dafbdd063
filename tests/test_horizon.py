"""A schedule's own length: a horizon longer than the run, and a decay started at a resumed step.

Plain loops with a real model and optimizer; checkpoints through ``torch.save``/``torch.load``.
"""

from __future__ import annotations

import io
import warnings
from fractions import Fraction

import pytest
import torch
from test_resume_modes import _steps

from hf_sched import get_scheduler
from hf_sched.horizon import check_decay_request, decay_from_here, with_horizon
from hf_sched.schedules import Constant, Cosine, WarmupStableDecay


def _model_and_opt(lr: float = 1e-3):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    return model, torch.optim.AdamW(model.parameters(), lr=lr)


def _stopped(name: str, stop: int, **kw):
    """A run of ``name`` stopped after ``stop`` steps: its saved scheduler state."""
    model, opt = _model_and_opt()
    sched = get_scheduler(name, opt, **kw)
    _steps(model, opt, sched, stop)
    buf = io.BytesIO()
    torch.save(sched.state_dict(), buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def test_a_100_step_debug_run_on_a_10000_step_horizon_follows_the_full_runs_curve():
    model, opt = _model_and_opt()
    sched = get_scheduler("warmupcosine", opt, max_steps=100, horizon=10_000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "past the schedule's total": the run stops first
        lrs = _steps(model, opt, sched, 100)
    full = Cosine(10_000, 1000)
    assert sched.schedules[0] == full
    assert lrs == [1e-3 * full(s) for s in range(100)]
    assert lrs[-1] == pytest.approx(1e-3 * 99 / 1000, abs=1e-15)  # still warming up: the full run's warmup is 1000


def test_a_horizon_shorter_than_the_run_is_refused():
    _, opt = _model_and_opt()
    with pytest.raises(ValueError, match=r"^horizon=50 is shorter than the run's 100 optimizer steps: a horizon is the "
                                         r"schedule's total when the run stops earlier"):
        get_scheduler("warmupcosine", opt, max_steps=100, horizon=50)
    with pytest.raises(TypeError, match=r"^horizon must be an integer, got '1e4' \(str\)$"):
        get_scheduler("warmupcosine", opt, max_steps=100, horizon="1e4")
    assert with_horizon(None, None) is None and with_horizon(500, None) == 500  # an unbounded run gets a total


@pytest.mark.parametrize("request_, decay", [(20, 20), (0.5, 30), ("25%", 15)])
def test_wsd_decay_from_here_starts_the_cooldown_at_the_resumed_step(request_, decay, capsys):
    kw = {"num_training_steps": 100, "num_warmup_steps": 10, "decay_ratio": 0.1, "min_lr_ratio": 0.1,
          "decay_type": "linear"}
    state = _stopped("wsd", 40, **kw)
    model, opt = _model_and_opt()
    sched = get_scheduler("wsd", opt, decay_from_here=request_, **kw)
    sched.load_state_dict(state)
    expected = WarmupStableDecay(40 + decay, 10, 0.1, num_decay_steps=decay, num_stable_steps=30,
                                 decay_type="linear", min_lr_ratio=0.1)
    assert sched.schedules[0] == expected and sched.optimizer_step == 40
    lrs = _steps(model, opt, sched, 60)
    assert lrs[0] == pytest.approx(1e-3) and lrs[decay] == pytest.approx(1e-4, abs=1e-15)
    assert lrs[: decay + 1] == [1e-3 * expected(40 + k) for k in range(decay + 1)]
    assert all(a > b for a, b in zip(lrs[:decay], lrs[1 : decay + 1]))
    err = capsys.readouterr().err
    assert f"decay_from_here={request_!r}: the checkpoint's warmup_stable_decay schedule decays from step 40 over " \
           f"{decay} steps (to step {40 + decay}): LR 0.001 -> 0.0001" in err


@pytest.mark.parametrize("name", ["constantlr", "warmupconstant"])
def test_a_constant_run_decays_linearly_to_zero_from_here(name):
    state = _stopped(name, 30, num_warmup_steps=0 if name == "constantlr" else 5)
    model, opt = _model_and_opt()
    sched = get_scheduler(name, opt, num_training_steps=50, decay_from_here=1.0, resume="checkpoint")
    sched.load_state_dict(state)
    lrs = _steps(model, opt, sched, 20)
    assert lrs == pytest.approx([1e-3 * (1 - k / 20) for k in range(20)], abs=1e-15)
    assert float(opt.param_groups[0]["lr"]) == 0.0


def test_the_decayed_runs_own_checkpoint_goes_on_decaying():
    kw = {"num_training_steps": 100, "num_warmup_steps": 10}
    state = _stopped("wsd", 40, **kw)
    model, opt = _model_and_opt()
    sched = get_scheduler("wsd", opt, decay_from_here=40, **kw)
    sched.load_state_dict(state)
    _steps(model, opt, sched, 10)
    again = sched.state_dict()
    rest = _steps(model, opt, sched, 30)
    model2, opt2 = _model_and_opt()
    sched2 = get_scheduler("wsd", opt2, decay_from_here=40, **kw)  # the same command line, resumed again
    sched2.load_state_dict(again)
    assert "is decaying already (since step 40); its decay goes on" in sched2.resume_note
    assert _steps(model2, opt2, sched2, 30) == rest


def test_decay_from_here_refusals_one_line_each():
    cosine = _stopped("warmupcosine", 40, num_training_steps=100)
    _, opt = _model_and_opt()
    sched = get_scheduler("warmupcosine", opt, num_training_steps=100, decay_from_here=20)
    with pytest.raises(ValueError, match=r"^decay_from_here=20 needs a schedule with a stable phase \(warmup_stable_decay, "
                                         r"constantlr, warmupconstant\); the checkpoint's is 'cosine', which has none"):
        sched.load_state_dict(cosine)
    assert sched.optimizer_step == 0  # refused: nothing changed
    wsd = _stopped("wsd", 5, num_training_steps=100, num_warmup_steps=10)
    with pytest.raises(ValueError, match=r"^decay_from_here=20 starts the decay at the resumed step 5, but the "
                                         r"checkpoint's 'warmup_stable_decay' schedule is still in its warmup"):
        get_scheduler("wsd", opt, num_training_steps=100, num_warmup_steps=10, decay_from_here=20).load_state_dict(wsd)
    wsd = _stopped("wsd", 40, num_training_steps=100, num_warmup_steps=10)
    with pytest.raises(ValueError, match=r"^decay_from_here=61 is a decay of 61 steps, longer than the 60 steps left "
                                         r"\(resumed at step 40 of 100\)"):
        get_scheduler("wsd", opt, num_training_steps=100, num_warmup_steps=10, decay_from_here=61).load_state_dict(wsd)
    for mode in ("rescale", "replan"):
        with pytest.raises(ValueError, match=rf"^decay_from_here=20 continues the checkpoint's schedule, which "
                                             rf"resume='{mode}' replaces"):
            get_scheduler("wsd", opt, num_training_steps=100, num_warmup_steps=10, decay_from_here=20,
                          resume=mode).load_state_dict(wsd)
    const = _stopped("constantlr", 10)
    with pytest.raises(ValueError, match=r"^decay_from_here=0.5 is a ratio of the steps left, but this run has no "
                                         r"total: give the decay in steps"):
        get_scheduler("constantlr", opt, decay_from_here=0.5).load_state_dict(const)


@pytest.mark.parametrize("bad", [0, -3, 1.5, 0.0, "abc", "0%", True, None.__class__])
def test_a_bad_decay_request_is_refused_where_it_is_given(bad):
    _, opt = _model_and_opt()
    with pytest.raises(ValueError, match=r"^decay_from_here=.* is invalid: give steps \(an int >= 1, e.g. 2000\), a "
                                         r"ratio of the steps left in \(0, 1\] \(e.g. 0.2\) or a percentage \('20%'\)$"):
        get_scheduler("wsd", opt, num_training_steps=100, decay_from_here=bad)
    assert check_decay_request("20%") == Fraction(1, 5) and check_decay_request("300") == 300


def test_decay_from_here_is_pure():
    d = decay_from_here(Constant(1000, 10), step=600, request="10%", run_total=1000)
    assert (d.num_training_steps, d.num_decay_steps, d(600), d(640)) == (640, 40, 1.0, 0.0)


def test_a_metric_driven_schedule_has_no_decay_from_here_or_rescale():
    _, opt = _model_and_opt()
    with pytest.raises(ValueError, match=r"^decay_from_here=20 is not available with the metric-driven "
                                         r"'reduce_lr_on_plateau' \(it keeps no schedule to rescale, replan or decay\)"):
        get_scheduler("reduce_lr_on_plateau", opt, decay_from_here=20)
    with pytest.raises(ValueError, match=r"^resume='rescale' is not available with the metric-driven"):
        get_scheduler("reduce_lr_on_plateau", opt, resume="rescale")
