"""ScheduledLR and get_scheduler: stepping, per-group schedules, state, resume, compile."""

from __future__ import annotations

import io
import pickle
import warnings

import pytest
import torch

from hf_sched import ScheduledLR, build_schedule, get_scheduler
from hf_sched.schedules import Constant, Cosine, Linear


def _model_and_opt(lr=1e-3, groups=1, tensor_lr=False):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 1))
    mods = list(model)
    if groups == 1:
        params = [{"params": model.parameters()}]
    else:
        params = [{"params": mods[i].parameters(), "lr": lr * (i + 1)} for i in range(2)]
    opt = torch.optim.AdamW(params, lr=torch.tensor(lr) if tensor_lr else lr)
    return model, opt


def _train(model, opt, sched, steps, seed=0):
    g = torch.Generator().manual_seed(seed)
    lrs = []
    for _ in range(steps):
        x = torch.randn(8, 4, generator=g)
        loss = model(x).pow(2).mean()
        loss.backward()
        lrs.append([float(grp["lr"]) for grp in opt.param_groups])
        opt.step()
        opt.zero_grad()
        sched.step()
    return lrs


def test_lr_follows_schedule_every_step():
    _, opt = _model_and_opt(lr=0.01, groups=2)
    sched = get_scheduler("warmupcosine", opt, num_training_steps=20, num_warmup_steps=4)
    f = sched.schedules[0]
    for s in range(25):
        assert sched.get_last_lr() == pytest.approx([0.01 * f(s), 0.02 * f(s)], abs=1e-15)
        assert [g["lr"] for g in opt.param_groups] == sched.get_last_lr()
        assert sched.optimizer_step == s
        opt.step()
        sched.step()
    assert sched.get_last_lr() == [0.0, 0.0]


def test_per_group_schedules():
    _, opt = _model_and_opt(lr=0.1, groups=2)
    a, b = Linear(10, 2), Constant(10, 0)
    sched = ScheduledLR(opt, [a, b])
    for s in range(12):
        assert sched.get_last_lr() == pytest.approx([0.1 * a(s), 0.2 * b(s)])
        opt.step()
        sched.step()
    with pytest.raises(ValueError, match="one per param group: got 3 schedules for 2 param groups"):
        ScheduledLR(opt, [a, b, a])


def test_many_step_calls_per_optimizer_step_give_the_same_curve():
    _, opt1 = _model_and_opt()
    _, opt2 = _model_and_opt()
    s1 = get_scheduler("warmuplinear", opt1, num_training_steps=10)
    s2 = get_scheduler("warmuplinear", opt2, num_training_steps=10)
    for _ in range(12):
        assert s1.get_last_lr() == s2.get_last_lr()
        assert opt1.param_groups[0]["lr"] == opt2.param_groups[0]["lr"]
        opt1.step()
        opt2.step()
        s1.step()
        for _ in range(3):  # what AcceleratedScheduler does on 3 processes: 3 step() calls per optimizer step
            s2.step()
    assert s2.state_dict()["step"] == s1.state_dict()["step"] == 12


def test_state_dict_is_plain_and_loads_with_weights_only(tmp_path):
    _, opt = _model_and_opt()
    sched = get_scheduler("warmupcosine", opt, num_training_steps=30)
    for _ in range(7):
        opt.step()
        sched.step()
    state = sched.state_dict()
    path = tmp_path / "scheduler.pt"
    torch.save(state, path)
    loaded = torch.load(path, weights_only=True)
    assert loaded == state
    assert loaded["step"] == 7
    assert loaded["schedules"][0]["kind"] == "cosine"

    def plain(x):
        if isinstance(x, dict):
            return all(isinstance(k, str) and plain(v) for k, v in x.items())
        if isinstance(x, list):
            return all(plain(v) for v in x)
        return x is None or type(x) in (int, float, str, bool)

    assert plain(state)


