"""Several optimizers under one schedule: OptimizerSet and get_scheduler(name, [muon, adamw]).

Real torch.optim.Muon (2-D weights) + AdamW (the rest) on a tiny MLP: one step count for the
set, every group at its own peak times the same f(s), one state each, and an exact resume
after a stop, a rebuild from nothing and a load of what was saved (through torch.save /
torch.load(weights_only=True), as a checkpoint is).
"""

from __future__ import annotations

import io
import pickle

import pytest
import torch

from hf_sched import ScheduledLR, get_scheduler
from hf_sched.optimizer_set import OptimizerSet

TOTAL, WARMUP, STOP = 16, 4, 7
MUON_LR, ADAMW_LR = 0.02, 1e-3
TARGET = torch.randn(6, 3, generator=torch.Generator().manual_seed(7))


def build(seed: int = 0):
    """A tiny MLP, Muon for its two weight matrices, AdamW for its biases, one warmupcosine schedule."""
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(6, 12), torch.nn.Tanh(), torch.nn.Linear(12, 3))
    muon = torch.optim.Muon([p for p in model.parameters() if p.ndim == 2], lr=MUON_LR, weight_decay=0.01)
    adamw = torch.optim.AdamW([p for p in model.parameters() if p.ndim != 2], lr=ADAMW_LR)
    sched = get_scheduler("warmupcosine", [muon, adamw], num_training_steps=TOTAL, num_warmup_steps=WARMUP)
    return model, muon, adamw, sched


def train(model, sched, steps: range, lrs: list, losses: list) -> None:
    """Steps on batches drawn from the step number, so a resumed run sees the same data."""
    opt = sched.optimizer
    for k in steps:
        g = torch.Generator().manual_seed(1000 + k)
        x = torch.randn(8, 6, generator=g)
        y = x @ TARGET
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        lrs.append([g["lr"] for g in opt.param_groups])
        losses.append(loss.item())
        opt.step()
        sched.step()
        opt.zero_grad()


def checkpoint(model, sched) -> bytes:
    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": sched.optimizer.state_dict(),
                "scheduler": sched.state_dict()}, buf)
    return buf.getvalue()


def test_one_schedule_over_muon_and_adamw_every_step():
    model, muon, adamw, sched = build()
    assert isinstance(sched.optimizer, OptimizerSet) and sched.optimizer.members == [muon, adamw]
    assert sched.optimizer.param_groups[0] is muon.param_groups[0]
    assert sched.optimizer.param_groups[1] is adamw.param_groups[0]
    lrs, losses = [], []
    x = torch.randn(256, 6, generator=torch.Generator().manual_seed(9))
    before = torch.nn.functional.mse_loss(model(x), x @ TARGET).item()
    train(model, sched, range(TOTAL), lrs, losses)
    after = torch.nn.functional.mse_loss(model(x), x @ TARGET).item()
    f = sched.schedules[0]
    assert (f.num_training_steps, f.num_warmup_steps) == (TOTAL, WARMUP)
    for s, (m, a) in enumerate(lrs):  # step s + 1 trains at peak_g * f(s), both groups on one count
        assert (m, a) == (MUON_LR * f(s), ADAMW_LR * f(s))
    assert sched.optimizer_step == TOTAL == sched.state_dict()["step"]
    assert muon.state[muon.param_groups[0]["params"][0]]["momentum_buffer"].abs().sum() > 0
    assert int(adamw.state[adamw.param_groups[0]["params"][0]]["step"]) == TOTAL
    assert after < 0.9 * before  # it trains


