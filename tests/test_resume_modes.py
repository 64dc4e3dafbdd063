"""Resume modes on plain loops: strict, checkpoint, rescale, replan; the warp's exactness; refusals.

The loops are real: a small model, real losses and optimizer steps, states through
``torch.save``/``torch.load(weights_only=True)``. A "process change" is what it does to a plain
loop: the same per-device batch on twice the processes is twice the global batch, so the budget
(``get_scheduler(dataloader=..., num_processes=2)``) gives half the steps.
"""

from __future__ import annotations

import io
import math
import pickle
import warnings

import numpy as np
import pytest
import torch

from hf_sched import ScheduledLR, get_scheduler
from hf_sched.resume_modes import (
    RESUME_MODES,
    Rescaled,
    check_resume_mode,
    mode_from_strict,
    rescale_step,
    rescaled,
    resolve_mode,
)
from hf_sched.schedules import Constant, Cosine, Linear, schedule_from_dict

DATA = 64       # examples
PER_DEVICE = 4  # per-device batch
EPOCHS = 2


def _model_and_opt(lr: float = 1e-2, weight_decay: float = 0.01):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    return model, torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)


def _sched(opt, processes: int, name: str = "warmupcosine", **kw):
    loader = torch.utils.data.DataLoader(range(DATA), batch_size=PER_DEVICE)
    return get_scheduler(name, opt, dataloader=loader, num_epochs=EPOCHS, num_processes=processes, **kw)


def _steps(model, opt, sched, n: int) -> list[float]:
    """Take ``n`` real optimizer steps; the LR each one used."""
    lrs = []
    for _ in range(n):
        model(torch.randn(8, 4)).pow(2).mean().backward()
        lrs.append(float(opt.param_groups[0]["lr"]))
        opt.step()
        opt.zero_grad()
        sched.step()
    return lrs


