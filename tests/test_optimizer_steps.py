"""The LR follows the optimizer: the steps it actually takes, whoever calls scheduler.step().

Each test here failed on the scheduler that counted ``step()`` calls: AMP skips, N calls per
optimizer step, no call at all, a per-epoch caller, schedules without a total, warmup in epochs.
"""

from __future__ import annotations

import math
import warnings

import pytest
from hf_versions import TIMESCALE_IN_GET_SCHEDULER
import torch
import transformers

from hf_sched import ScheduledLR, get_scheduler
from hf_sched.schedules import Cosine, Linear


def _opt(lr=1.0, tensor_lr=False):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    return model, torch.optim.AdamW(model.parameters(), lr=torch.tensor(lr) if tensor_lr else lr)


class _RecordLR:
    """An optimizer pre-hook that records the LR each optimizer step really uses."""

    def __init__(self, opt):
        self.lrs: list[float] = []
        opt.register_step_pre_hook(lambda o, a, k: self.lrs.append(float(o.param_groups[0]["lr"])))


def _loss(model, g):
    return model(torch.randn(4, 3, generator=g)).pow(2).mean()


@pytest.mark.parametrize("calls", [0, 1, 3])
def test_any_number_of_step_calls_gives_the_same_lr_for_every_optimizer_step(calls):
    model, opt = _opt()
    sched = get_scheduler("warmupcosine", opt, num_training_steps=20)
    rec = _RecordLR(opt)
    g = torch.Generator().manual_seed(0)
    for _ in range(25):
        _loss(model, g).backward()
        opt.step()
        opt.zero_grad()
        for _ in range(calls):
            sched.step()
    f = sched.schedules[0]
    assert rec.lrs == pytest.approx([f(s) for s in range(25)], abs=1e-15)
    assert sched.optimizer_step == 25
    assert opt.param_groups[0]["lr"] == f.final_value() == 0.0


def test_gradscaler_skipped_steps_are_no_steps():
    """torch.amp.GradScaler('cpu') skips optimizer.step() when it finds an inf: the LR must not move."""
    model, opt = _opt(lr=0.5)
    sched = get_scheduler("warmuplinear", opt, num_training_steps=12, num_warmup_steps=4)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**4)
    rec = _RecordLR(opt)
    g = torch.Generator().manual_seed(0)
    poisoned = {3, 7, 8}
    taken_before = []
    for i in range(15):
        loss = _loss(model, g)
        if i in poisoned:
            loss = loss * float("inf")
        scaler.scale(loss).backward()
        before = sched.optimizer_step
        scaler.step(opt)
        scaler.update()
        opt.zero_grad()
        sched.step()  # called every iteration, as every loop does
        taken_before.append(before)
    real = 15 - len(poisoned)
    assert sched.optimizer_step == real == len(rec.lrs)
    f = sched.schedules[0]
    assert rec.lrs == pytest.approx([0.5 * f(s) for s in range(real)], abs=1e-15)
    # the iterations that were skipped did not advance the count
    assert [taken_before[i + 1] - taken_before[i] for i in sorted(poisoned)] == [0, 0, 0]


def test_accelerate_wrapped_optimizer_is_counted_through_the_wrapper():
    from accelerate import Accelerator

    acc = Accelerator(cpu=True)
    model, opt = _opt()
    model, opt = acc.prepare(model, opt)
    sched = get_scheduler("warmuplinear", opt, num_training_steps=6)  # built on the AcceleratedOptimizer
    sched = acc.prepare(sched)
    g = torch.Generator().manual_seed(0)
    lrs = []
    for _ in range(6):
        acc.backward(_loss(model, g))
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
        opt.zero_grad()
    f = sched.scheduler.schedules[0]
    assert lrs == pytest.approx([f(s) for s in range(6)], abs=1e-15)
    assert sched.scheduler.optimizer_step == 6


