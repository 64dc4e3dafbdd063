"""A clock in tokens or samples: LRs follow what each step consumed, and a resume keeps the position.

A tiny random BERT trains on batches of varying length; each step reports its real (unpadded)
tokens, ``attention_mask.sum()``. The LR of every step equals the warmup + cosine closed form
written out here, evaluated at the tokens the earlier steps consumed. A run stopped, rebuilt
from nothing and loaded resumes exactly; one resumed with twice the batch keeps the token
position (and so reaches the token total in fewer steps).
"""

from __future__ import annotations

import io
import math
import re

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from hf_sched import ScheduledLR, get_scheduler
from hf_sched.clock import Clock, clock_units, parse_amount

PEAK = 1e-3
TOTAL, WARMUP = 3_000, 400  # tokens


def closed_form(c: int, total: int = TOTAL, warmup: int = WARMUP) -> float:
    """warmupcosine in tokens: c / W during warmup, then a half cosine to 0 at T, 0 after."""
    if c < warmup:
        return c / warmup
    return 0.5 * (1.0 + math.cos(math.pi * (min(c, total) - warmup) / (total - warmup)))


def make_model():
    config = BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                        max_position_embeddings=64)
    torch.manual_seed(0)
    return BertForSequenceClassification(config)


def batch(k: int, size: int) -> dict[str, torch.Tensor]:
    """Batch ``k``: ``size`` sequences of 4..48 real tokens, padded to the longest (a function of k only)."""
    g = torch.Generator().manual_seed(k)
    lengths = torch.randint(4, 49, (size,), generator=g)
    width = int(lengths.max())
    ids = torch.randint(1, 64, (size, width), generator=g)
    mask = (torch.arange(width)[None, :] < lengths[:, None]).long()
    return {"input_ids": ids * mask, "attention_mask": mask, "labels": torch.randint(0, 2, (size,), generator=g)}


def build(warmup=f"{WARMUP} tok", total=f"{TOTAL} tok"):
    model = make_model()
    opt = torch.optim.AdamW(model.parameters(), lr=PEAK)
    return model, opt, get_scheduler("warmupcosine", opt, num_training_steps=total, warmup=warmup)


def train(model, opt, sched, batches, record):
    """One optimizer step per batch, reporting its real tokens; record (position before, lr, loss)."""
    for b in batches:
        record.append((sched.last_epoch, opt.param_groups[0]["lr"]))
        loss = model(**b).loss
        loss.backward()
        sched.consume(tokens=int(b["attention_mask"].sum()))
        opt.step()
        sched.step()
        opt.zero_grad()


def test_lr_follows_the_closed_form_in_tokens_over_varying_batches():
    model, opt, sched = build()
    record = []
    with pytest.warns(UserWarning, match=r"the run has consumed 3,\d{3} tokens, past the schedule's total of 3000"):
        train(model, opt, sched, [batch(k, 4) for k in range(40)], record)
    tokens = [int(batch(k, 4)["attention_mask"].sum()) for k in range(40)]
    assert len(set(tokens)) > 20  # the batches really vary
    position = 0
    for k, (seen, lr) in enumerate(record):
        assert seen == position, k
        assert lr == pytest.approx(PEAK * closed_form(position), rel=1e-12, abs=1e-18), k
        position += tokens[k]
    assert sched.optimizer_step == 40 and sched.last_epoch == position > TOTAL
    assert sched.get_last_lr() == [0.0]


def test_ratio_and_percent_warmups_are_shares_of_the_token_total():
    for warmup in (0.1, "10%", None):
        _, _, sched = build(warmup=warmup, total="3k tok")
        assert (sched.schedules[0].num_training_steps, sched.schedules[0].num_warmup_steps) == (3000, 300)


def checkpoint(model, opt, sched) -> dict:
    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def resume(state, **build_kw):
    model, opt, sched = build(**build_kw)
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    return model, opt, sched