@pytest.mark.parametrize("name", ["warmupcosine", "warmuplinear", "noam", "warmupcosinewithhardrestarts"])
@pytest.mark.parametrize("tensor_lr", [False, True])
def test_resume_is_exact(name, tensor_lr, tmp_path):
    total, cut = 20, 9
    model, opt = _model_and_opt(groups=2, tensor_lr=tensor_lr)
    sched = get_scheduler(name, opt, num_training_steps=total)
    full = _train(model, opt, sched, total)
    final_full = [p.detach().clone() for p in model.parameters()]

    model, opt = _model_and_opt(groups=2, tensor_lr=tensor_lr)
    sched = get_scheduler(name, opt, num_training_steps=total)
    first = _train(model, opt, sched, cut)
    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}, buf)
    buf.seek(0)
    ckpt = torch.load(buf, weights_only=True)

    model2, opt2 = _model_and_opt(groups=2, tensor_lr=tensor_lr)
    sched2 = get_scheduler(name, opt2, num_training_steps=total)
    model2.load_state_dict(ckpt["model"])
    opt2.load_state_dict(ckpt["opt"])
    sched2.load_state_dict(ckpt["sched"])
    # the generator must continue where it was: replay the data of the first part
    g = torch.Generator().manual_seed(0)
    for _ in range(cut):
        torch.randn(8, 4, generator=g)
    rest = []
    for _ in range(total - cut):
        loss = model2(torch.randn(8, 4, generator=g)).pow(2).mean()
        loss.backward()
        rest.append([float(grp["lr"]) for grp in opt2.param_groups])
        opt2.step()
        opt2.zero_grad()
        sched2.step()
    assert first + rest == full
    for a, b in zip(final_full, model2.parameters()):
        assert torch.equal(a, b)


def test_load_refuses_a_different_schedule():
    _, opt = _model_and_opt()
    sched = get_scheduler("warmupcosine", opt, num_training_steps=100)
    state = sched.state_dict()
    _, opt2 = _model_and_opt()
    other = get_scheduler("warmupcosine", opt2, num_training_steps=200)
    with pytest.raises(ValueError, match=r"num_training_steps: 100 -> 200.*num_warmup_steps: 10 -> 20.*strict=False"):
        other.load_state_dict(state)
    with pytest.warns(UserWarning, match="continuing with the checkpoint's schedule"):
        other.load_state_dict(state, strict=False)
    assert other.schedules[0].num_training_steps == 100
    lenient = get_scheduler("warmuplinear", torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1), num_training_steps=5, strict=False)
    with pytest.warns(UserWarning, match="kind: cosine -> linear"):
        lenient.load_state_dict(state)


def test_load_rejects_foreign_state():
    _, opt = _model_and_opt()
    sched = get_scheduler("warmupcosine", opt, num_training_steps=100)
    lam = torch.optim.lr_scheduler.LambdaLR(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1), lambda s: 1.0)
    with pytest.raises(ValueError, match="not a ScheduledLR state"):
        sched.load_state_dict(lam.state_dict())


def test_schedule_objects_pickle_and_scheduler_pickles_with_optimizer():
    _, opt = _model_and_opt()
    sched = get_scheduler("warmupcosine", opt, num_training_steps=10)
    for _ in range(3):
        opt.step()
        sched.step()
    s2 = pickle.loads(pickle.dumps(sched))
    assert s2.state_dict() == sched.state_dict()
    assert pickle.loads(pickle.dumps(sched.schedules[0])) == sched.schedules[0]
    # the unpickled scheduler hooks its own (unpickled) optimizer again and keeps counting
    opt2 = s2.optimizer
    assert opt2 is not opt
    for _ in range(2):
        opt2.step()
    assert s2.optimizer_step == 5 and sched.optimizer_step == 3
    assert opt2.param_groups[0]["lr"] == pytest.approx(1e-3 * sched.schedules[0](5))


def test_tensor_lr_is_filled_in_place():
    _, opt = _model_and_opt(tensor_lr=True)
    lr_tensor = opt.param_groups[0]["lr"]
    sched = get_scheduler("warmuplinear", opt, num_training_steps=10, num_warmup_steps=2)
    for s in range(5):
        assert opt.param_groups[0]["lr"] is lr_tensor
        assert float(lr_tensor) == pytest.approx(1e-3 * sched.schedules[0](s), rel=1e-6)
        opt.step()
        sched.step()


def test_compiled_optimizer_step_does_not_recompile_with_tensor_lr():
    from torch._dynamo.testing import CompileCounter

    def run(tensor_lr: bool) -> int:
        torch._dynamo.reset()
        model, opt = _model_and_opt(tensor_lr=tensor_lr)
        for p in model.parameters():
            p.grad = torch.ones_like(p)
        opt.step()  # create state outside the compiled region
        sched = get_scheduler("warmupcosine", opt, num_training_steps=20, num_warmup_steps=5)
        counter = CompileCounter()

        @torch.compile(backend=counter)
        def compiled_step():
            opt.step()

        seen = set()
        for _ in range(20):
            compiled_step()
            sched.step()
            seen.add(round(float(opt.param_groups[0]["lr"]), 12))
        assert len(seen) > 10  # the LR really changed
        return counter.frame_count

    assert run(tensor_lr=True) == 1
    assert run(tensor_lr=False) > 1  # the trap we avoid: a float LR is a constant in the graph