def test_epoch_interval_counts_calls_on_purpose_d2l_style():
    """A d2l-style loop: a small CNN, the LR set once per epoch, the total given in epochs."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 2))
    x, y = torch.randn(24, 1, 8, 8), torch.randint(0, 2, (24,))
    epochs, batches = 5, 3

    def run(interval):
        net_copy = torch.nn.Sequential(*[m for m in net])
        opt = torch.optim.SGD(net_copy.parameters(), lr=0.1)
        total = epochs if interval == "epoch" else epochs * batches
        sched = get_scheduler("warmupcosine", opt, num_training_steps=total, num_warmup_steps=1, interval=interval)
        rec = _RecordLR(opt)
        for _ in range(epochs):
            for b in range(batches):
                loss = torch.nn.functional.cross_entropy(net_copy(x[b * 8:(b + 1) * 8]), y[b * 8:(b + 1) * 8])
                opt.zero_grad()
                loss.backward()
                opt.step()
            sched.step()  # once per epoch
        return rec.lrs, sched

    per_epoch, s_epoch = run("epoch")
    f = s_epoch.schedules[0]
    assert per_epoch == pytest.approx([0.1 * f(e) for e in range(epochs) for _ in range(batches)], abs=1e-15)
    assert s_epoch.state_dict()["interval"] == "epoch"
    per_step, s_step = run("step")
    g = s_step.schedules[0]
    assert per_step == pytest.approx([0.1 * g(s) for s in range(epochs * batches)], abs=1e-15)
    assert per_step != per_epoch


def test_step_interval_and_epoch_interval_do_not_mix_on_resume():
    _, opt = _opt()
    state = get_scheduler("warmupcosine", opt, num_training_steps=5, interval="epoch").state_dict()
    _, opt2 = _opt()
    other = get_scheduler("warmupcosine", opt2, num_training_steps=5)
    with pytest.raises(ValueError, match=r"checkpoint counts interval='epoch', this scheduler interval='step'"):
        other.load_state_dict(state)


def test_interval_is_checked():
    _, opt = _opt()
    with pytest.raises(ValueError, match=r"interval must be 'step' .* or 'epoch' .*, got 'batch'"):
        ScheduledLR(opt, Linear(10), interval="batch")


def test_a_second_scheduler_on_one_optimizer_replaces_the_first():
    _, opt = _opt()
    first = ScheduledLR(opt, Linear(10, 0))
    second = ScheduledLR(opt, Cosine(10, 0))
    for _ in range(3):
        opt.step()
    assert second.optimizer_step == 3 and first.optimizer_step == 0
    assert opt.param_groups[0]["lr"] == pytest.approx(Cosine(10, 0)(3))


def test_step_calls_without_any_optimizer_step_warn_once():
    _, opt = _opt()
    sched = get_scheduler("warmuplinear", opt, num_training_steps=100)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        for _ in range(120):
            sched.step()
    msgs = [str(w.message) for w in seen if "has not taken a step" in str(w.message)]
    assert len(msgs) == 1 and "interval='epoch'" in msgs[0]


# -- drop-in: schedules that need no total, as transformers builds them ------------------


def _transformers_lrs(name, steps, *args, **kw):
    _, opt = _opt()
    timescale = kw.get("scheduler_specific_kwargs", {}).get("timescale")
    if name == "inverse_sqrt" and timescale is not None and not TIMESCALE_IN_GET_SCHEDULER:
        # before 5.4 transformers' get_scheduler dropped timescale: its schedule function itself takes it
        from transformers.optimization import get_inverse_sqrt_schedule

        sched = get_inverse_sqrt_schedule(opt, *args, timescale=timescale)
    else:
        sched = transformers.get_scheduler(name, opt, *args, **kw)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def _our_lrs(name, steps, *args, **kw):
    _, opt = _opt()
    sched = get_scheduler(name, opt, *args, **kw)
    rec = _RecordLR(opt)
    for _ in range(steps):
        opt.step()
        sched.step()
    return rec.lrs


@pytest.mark.parametrize(
    "name,args,kw",
    [
        ("constant", (), {}),
        ("constant_with_warmup", (4,), {}),
        ("inverse_sqrt", (4,), {}),
        ("inverse_sqrt", (3,), {"scheduler_specific_kwargs": {"timescale": 7}}),
        ("warmup_stable_decay", (3,), {"scheduler_specific_kwargs": {"num_stable_steps": 5, "num_decay_steps": 4}}),
        ("warmup_stable_decay", (2,), {"scheduler_specific_kwargs": {"num_stable_steps": 3, "num_decay_steps": 6,
                                                                     "decay_type": "linear", "min_lr_ratio": 0.1}}),
    ],
)
def test_no_total_needed_same_values_as_transformers(name, args, kw):
    steps = 16  # inside the run of the bounded WSD cases; constant ones are unbounded
    assert _our_lrs(name, steps, *args, **kw) == pytest.approx(_transformers_lrs(name, steps, *args, **kw), abs=1e-12)


def test_transformers_golden_table_without_total():
    # transformers' own test table (tests/optimization/test_optimization.py): lr 10, 10 steps, 2 warmup
    golden = {
        ("constant", ()): [10.0] * 10,
        ("constant_with_warmup", (2,)): [0.0, 5.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0],
        ("inverse_sqrt", (2,)): [0.0, 5.0, 10.0, 8.165, 7.071, 6.325, 5.774, 5.345, 5.0, 4.714],
    }
    for (name, args), want in golden.items():
        _, opt = _opt(lr=10.0)
        sched = get_scheduler(name, opt, *args)
        got = []
        for _ in range(10):
            got.append(round(opt.param_groups[0]["lr"], 3))
            opt.step()
            sched.step()
        assert got == pytest.approx(want, abs=1e-3), name


def test_noam_without_total():
    _, opt = _opt()
    sched = get_scheduler("noam", opt, 4)
    lrs = []
    for _ in range(9):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([0, 0.25, 0.5, 0.75, 1.0, math.sqrt(4 / 5), math.sqrt(4 / 6), math.sqrt(4 / 7), math.sqrt(0.5)])


class _Stream(torch.utils.data.IterableDataset):
    def __iter__(self):
        return iter(torch.randn(10, 3))


def test_iterable_dataloader_works_for_schedules_without_a_total():
    _, opt = _opt()
    dl = torch.utils.data.DataLoader(_Stream(), batch_size=2)
    sched = get_scheduler("constant_with_warmup", opt, 3, dataloader=dl)
    assert [sched.schedules[0](s) for s in range(5)] == pytest.approx([0, 1 / 3, 2 / 3, 1, 1])
    with pytest.raises(ValueError, match=r"'warmupcosine' needs the run's total steps: the dataloader \(DataLoader\) has no length, so pass max_steps"):
        get_scheduler("warmupcosine", opt, dataloader=dl)
    # with max_steps it is fine
    assert get_scheduler("warmupcosine", opt, dataloader=dl, max_steps=50).schedules[0].num_training_steps == 50


def test_streaming_datasets_dataloader():
    import datasets

    ds = datasets.Dataset.from_dict({"x": list(range(12))}).to_iterable_dataset()
    _, opt = _opt()
    dl = torch.utils.data.DataLoader(ds, batch_size=4)
    sched = get_scheduler("inverse_sqrt", opt, 2, dataloader=dl)
    assert sched.schedules[0](8) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="pass max_steps"):
        get_scheduler("warmuplinear", opt, dataloader=dl, num_epochs=3)
    with pytest.raises(ValueError, match=r"warmup='1ep' is given in epochs.*IterableDataset or streaming dataset has no epochs"):
        get_scheduler("warmuplinear", opt, dataloader=dl, max_steps=30, warmup="1ep")


def test_needs_total_error_names_max_steps():
    _, opt = _opt()
    with pytest.raises(ValueError, match=r"'warmupcosine' needs the run's total steps: pass max_steps"):
        get_scheduler("warmupcosine", opt, 10)
    with pytest.raises(ValueError, match=r"needs num_warmup_steps as a number of steps \(int\).*none was given"):
        get_scheduler("constant_with_warmup", opt)
    with pytest.raises(ValueError, match=r"needs num_warmup_steps as a number of steps \(int\).*got 0.1"):
        get_scheduler("noam", opt, 0.1)
    with pytest.raises(ValueError, match=r"warmup_stable_decay without num_training_steps needs num_stable_steps and num_decay_steps"):
        get_scheduler("warmup_stable_decay", opt, 2, scheduler_specific_kwargs={"num_decay_steps": 3})


# -- warmup (and milestones) in epochs ----------------------------------------------------


def test_warmup_in_epochs_counts_optimizer_steps_per_epoch():
    _, opt = _opt()
    dl = torch.utils.data.DataLoader(range(100), batch_size=10)  # 10 batches
    s = get_scheduler("warmuplinear", opt, dataloader=dl, num_epochs=3, warmup="1ep")
    assert (s.schedules[0].num_training_steps, s.schedules[0].num_warmup_steps) == (30, 10)
    s = get_scheduler("warmuplinear", opt, dataloader=dl, num_epochs=3, warmup="0.5ep", gradient_accumulation_steps=3)
    assert (s.schedules[0].num_training_steps, s.schedules[0].num_warmup_steps) == (12, 2)  # 4 steps/epoch
    s = get_scheduler("warmuplinear", opt, dataloader=dl, num_epochs=2, warmup="1ep", num_processes=2)
    assert (s.schedules[0].num_training_steps, s.schedules[0].num_warmup_steps) == (10, 5)
    s = get_scheduler("warmuplinear", opt, num_training_steps=40, warmup="1.5ep", steps_per_epoch=8)
    assert s.schedules[0].num_warmup_steps == 12
    s = get_scheduler("multistep", opt, dataloader=dl, num_epochs=3, milestones=["1ep", "2ep"], num_warmup_steps=0)
    assert list(s.schedules[0].milestones) == [10, 20]


@pytest.mark.parametrize(
    "warmup,kw,msg",
    [
        ("1ep", {"num_training_steps": 30}, r"warmup='1ep' is given in epochs, which needs the optimizer steps per epoch: pass a dataloader"),
        ("-1ep", {"num_training_steps": 30, "steps_per_epoch": 10}, r"warmup in epochs must be a finite number of epochs >= 0.*got '-1ep'"),
        ("xep", {"num_training_steps": 30, "steps_per_epoch": 10}, r"warmup in epochs must be a number followed by 'ep', like '1ep' or '0.5ep', got 'xep'"),
        ("4ep", {"num_training_steps": 30, "steps_per_epoch": 10}, r"warmup of 40 steps is longer than the 30 training steps"),
    ],
)
def test_bad_epoch_warmups(warmup, kw, msg):
    _, opt = _opt()
    with pytest.raises(ValueError, match=msg):
        get_scheduler("warmuplinear", opt, warmup=warmup, **kw)


def test_compute_budget_warmup_in_epochs():
    from hf_sched import compute_budget

    b = compute_budget(num_batches=50, num_epochs=3, gradient_accumulation_steps=2, warmup="1ep")
    assert (b.num_training_steps, b.steps_per_epoch, b.num_warmup_steps) == (75, 25, 25)
    b = compute_budget(num_batches=50, max_steps=40, warmup="0.5ep")
    assert (b.num_training_steps, b.num_warmup_steps) == (40, 25)


# -- tiny runs: never at LR 0 in silence ----------------------------------------------


def test_one_step_run_trains_at_the_peak_by_default():
    _, opt = _opt(lr=5e-5)
    sched = get_scheduler("warmuplinear", opt, num_training_steps=1)
    assert sched.schedules[0].num_warmup_steps == 0
    rec = _RecordLR(opt)
    opt.step()
    assert rec.lrs == [5e-5]


def test_explicit_warmup_covering_the_run_warns():
    _, opt = _opt()
    with pytest.warns(UserWarning, match=r"warmup 0.9 covers all 2 training steps: the run never reaches the peak LR"):
        get_scheduler("warmuplinear", opt, num_training_steps=2, warmup=0.9)
    with pytest.warns(UserWarning, match=r"warmup 5 covers all 5 training steps"):
        get_scheduler("warmuplinear", opt, num_training_steps=5, num_warmup_steps=5)


# -- scheduler_specific_kwargs as text ---------------------------------------------------


def test_scheduler_specific_kwargs_json_string():
    _, opt = _opt()
    s = get_scheduler("hard-restarts", opt, 1, 10, '{"num_cycles": 2}')
    assert s.schedules[0].num_cycles == 2
    with pytest.raises(ValueError, match=r"scheduler_specific_kwargs must be a JSON object such as '\{\"num_cycles\": 2\}', got 'num_cycles=2': Expecting value"):
        get_scheduler("hard-restarts", opt, 1, 10, "num_cycles=2")
    with pytest.raises(TypeError, match=r"scheduler_specific_kwargs must be a dict or a JSON object string.*got \[1, 2\] \(list\)"):
        get_scheduler("hard-restarts", opt, 1, 10, [1, 2])
    with pytest.raises(ValueError, match=r"scheduler_specific_kwargs must be a JSON object such as .*, got a list: '\[1, 2\]'"):
        get_scheduler("hard-restarts", opt, 1, 10, "[1, 2]")


def test_schedule_arguments_in_the_warmup_slot_are_named():
    _, opt = _opt()
    with pytest.raises(ValueError, match=r"num_warmup_steps \(the third argument\)='\{\"num_cycles\": 2\}' looks like schedule arguments, not a warmup: pass them as scheduler_specific_kwargs"):
        get_scheduler("hard-restarts", opt, '{"num_cycles": 2}', 10)