def test_stop_rebuild_load_resumes_exactly():
    model, _, _, sched = build()
    full_lrs, full_losses = [], []
    train(model, sched, range(TOTAL), full_lrs, full_losses)
    full_weights = {k: v.clone() for k, v in model.state_dict().items()}

    model, _, _, sched = build()
    lrs, losses = [], []
    train(model, sched, range(STOP), lrs, losses)
    saved = checkpoint(model, sched)
    del model, sched
    model, muon, adamw, sched = build(seed=123)  # other initial weights: the checkpoint must restore them all
    state = torch.load(io.BytesIO(saved), weights_only=True)
    model.load_state_dict(state["model"])
    sched.optimizer.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    assert sched.optimizer_step == STOP and [g["lr"] for g in sched.optimizer.param_groups] == full_lrs[STOP]
    train(model, sched, range(STOP, TOTAL), lrs, losses)
    assert lrs == full_lrs and losses == full_losses
    for name, value in model.state_dict().items():
        assert torch.equal(value, full_weights[name]), name
    # the groups loading made are the ones the schedule writes
    assert muon.param_groups[0]["lr"] == MUON_LR * sched.schedules[0](TOTAL)


def test_members_stepped_one_by_one_count_one_step_of_the_set():
    _, muon, adamw, sched = build()
    f = sched.schedules[0]
    for s in range(1, 6):
        adamw.step()           # any order; the set's step is complete when both have stepped
        assert sched.optimizer_step == s - 1
        muon.step()
        assert sched.optimizer_step == s
        assert [muon.param_groups[0]["lr"], adamw.param_groups[0]["lr"]] == [MUON_LR * f(s), ADAMW_LR * f(s)]
    muon.step()
    muon.step()                # one member twice in a round: still one step of the set when the other steps
    adamw.step()
    assert sched.optimizer_step == 6


def test_a_closure_is_evaluated_once_and_zero_grad_reaches_every_member():
    model, _, _, sched = build()
    calls = []

    def closure():
        calls.append(1)
        loss = model(torch.ones(2, 6)).sum()
        loss.backward()
        return loss

    loss = sched.optimizer.step(closure)
    assert len(calls) == 1 and torch.is_tensor(loss) and sched.optimizer_step == 1
    sched.optimizer.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_the_set_pickles_and_still_counts():
    _, _, _, sched = build()
    sched.optimizer.step()
    again = pickle.loads(pickle.dumps(sched))
    assert isinstance(again.optimizer, OptimizerSet) and again.optimizer_step == 1
    again.optimizer.step()
    assert again.optimizer_step == 2


def test_scheduledlr_takes_a_list_too():
    _, muon, adamw, _ = build()
    sched = ScheduledLR((muon, adamw), get_scheduler("warmuplinear", [torch.optim.SGD([torch.zeros(1)], lr=1.0)],
                                                     num_training_steps=4).schedules[0])
    assert [type(m) for m in sched.optimizer.members] == [torch.optim.Muon, torch.optim.AdamW]


def _sgd(*params):
    return torch.optim.SGD(list(params) or [torch.nn.Parameter(torch.zeros(1))], lr=0.1)


@pytest.mark.parametrize("make, error, message", [
    (lambda: [], ValueError, "optimizers is an empty list: give at least one torch.optim.Optimizer"),
    (lambda: [_sgd(), "adamw"], TypeError, "optimizers[1] must be a torch.optim.Optimizer, got 'adamw' (str)"),
    (lambda: [_sgd(), torch.nn.Linear(1, 1)], TypeError, "optimizers[1] must be a torch.optim.Optimizer, got Linear"),
    (lambda: (lambda o: [o, _sgd(), o])(_sgd()), ValueError,
     "optimizers[2] is optimizers[0] again (SGD): give each optimizer once, or it would step twice per training step"),
    (lambda: (lambda p: [_sgd(p), torch.optim.AdamW([p])])(torch.nn.Parameter(torch.zeros(2, 3))), ValueError,
     "a parameter of shape (2, 3) is in optimizers[0] (SGD) and in optimizers[1] (AdamW): each parameter must belong "
     "to one optimizer"),
    (lambda: [OptimizerSet([_sgd()])], TypeError, "optimizers[0] is itself an OptimizerSet: list its members"),
])
def test_bad_lists_get_one_clear_line(make, error, message):
    with pytest.raises(error) as err:
        get_scheduler("warmupcosine", make(), num_training_steps=10)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_bad_states_and_group_additions_are_refused():
    _, _, _, sched = build()
    opt = sched.optimizer
    with pytest.raises(ValueError, match=r"state_dict\['members'\] must hold one state per member \(2: \['Muon', "
                                         r"'AdamW'\]\), got 1"):
        opt.load_state_dict({**opt.state_dict(), "members": opt.state_dict()["members"][:1]})
    with pytest.raises(ValueError, match="state_dict is not an OptimizerSet state"):
        opt.load_state_dict(opt.members[0].state_dict())
    with pytest.raises(TypeError, match=r"call set.members\[i\].add_param_group\(group\)"):
        opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(1))]})