def test_get_scheduler_from_dataloader_and_epochs():
    _, opt = _model_and_opt()
    dl = torch.utils.data.DataLoader(range(103), batch_size=10)  # 11 batches
    s = get_scheduler("warmuplinear", opt, dataloader=dl, num_epochs=2, gradient_accumulation_steps=3)
    assert s.schedules[0].num_training_steps == 8  # 2 * ceil(11 / 3)
    assert s.schedules[0].num_warmup_steps == 1
    s = get_scheduler("warmuplinear", opt, dataloader=dl, num_epochs=1, num_processes=2, warmup="50%")
    assert (s.schedules[0].num_training_steps, s.schedules[0].num_warmup_steps) == (6, 3)
    s = get_scheduler("warmuplinear", opt, max_steps=40, warmup=0.25)
    assert (s.schedules[0].num_training_steps, s.schedules[0].num_warmup_steps) == (40, 10)


def test_auto_warmup_reads_beta2():
    _, opt = _model_and_opt()
    s = get_scheduler("warmuplinear", opt, num_training_steps=10_000, warmup="auto")
    assert s.schedules[0].num_warmup_steps == 2000
    s = get_scheduler("warmuplinear", opt, num_training_steps=500, warmup="auto")
    assert s.schedules[0].num_warmup_steps == 500
    sgd = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="warmup='auto' needs an Adam-family optimizer with betas; SGD has none"):
        get_scheduler("warmuplinear", sgd, num_training_steps=500, warmup="auto")


def test_inverse_sqrt_without_total_like_transformers():
    _, opt = _model_and_opt()
    s = get_scheduler("inverse_sqrt", opt, num_warmup_steps=4)
    for _ in range(16):
        opt.step()
        s.step()
    assert s.get_last_lr()[0] == pytest.approx(1e-3 * 0.5)


def test_schedule_specific_kwargs_as_keywords():
    _, opt = _model_and_opt()
    s = get_scheduler("warmupcosine", opt, num_training_steps=10, num_cycles=2.0)
    assert s.schedules[0] == build_schedule("warmupcosine", num_training_steps=10, num_cycles=2.0)
    assert isinstance(s.schedules[0], Cosine)


@pytest.mark.parametrize(
    "change,msg",
    [
        ({"base_lrs": []}, r"state_dict\['base_lrs'\] must be a list with one LR per param group \(2\), got 0: \[\]"),
        ({"base_lrs": [1e-3, -1.0]}, r"state_dict\['base_lrs'\]\[1\] must be a finite LR >= 0, got -1.0"),
        ({"base_lrs": [float("nan"), 1e-3]}, r"state_dict\['base_lrs'\]\[0\] must be a finite LR >= 0, got nan"),
        ({"base_lrs": ["1e-3", 1e-3]}, r"state_dict\['base_lrs'\]\[0\] must be a finite LR >= 0, got '1e-3'"),
        ({"step": 3.7}, r"state_dict\['step'\] must be an integer >= 0, got 3.7"),
        ({"step": -1}, r"state_dict\['step'\] must be an integer >= 0, got -1"),
        ({"step": True}, r"state_dict\['step'\] must be an integer >= 0, got True"),
        ({"schedules": "cosine"}, r"state_dict\['schedules'\] must be a list of schedule specs \(dicts\), got 'cosine'"),
        ({"schedules": [{"kind": "cosine"}]}, r"the checkpoint has schedules for 1 param groups, the optimizer has 2"),
        ({"interval": "batch"}, r"state_dict\['interval'\] must be one of \('step', 'epoch'\), got 'batch'"),
        ({"extra": 1}, r"the ScheduledLR state has unknown keys \['extra'\]"),
        ({"schedules": None, "drop": "schedules"}, r"the ScheduledLR state is incomplete: missing \['schedules'\]"),
    ],
)
def test_load_state_dict_validates_every_field_and_changes_nothing_when_it_refuses(change, msg):
    model, opt = _model_and_opt(groups=2)
    sched = get_scheduler("warmupcosine", opt, num_training_steps=20)
    for _ in range(5):
        opt.step()
        sched.step()
    good = sched.state_dict()
    before = (sched.state_dict(), [g["lr"] for g in opt.param_groups], [g["initial_lr"] for g in opt.param_groups])
    bad = dict(good)
    change = dict(change)
    drop = change.pop("drop", None)
    bad.update(change)
    if drop:
        del bad[drop]
    with pytest.raises(ValueError, match=msg):
        sched.load_state_dict(bad)
    after = (sched.state_dict(), [g["lr"] for g in opt.param_groups], [g["initial_lr"] for g in opt.param_groups])
    assert after == before