def _saved(*states):
    buf = io.BytesIO()
    torch.save(list(states), buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def _checkpoint(processes: int = 1, cut: int = 12, **kw):
    """A run on ``processes`` stopped after ``cut`` steps: (optimizer state, scheduler state, its scheduler)."""
    model, opt = _model_and_opt(**{k: kw.pop(k) for k in ("lr", "weight_decay") if k in kw})
    sched = _sched(opt, processes, **kw)
    _steps(model, opt, sched, cut)
    opt_state, state = _saved(opt.state_dict(), sched.state_dict())
    return opt_state, state, sched


# --------------------------------------------------------------------------- modes and their names


def test_mode_names_normalise_and_an_unknown_one_is_refused_listing_the_four():
    assert [check_resume_mode(m) for m in ("STRICT", "Check-Point", "re_scale", "replan")] == list(RESUME_MODES)
    with pytest.raises(ValueError) as err:
        check_resume_mode("rescaled")
    msg = str(err.value)
    assert msg.startswith("resume='rescaled' is not a resume mode; allowed: 'strict': ")
    assert all(f"{m!r}: " in msg for m in RESUME_MODES) and "\n" not in msg
    with pytest.raises(ValueError, match=r"^lr_scheduler_resume='x' is not a resume mode"):
        check_resume_mode("x", name="lr_scheduler_resume")
    with pytest.raises(ValueError, match=r"^resume=3 is not a resume mode"):
        check_resume_mode(3)
    assert (mode_from_strict(True), mode_from_strict(False)) == ("strict", "checkpoint")


def test_strict_and_resume_contradicting_is_refused_everywhere():
    msg = r"^strict=True and resume='rescale' contradict each other: strict=True means resume='strict'; give only resume$"
    with pytest.raises(ValueError, match=msg):
        resolve_mode(True, "rescale")
    _, opt = _model_and_opt()
    with pytest.raises(ValueError, match=r"^strict=False and resume='replan' contradict each other"):
        get_scheduler("warmupcosine", opt, num_training_steps=10, strict=False, resume="replan")
    with pytest.raises(ValueError, match=r"^strict=True and resume='checkpoint' contradict"):
        ScheduledLR(opt, Linear(10), strict=True, resume="checkpoint")
    sched = get_scheduler("warmupcosine", opt, num_training_steps=10)
    with pytest.raises(ValueError, match=r"^strict=True and resume='replan' contradict"):
        sched.load_state_dict(sched.state_dict(), strict=True, resume="replan")
    # agreeing spellings are fine; strict follows the mode and sets it
    assert get_scheduler("warmupcosine", opt, num_training_steps=10, strict=False, resume="checkpoint").strict is False
    sched = get_scheduler("warmupcosine", opt, num_training_steps=10, resume="replan")
    assert (sched.resume_mode, sched.strict) == ("replan", False)
    sched.strict = True
    assert sched.resume_mode == "strict"
    with pytest.raises(TypeError, match=r"strict must be True or False, got 'no'"):
        sched.strict = "no"


def test_state_records_examples_seen_and_the_global_batch():
    model, opt = _model_and_opt()
    sched = _sched(opt, processes=2)
    assert sched.examples_per_step == 2 * PER_DEVICE
    _steps(model, opt, sched, 3)
    state = sched.state_dict()
    assert (state["step"], state["examples_seen"], state["examples_per_step"]) == (3, 24, 8)
    assert state["weight_decays"] == [0.01]
    sched.examples_seen = 20  # the owner's exact count (a short last batch)
    _steps(model, opt, sched, 2)
    assert sched.state_dict()["examples_seen"] == 36
    # a loop that does not know its batch records no examples
    bare = get_scheduler("warmupcosine", _model_and_opt()[1], num_training_steps=10)
    assert "examples_seen" not in bare.state_dict() and bare.examples_per_step is None


def test_a_scheduler_pickled_before_the_modes_unpickles_with_its_strict_as_the_mode():
    _, opt = _model_and_opt()
    sched = get_scheduler("warmupcosine", opt, num_training_steps=10, strict=False)
    state = sched.__getstate__()
    old = {k: v for k, v in state.items() if k not in ("resume_mode", "examples_per_step", "_examples_ref",
                                                       "_weight_decays", "decay_from_here", "resume_note",
                                                       "resume_hint")}
    old["strict"] = False
    revived = ScheduledLR.__new__(ScheduledLR)
    revived.__setstate__(old)
    assert (revived.resume_mode, revived.strict, revived.examples_seen) == ("checkpoint", False, None)
    assert revived.state_dict()["weight_decays"] == [0.01]


def test_old_states_without_the_new_records_load_in_strict_checkpoint_and_replan():
    opt_state, state, _ = _checkpoint()
    for key in ("examples_seen", "examples_per_step", "weight_decays"):
        del state[key]
    for mode in ("strict", "checkpoint", "replan"):
        model, opt = _model_and_opt()
        sched = _sched(opt, 1)
        opt.load_state_dict(opt_state)
        sched.load_state_dict(state, resume=mode)
        assert sched.optimizer_step == 12 and sched.examples_seen == 12 * PER_DEVICE


# --------------------------------------------------------------------------- strict and checkpoint


def test_strict_refuses_each_change_naming_it_and_the_three_other_modes():
    _, state, _ = _checkpoint(processes=1)
    _, opt = _model_and_opt(lr=2e-2, weight_decay=0.1)
    sched = _sched(opt, processes=2)
    with pytest.raises(ValueError) as err:
        sched.load_state_dict(state)
    msg = str(err.value)
    for part in ("num_training_steps: 32 -> 16", "num_warmup_steps: 4 -> 2", "peak LR (base_lrs): 0.01 -> 0.02",
                 "weight decay: 0.01 -> 0.1", 'resume="checkpoint" / --lr_scheduler_resume checkpoint (',
                 'resume="rescale" / --lr_scheduler_resume rescale (', 'resume="replan" / --lr_scheduler_resume replan ('):
        assert part in msg, part
    assert "\n" not in msg
    assert sched.optimizer_step == 0 and sched.base_lrs == [2e-2]  # a refused state changes nothing


def test_checkpoint_mode_continues_the_checkpoints_schedule_and_peak_with_a_warning():
    opt_state, state, old = _checkpoint(processes=1)
    model, opt = _model_and_opt(lr=2e-2, weight_decay=0.1)
    sched = _sched(opt, processes=2, resume="checkpoint")
    opt.load_state_dict(opt_state)
    with pytest.warns(UserWarning, match=r"continuing with the checkpoint's schedule \(resume='checkpoint'"):
        sched.load_state_dict(state)
    assert sched.schedules == old.schedules and sched.base_lrs == [1e-2]
    assert opt.param_groups[0]["weight_decay"] == 0.01  # the new one is applied only by replan
    lrs = _steps(model, opt, sched, 4)
    assert lrs == [1e-2 * old.schedules[0](s) for s in range(12, 16)]


# --------------------------------------------------------------------------- rescale


@pytest.mark.parametrize("name", ["warmupcosine", "warmuplinear", "warmupcosinewithhardrestarts", "wsd"])
def test_rescale_one_to_two_processes_follows_the_old_curve_at_the_same_examples_seen(name):
    """The same per-device batch on twice the processes: LR at every later step == the old curve at the same
    examples seen (to 1e-12), the last step at the final value."""
    opt_state, state, old = _checkpoint(processes=1, name=name)
    f_old, peak = old.schedules[0], old.base_lrs[0]
    model, opt = _model_and_opt()
    sched = _sched(opt, processes=2, name=name, resume="rescale")
    opt.load_state_dict(opt_state)
    sched.load_state_dict(state)
    assert sched.optimizer_step == 6 and sched.examples_seen == 12 * PER_DEVICE
    assert "resume='rescale'" in sched.resume_note and "from step 6 (48 examples seen)" in sched.resume_note
    total = sched.schedules[0].num_training_steps
    assert total == 16
    lrs = _steps(model, opt, sched, total - 6)
    for k, lr in enumerate(lrs):
        s = 6 + k
        examples = s * 2 * PER_DEVICE
        assert lr == pytest.approx(peak * f_old(examples // PER_DEVICE), abs=1e-12), s
    assert float(opt.param_groups[0]["lr"]) == pytest.approx(peak * f_old.final_value(), abs=1e-12)
    assert sched.examples_seen == DATA * EPOCHS


def test_rescale_with_an_uneven_budget_is_continuous_and_ends_at_the_final_value():
    opt_state, state, old = _checkpoint(processes=1, cut=13)  # 52 examples: 6.5 steps of 8
    model, opt = _model_and_opt()
    loader = torch.utils.data.DataLoader(range(DATA - 4), batch_size=PER_DEVICE)  # 15 batches: 8 per process
    sched = get_scheduler("warmupcosine", opt, dataloader=loader, num_epochs=3, num_processes=2, resume="rescale")
    opt.load_state_dict(opt_state)
    sched.load_state_dict(state)
    assert sched.optimizer_step == 6  # floor(52 / 8)
    assert sched.get_last_lr()[0] == pytest.approx(1e-2 * old.schedules[0](13), abs=1e-15)  # continuous
    lrs = _steps(model, opt, sched, 24 - 6)
    assert all(a >= b - 1e-15 for a, b in zip(lrs, lrs[1:]))  # past warmup, a cosine only decays
    assert float(opt.param_groups[0]["lr"]) == pytest.approx(1e-2 * old.schedules[0].final_value(), abs=1e-15)


def test_the_rescaled_runs_own_checkpoint_resumes_exactly():
    opt_state, state, _ = _checkpoint(processes=1)
    model, opt = _model_and_opt()
    sched = _sched(opt, processes=2, resume="rescale")
    opt.load_state_dict(opt_state)
    sched.load_state_dict(state)
    _steps(model, opt, sched, 3)
    opt_state2, state2 = _saved(opt.state_dict(), sched.state_dict())
    assert state2["schedules"][0]["kind"] == "rescaled" and state2["examples_seen"] == 12 * PER_DEVICE + 3 * 8
    model_state = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(1)
    uninterrupted = _steps(model, opt, sched, 7)
    for mode in ("rescale", "checkpoint"):
        model2, opt2 = _model_and_opt()
        model2.load_state_dict(model_state)
        sched2 = _sched(opt2, processes=2, resume=mode)
        opt2.load_state_dict(opt_state2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # checkpoint mode says the spec differs from this run's plain one
            sched2.load_state_dict(state2)
        assert sched2.optimizer_step == 9 and sched2.schedules == sched.schedules
        torch.manual_seed(1)
        assert _steps(model2, opt2, sched2, 7) == uninterrupted, mode
    # strict says how this checkpoint resumes
    with pytest.raises(ValueError, match=r"kind: rescaled -> cosine.*resume=\"rescale\""):
        _sched(_model_and_opt()[1], processes=2).load_state_dict(state2)


def test_rescale_says_that_this_runs_other_shape_is_not_applied():
    _, state, old = _checkpoint(processes=1)
    sched = _sched(_model_and_opt()[1], processes=2, name="warmuplinear", resume="rescale")
    sched.load_state_dict(state)
    assert sched.schedules[0].schedules[0] == old.schedules[0]  # the checkpoint's cosine, warped
    assert sched.resume_note.endswith("; the checkpoint's shape is kept (checkpoint -> this run: kind: cosine -> "
                                      "linear, num_cycles: 0.5 -> <unset>; applied only by resume='replan')")


def test_rescale_at_the_callers_step():
    _, state, old = _checkpoint(processes=1)
    _, opt = _model_and_opt()
    sched = _sched(opt, processes=2)
    sched.load_state_dict(state, resume="rescale", at_step=12)  # a Trainer keeps its global_step
    f, s0 = sched.schedules[0], 12
    assert sched.optimizer_step == 12 and "from step 12 (where the caller resumes)" in sched.resume_note
    assert f(12) == old.schedules[0](12) and f(16) == old.schedules[0].final_value()
    assert f(14) == pytest.approx(old.schedules[0](s0 + 2 * (32 - 12) / 4), abs=1e-15)


def test_rescale_without_examples_on_either_side_keeps_the_fraction_of_steps():
    model, opt = _model_and_opt()
    old = get_scheduler("warmuplinear", opt, num_training_steps=100)
    _steps(model, opt, old, 40)
    state = old.state_dict()
    sched = get_scheduler("warmuplinear", _model_and_opt()[1], num_training_steps=30, resume="rescale")
    sched.load_state_dict(state)
    assert sched.optimizer_step == 12 and "the same fraction of the steps" in sched.resume_note
    assert sched.get_last_lr()[0] == pytest.approx(old.get_last_lr()[0], abs=1e-15)
    assert rescale_step(41, examples_seen=None, examples_per_step=None, old_total=100, new_total=30) == 12


def test_rescale_refusals_one_line_each():
    # 1. an old checkpoint without an examples-seen record, into a run that knows its examples
    _, state, _ = _checkpoint(processes=1)
    del state["examples_seen"]
    sched = _sched(_model_and_opt()[1], processes=2, resume="rescale")
    with pytest.raises(ValueError, match=r"^resume='rescale' needs the examples the checkpoint's run had seen, and this "
                                         r"checkpoint \(step 12\) has no examples_seen record .* use resume=\"replan\" / "
                                         r"--lr_scheduler_resume replan or resume=\"checkpoint\" / --lr_scheduler_resume "
                                         r"checkpoint$"):
        sched.load_state_dict(state)
    assert sched.optimizer_step == 0
    # 2. nothing left: the run resumes at or past this run's total
    _, state, _ = _checkpoint(processes=1, cut=30)
    with pytest.raises(ValueError, match=r"^resume='rescale' has nothing left to train: the run resumes at step 17 but "
                                         r"this run's total is num_training_steps=16"):
        _sched(_model_and_opt()[1], processes=2, resume="rescale").load_state_dict(state, at_step=17)
    # 3. a schedule without a total
    model, opt = _model_and_opt()
    const = get_scheduler("warmupconstant", opt, num_warmup_steps=2)
    _steps(model, opt, const, 3)
    other = get_scheduler("warmupconstant", _model_and_opt()[1], num_warmup_steps=4, resume="rescale")
    with pytest.raises(ValueError, match=r"^resume='rescale' needs a schedule with a total: the checkpoint's 'constant' "
                                         r"schedule runs without one"):
        other.load_state_dict(const.state_dict())


def test_rescaled_is_a_real_schedule():
    r = rescaled(Cosine(100, 10), from_step=40, at_step=20, num_training_steps=50)
    assert isinstance(r, Rescaled) and schedule_from_dict(r.to_dict()) == r
    assert pickle.loads(pickle.dumps(r)) == r
    steps = np.arange(0, 60, 0.5)
    assert np.allclose(r.values(steps), [r(float(s)) for s in steps], atol=1e-15, rtol=0)
    assert [r(s) for s in (0, 10, 20)] == [Cosine(100, 10)(0), Cosine(100, 10)(20), Cosine(100, 10)(40)]
    assert r(50) == r(70) == Cosine(100, 10).final_value()
    # nested: a rescaled run rescaled again
    again = rescaled(r, from_step=30, at_step=15, num_training_steps=25)
    assert again(15) == r(30) and again(25) == r.final_value() == 0.0
    for bad, msg in (({"resumed_at": 50}, r"resumed_at must be < num_training_steps=50"),
                     ({"resumed_from": 101}, r"resumed_from must be an integer in \[0, 100\], got 101"),
                     ({"num_warmup_steps": 2}, r"a rescaled schedule has no warmup of its own")):
        with pytest.raises(ValueError, match=msg):
            Rescaled(**{"num_training_steps": 50, "schedules": (Cosine(100, 10),), "resumed_from": 40,
                        "resumed_at": 20, **bad})
    assert rescaled(Linear(10), from_step=3, at_step=3, num_training_steps=10) == Linear(10)
    assert math.isclose(Rescaled(50, schedules=(Constant(100),), resumed_from=40, resumed_at=20)(35), 1.0)


# --------------------------------------------------------------------------- replan


def test_replan_applies_this_runs_schedule_peak_and_weight_decay_and_prints_the_jump(capsys):
    opt_state, state, old = _checkpoint(processes=1)
    model, opt = _model_and_opt(lr=2e-2, weight_decay=0.1)
    loader = torch.utils.data.DataLoader(range(DATA), batch_size=PER_DEVICE)
    sched = get_scheduler("warmuplinear", opt, dataloader=loader, num_epochs=4, resume="replan")  # 64 steps, linear
    opt.load_state_dict(opt_state)  # the optimizer's state brings the checkpoint's LR and weight decay back...
    sched.load_state_dict(state)    # ...and replan writes this run's
    before, after = 1e-2 * old.schedules[0](12), 2e-2 * sched.schedules[0](12)
    line = f"LR {before:.3g} -> {after:.3g} at step 12"
    assert sched.resume_note == line
    assert capsys.readouterr().err == f"hf_sched: {line}\n"
    assert sched.base_lrs == [2e-2] and opt.param_groups[0]["weight_decay"] == 0.1
    assert sched.schedules[0].num_training_steps == 64 and sched.optimizer_step == 12
    assert _steps(model, opt, sched, 3) == [2e-2 * sched.schedules[0](s) for s in (12, 13, 14)]


def test_a_new_peak_is_refused_by_strict_applied_by_replan_and_never_silent(capsys):
    opt_state, state, _ = _checkpoint(processes=1)
    for mode, peak in (("strict", None), ("checkpoint", 1e-2), ("rescale", 1e-2), ("replan", 3e-2)):
        _, opt = _model_and_opt(lr=3e-2)
        sched = _sched(opt, processes=1, resume=mode)
        opt.load_state_dict(opt_state)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if peak is None:
                with pytest.raises(ValueError, match=r"peak LR \(base_lrs\): 0.01 -> 0.03"):
                    sched.load_state_dict(state)
                continue
            sched.load_state_dict(state)
        said = " ".join(str(w.message) for w in caught) + capsys.readouterr().err
        assert sched.base_lrs == [peak], mode
        expected = {"checkpoint": "peak LR (base_lrs): 0.01 -> 0.03; continuing with the checkpoint's schedule",
                    "rescale": "the peak LR stays the checkpoint's [0.01] (this run's [0.03] applies only with "
                               "resume='replan')",
                    "replan": "LR 0.00812 -> 0.0244 at step 12"}[mode]
        assert expected in said, mode  # never silent


def test_every_resume_refusal_is_a_resume_refused_and_a_value_error():
    """Tools catch one type for "will not resume as asked" (the Trainer recipe exits 2 on it), and it stays a
    ValueError for callers that catch that."""
    from hf_sched import ResumeRefused

    def sched(total, **kw):
        return get_scheduler("warmuplinear", torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0),
                             num_training_steps=total, **kw)

    state = sched(10).state_dict()
    state["step"] = 8
    refusals = [
        lambda: sched(20).load_state_dict(state),                                  # strict: the total changed
        lambda: sched(5, resume="rescale").load_state_dict(state, at_step=5),      # rescale: nothing left
        lambda: sched(20, decay_from_here=4).load_state_dict(state),               # no stable phase to decay from
    ]
    for refuse in refusals:
        with pytest.raises(ResumeRefused) as exc:
            refuse()
        assert isinstance(exc.value, ValueError) and "\n" not in str(exc.value)