def test_gradscaler_steps_or_skips_the_set_as_one():
    model, _, _, sched = build()
    scaler = torch.amp.GradScaler("cpu", init_scale=16.0)
    counts = []
    for k in range(5):
        loss = model(torch.ones(2, 6)).sum() * (float("inf") if k == 2 else 1.0)
        scaler.scale(loss).backward()
        scaler.step(sched.optimizer)  # one inf check over both members' gradients
        scaler.update()
        sched.optimizer.zero_grad()
        counts.append(sched.optimizer_step)
    assert counts == [1, 2, 2, 3, 4]  # the skipped step is no step of the schedule


# ---------------------------------------------------------------------------- the Trainer


def _muon_trainer(output_dir, **overrides):
    """A SchedTrainer whose create_optimizer returns Muon (encoder matrices) + AdamW (the rest) as one set."""
    from transformers import BertConfig, BertForSequenceClassification

    from hf_sched import SchedTrainer, SchedTrainingArguments

    class MuonTrainer(SchedTrainer):
        def create_optimizer(self, model=None):
            if self.optimizer is None:
                named = list((model or self.model).named_parameters())
                matrix = [p for n, p in named if p.ndim == 2 and "embeddings" not in n and "classifier" not in n]
                ids = {id(p) for p in matrix}
                self.optimizer = OptimizerSet([
                    torch.optim.Muon(matrix, lr=MUON_LR, weight_decay=0.01),
                    torch.optim.AdamW([p for _, p in named if id(p) not in ids], lr=self.args.learning_rate)])
            return self.optimizer

    config = BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                        max_position_embeddings=32)
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    g = torch.Generator().manual_seed(1)
    data = [{"input_ids": torch.randint(1, 64, (8,), generator=g), "labels": i % 2} for i in range(48)]
    kw = dict(output_dir=str(output_dir), lr_scheduler_type="warmupcosine", learning_rate=ADAMW_LR,
              per_device_train_batch_size=4, num_train_epochs=1, logging_steps=1, report_to=[], use_cpu=True,
              seed=0, save_strategy="steps", save_steps=6, save_lr_curve=False, disable_tqdm=True)
    kw.update(overrides)
    return MuonTrainer(model=model, args=SchedTrainingArguments(**kw), train_dataset=data)


@pytest.mark.usefixtures("frozen_gc")
def test_trainer_with_muon_and_adamw_resumes_exactly(tmp_path):
    full = _muon_trainer(tmp_path / "full")
    full.train()
    f = full.lr_scheduler.schedules[0]
    logs = [h for h in full.state.log_history if "learning_rate" in h]
    assert full.lr_scheduler.optimizer_step == 12 and len(logs) == 12
    assert [h["learning_rate"] for h in logs] == pytest.approx([MUON_LR * f(k) for k in range(12)], rel=1e-12)
    state = torch.load(tmp_path / "full" / "checkpoint-6" / "optimizer.pt", weights_only=True)
    assert state["format"] == "hf_sched.OptimizerSet/1" and len(state["members"]) == 2

    resumed = _muon_trainer(tmp_path / "resumed")
    resumed.train(resume_from_checkpoint=str(tmp_path / "full" / "checkpoint-6"))
    again = [h for h in resumed.state.log_history if "learning_rate" in h]
    assert [(h["step"], h["learning_rate"], h["loss"]) for h in again[6:]] == \
        [(h["step"], h["learning_rate"], h["loss"]) for h in logs[6:]]
    assert resumed.lr_scheduler.optimizer_step == 12
    weights = full.model.state_dict()
    for name, value in resumed.model.state_dict().items():
        assert torch.allclose(value, weights[name], rtol=1e-6, atol=1e-7), name