def test_non_strict_load_of_an_unbuildable_spec_changes_nothing():
    _, opt = _model_and_opt()
    sched = get_scheduler("warmupcosine", opt, num_training_steps=20, strict=False)
    state = sched.state_dict()
    state["schedules"] = [{"kind": "no-such-kind", "num_training_steps": 10}]
    before = sched.state_dict()
    with pytest.raises(ValueError, match="the checkpoint's schedule spec cannot be rebuilt"):
        sched.load_state_dict(state)
    assert sched.state_dict() == before


# ---- every LR that reaches the optimizer is finite and >= 0 (issue 25, item 1) -------------


@pytest.mark.parametrize("lr, shown", [(float("inf"), "inf"), (float("nan"), "nan"), (-1e-3, "-0.001"),
                                       (None, r"None \(NoneType\)"), ([0.1], r"\[0.1\] \(list\)")])
def test_a_param_group_lr_that_cannot_train_is_refused_where_it_enters(lr, shown):
    _, opt = _model_and_opt(groups=2)
    opt.param_groups[1]["lr"] = lr
    with pytest.raises(ValueError, match=rf"^param_groups\[1\]\['lr'\] must be a finite LR >= 0, got {shown}$"):
        get_scheduler("warmupcosine", opt, num_training_steps=10)


def test_a_scale_that_makes_the_lr_infinite_is_refused_and_a_finite_one_is_not():
    from hf_sched.compose import scale

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=10.0)
    with pytest.raises(ValueError, match=r"param_groups\[0\]\['lr'\] = 10.0 times the schedule's largest multiplier "
                                         r"1e\+308 is inf: every LR written must be finite"):
        ScheduledLR(opt, scale(Linear(10), 1e308))
    assert ScheduledLR(opt, scale(Linear(10), 1e300)).get_last_lr() == [1e301]


def test_strict_takes_a_bool_only_and_a_different_peak_is_a_change_it_names():
    _, old = _model_and_opt(groups=2)
    state = get_scheduler("warmupcosine", old, num_training_steps=20).state_dict()
    model, opt = _model_and_opt(groups=2)
    for group in opt.param_groups:
        group["lr"] *= 1000
    sched = get_scheduler("warmupcosine", opt, num_training_steps=20)
    for bad in ("no", "false", 0, 1.0):
        with pytest.raises(TypeError, match=r"strict must be True or False, got"):
            sched.load_state_dict(state, strict=bad)
    with pytest.raises(ValueError, match=r"group 0: peak LR \(base_lrs\): .* -> .*; group 1: peak LR"):
        sched.load_state_dict(state)
    with pytest.warns(UserWarning, match="continuing with the checkpoint's schedule"):
        sched.load_state_dict(state, strict=False)
    assert sched.base_lrs == state["base_lrs"]


def test_stepping_past_the_total_warns_once_with_the_likely_cause():
    _, opt = _model_and_opt()
    loader = torch.utils.data.DataLoader(range(40), batch_size=10)
    sched = get_scheduler("warmuplinear", opt, dataloader=loader)  # no num_epochs: one epoch of 4 steps
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(12):
            opt.step()
            sched.step()
    assert [str(w.message)[:63] for w in caught] == ["the optimizer has taken 5 steps, past the schedule's total of 4"]
    assert "without num_epochs (it assumes one epoch)" in str(caught[0].message)


def test_an_optimizer_without_param_groups_and_an_object_for_accelerator_are_one_line_errors():
    _, opt = _model_and_opt()
    opt.param_groups.clear()
    with pytest.raises(ValueError, match=r"the optimizer \(.*\) has no param groups"):
        ScheduledLR(opt, Linear(10))
    _, opt = _model_and_opt()
    with pytest.raises(TypeError, match=r"accelerator must be an accelerate.Accelerator .* object of type object"):
        get_scheduler("warmuplinear", opt, dataloader=list(range(10)), accelerator=object())