def test_stop_rebuild_load_resumes_exactly():
    batches = [batch(k, 4) for k in range(24)]
    model, opt, sched = build()
    full = []
    train(model, opt, sched, batches, full)
    full_weights = model.state_dict()

    model, opt, sched = build()
    got = []
    train(model, opt, sched, batches[:9], got)
    state = checkpoint(model, opt, sched)
    assert state["scheduler"]["clock"] == {"unit": "tokens", "steps": 9, "pending": 0, "reported": False}
    model, opt, sched = resume(state)
    train(model, opt, sched, batches[9:], got)
    assert got == full
    for name, value in model.state_dict().items():
        assert torch.equal(value, full_weights[name]), name


def test_a_resume_with_a_doubled_batch_keeps_the_token_position():
    model, opt, sched = build()
    before = []
    train(model, opt, sched, [batch(k, 4) for k in range(10)], before)
    at = sched.last_epoch
    state = checkpoint(model, opt, sched)
    # the same plan in tokens (strict: nothing changed), twice the examples per step
    model, opt, sched = resume(state)
    assert sched.last_epoch == at and sched.optimizer_step == 10
    assert opt.param_groups[0]["lr"] == pytest.approx(PEAK * closed_form(at), rel=1e-12)
    after = []
    big = [batch(100 + k, 8) for k in range(12)]
    with pytest.warns(UserWarning, match="past the schedule's total of 3000"):
        train(model, opt, sched, big, after)
    position = at
    for (seen, lr), b in zip(after, big):
        assert seen == position and lr == pytest.approx(PEAK * closed_form(position), rel=1e-12, abs=1e-18)
        position += int(b["attention_mask"].sum())
    # each step now consumes about twice the tokens: the run crosses the token total in about half the steps
    per_step_small = at / 10
    per_step_big = (position - at) / 12
    assert 1.5 < per_step_big / per_step_small < 2.5


def test_rescale_on_a_clock_keeps_the_token_position_and_stretches_what_is_left():
    """A token run resumed over a doubled token total with resume='rescale': the clock stays at the tokens it
    consumed (it knows its place exactly), the LR is continuous there and reaches the final value at the new total."""
    def build(total):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        return opt, get_scheduler("warmuplinear", opt, num_training_steps=total, warmup="10%")

    opt, sched = build("1000 tok")
    for _ in range(5):
        sched.consume(tokens=100)
        opt.step()
    before, state = opt.param_groups[0]["lr"], sched.state_dict()
    opt, sched = build("2000 tok")
    sched.load_state_dict(state, resume="rescale")
    assert sched.state_dict()["step"] == 500 and opt.param_groups[0]["lr"] == pytest.approx(before, rel=1e-12)
    lrs = []
    for _ in range(15):
        sched.consume(tokens=100)
        opt.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == pytest.approx([before * (1500 - 100 * k) / 1500 for k in range(1, 16)], abs=1e-12)


def test_a_samples_clock_follows_a_batch_size_ramp():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = get_scheduler("warmuplinear", opt, num_training_steps="1k samples", warmup="100 samples")
    position = 0
    for size in [8, 8, 16, 16, 32, 32, 64, 64, 128, 128, 256, 256]:
        assert opt.param_groups[0]["lr"] == pytest.approx(sched.schedules[0](position), rel=1e-12, abs=1e-18)
        for _ in range(2):  # two micro-batches per step: the amounts add up
            sched.consume(samples=size // 2)
        opt.step()
        position += size
    assert sched.last_epoch == position and sched.clock.steps == 12


def test_an_unbounded_schedule_runs_on_a_clock_from_its_warmup_alone():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = get_scheduler("noam", opt, warmup="4k tok")
    sched.consume(tokens=16_000)
    opt.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(math.sqrt(4_000 / 16_000))


@pytest.mark.parametrize("text, value, unit", [
    ("200M tok", 200_000_000, "tokens"), ("5M tokens", 5_000_000, "tokens"), ("1.5B tok", 1_500_000_000, "tokens"),
    ("100k samples", 100_000, "samples"), ("2_000 smp", 2000, "samples"), ("1e6 tok", 1_000_000, "tokens"),
    ("3Mtok", 3_000_000, "tokens"), ("1 sample", 1, "samples"),
])
def test_amounts(text, value, unit):
    a = parse_amount(text)
    assert (a.value, a.unit) == (value, unit)


@pytest.mark.parametrize("kwargs, message", [
    ({"num_training_steps": 1000, "warmup": "5M tok"},
     "warmup='5M tok' is in tokens but num_training_steps=1000 counts optimizer steps: give both in tokens"),
    ({"num_training_steps": "200M tok", "warmup": 100},
     "warmup=100 is a number of optimizer steps, but 'warmupcosine' runs on a clock in tokens"),
    ({"num_training_steps": "200M tok", "num_warmup_steps": 100},
     "num_warmup_steps=100 is a number of optimizer steps, but 'warmupcosine' runs on a clock in tokens"),
    ({"num_training_steps": "200M tok", "warmup": "auto"}, "warmup='auto' counts optimizer steps or epochs"),
    ({"num_training_steps": "200M tok", "warmup": "1ep"}, "warmup='1ep' counts optimizer steps or epochs"),
    ({"num_training_steps": "200M tok", "warmup": "5k samples"},
     "warmup='5k samples' is in samples but num_training_steps is in tokens: a run has one clock"),
    ({"num_training_steps": "1.5 tok"}, "num_training_steps='1.5 tok' is not a whole number of tokens (1.5)"),
    ({"num_training_steps": "many tok"}, "num_training_steps='many tok' is not an amount: give an amount like"),
    ({"num_training_steps": "9e30 tok"}, "num_training_steps='9e30 tok' is too large"),
    ({"max_steps": "1M tok", "num_epochs": 2}, "num_epochs=2 counts optimizer steps or epochs, but this run's clock "
                                              "counts tokens"),
    ({"num_training_steps": "1M tok", "interval": "epoch"}, "interval='epoch': a clock in tokens advances at each"),
    ({"num_training_steps": "2k tok", "warmup": "5k tok"},
     "warmup='5k tok' (5,000 tokens) is longer than num_training_steps='2k tok' (2,000 tokens)"),
])
def test_bad_clock_arguments_get_one_line(kwargs, message):
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    with pytest.raises(ValueError) as err:
        get_scheduler("warmupcosine", opt, **kwargs)
    assert message in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_bad_reports_get_one_line():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = get_scheduler("warmuplinear", opt, num_training_steps="1k tok")
    for bad, shown in [(-3, "-3 (int)"), (2.5, "2.5 (float)"), (True, "True (bool)"), ("12", "'12' (str)")]:
        with pytest.raises(ValueError, match=re.escape(f"consume(tokens=...) must be a whole number >= 0 (what this step "
                                                       f"consumed), got {shown}")):
            sched.consume(tokens=bad)
    with pytest.raises(ValueError, match=r"consume\(samples=4\): this schedule's clock counts tokens"):
        sched.consume(samples=4)
    with pytest.raises(RuntimeError, match=r"optimizer step 1 was taken with no tokens reported: .* call "
                                           r"scheduler.consume\(tokens=n\)"):
        opt.step()  # a token budget with no way to count tokens
    steps = get_scheduler("warmuplinear", opt, num_training_steps=10)
    with pytest.raises(ValueError, match=r"this scheduler counts optimizer steps; build it with the total or the "
                                         r"warmup in tokens or samples"):
        steps.consume(tokens=5)


def test_checkpoints_of_another_clock_are_refused():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    tokens = get_scheduler("warmuplinear", opt, num_training_steps="1k tok").state_dict()
    steps = get_scheduler("warmuplinear", opt, num_training_steps=1000)
    with pytest.raises(ValueError, match="the checkpoint's schedule runs on a clock in tokens, this one in optimizer "
                                         "steps"):
        steps.load_state_dict(tokens)
    samples = get_scheduler("warmuplinear", opt, num_training_steps="1k samples")
    with pytest.raises(ValueError, match="the checkpoint's schedule runs on a clock in tokens, this one in samples"):
        samples.load_state_dict({**tokens, "clock": {**tokens["clock"], "unit": "tokens"}})
    sched = get_scheduler("warmuplinear", opt, num_training_steps="1k tok")
    with pytest.raises(ValueError, match=r"state_dict\['clock'\]\['pending'\] must be a whole number >= 0"):
        sched.load_state_dict({**tokens, "clock": {**tokens["clock"], "pending": -1}})
    with pytest.raises(ValueError, match="clock must be an hf_sched.clock.Clock with interval='step'"):
        ScheduledLR(opt, sched.schedules[0], clock=Clock("tokens"), interval="epoch")


def test_clock_units_reads_schedule_arguments_in_the_unit():
    unit, given = clock_units("warmup_stable_decay", {"num_training_steps": "1M tok", "warmup": "10k tok",
                                                      "num_stable_steps": "800k tok", "milestones": ["1k tok", 5]})
    assert unit == "tokens" and given["num_stable_steps"] == 800_000 and given["milestones"] == [1000, 5]


def test_a_step_gradscaler_skips_carries_its_tokens_to_the_next_step_taken():
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    sched = get_scheduler("warmuplinear", opt, num_training_steps="1k tok", warmup="100 tok")
    scaler = torch.amp.GradScaler("cpu", init_scale=16.0)
    for tokens, scale in [(40, 1.0), (30, float("inf")), (20, 1.0)]:
        scaler.scale(model(torch.ones(1, 2)).sum() * scale).backward()
        sched.consume(tokens=tokens)
        scaler.step(opt)
        scaler.update()
        opt.zero_grad()
    # the skipped step is no step, but its batch was read: the clock is at 40 + 30 + 20 after 2 steps
    assert (sched.optimizer_step, sched.last_epoch) == (2, 90)
    assert opt.param_groups[0]["lr"] == pytest.approx(90 / 100)


def test_a_pickled_scheduler_keeps_its_clock():
    import pickle

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = get_scheduler("warmuplinear", opt, num_training_steps="1k tok", warmup="100 tok")
    sched.consume(tokens=30)
    opt.step()
    sched.consume(tokens=5)  # reported for a step not yet taken: kept too
    opt2, again = pickle.loads(pickle.dumps((opt, sched)))
    assert (again.last_epoch, again.optimizer_step, again.clock.pending) == (30, 1, 5)
    opt2.step()
    assert again.last_epoch == 35 and opt2.param_groups[0]["lr"] == pytest.approx(0.35)


def test_muon_and_adamw_on_a_token_clock_under_accelerate_on_one_and_two_processes(tmp_path):
    """The same data on 1 and 2 processes (accumulation 2): every rank keeps the same clock (the step's
    tokens are gathered), each LR is the closed form at the clock, and both runs end at the same token."""
    import json
    import os
    import sys
    from pathlib import Path

    from launched import run_launched, two_process_command

    script = Path(__file__).parent / "scripts" / "set_and_tokens_accelerate.py"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    runs = {}
    for n, command in [(1, [sys.executable, str(script)]), (2, two_process_command(script))]:
        out = tmp_path / f"p{n}"
        out.mkdir()
        done = run_launched([*command, str(out)], timeout=300, env=env, cwd=Path(__file__).parents[1])
        assert done.returncode == 0, done.stderr[-3000:]
        runs[n] = [json.loads((out / f"rank{r}.json").read_text()) for r in range(n)]
    one, (rank0, rank1) = runs[1][0], runs[2]
    assert rank0["records"] == rank1["records"] and rank0["state"] == rank1["state"]
    assert (one["optimizer_step"], rank0["optimizer_step"]) == (36, 18)  # 96 examples, batch 4, accumulation 2
    assert one["position"] == rank0["position"] > 8_000  # the same tokens, in half the steps
    assert rank0["state"]["clock"]["steps"] == 18 and rank0["state"]["step"] == rank0["position"]
    for run in (one, rank0):
        positions = [r["position"] for r in run["records"]]
        assert positions == sorted(positions) and len(set(positions)) == len(positions)
        for r in run["records"]:
            f = closed_form(r["position"], total=9000, warmup=900)
            assert r["lrs"] == pytest.approx([0.02 * f, 1e-3 * f], rel=1e-12, abs=1e-18)
