"""Checkpoints written by hf_sched before the core rewrite still resume, with the same LRs.

``tests/fixtures/resume_states.pth`` was written by ``tests/fixtures/make_resume_fixture.py``
with the code of that day: each record is a ScheduledLR ``state_dict()`` (named schedules,
composed ones, per-group schedules, ``interval="epoch"``) and the LRs the uninterrupted run
used next. Today's code builds the same scheduler, loads the state (strict: the specs it
builds must equal the old ones) and must give those LRs.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from fixtures.make_resume_fixture import build, optimizer

FIXTURE = Path(__file__).parent / "fixtures" / "resume_states.pth"
RECORDS = torch.load(FIXTURE, weights_only=True)["records"]


def _id(record: dict) -> str:
    what = record.get("name") or "+".join(d["kind"] for d in record["specs"])
    return f"{what}@{record['taken']}"


@pytest.mark.parametrize("record", RECORDS, ids=[_id(r) for r in RECORDS])
def test_an_old_checkpoint_resumes_with_the_old_lrs(record):
    opt = optimizer()
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*differs from the checkpoint")  # strict: nothing differs
        sched = build(record, opt)
        sched.load_state_dict(record["state"])
    state = sched.state_dict()
    # the spec format is today's too; the records of issue 23 (examples seen, weight decays) came later
    assert set(state) - set(record["state"]) <= {"examples_seen", "examples_per_step", "weight_decays"}
    assert {k: v for k, v in state.items() if k in record["state"]} == record["state"]
    got = []
    for _ in record["lrs"]:
        got.append([float(g["lr"]) for g in opt.param_groups])
        opt.step()
        sched.step()
    for step, (mine, old) in enumerate(zip(got, record["lrs"])):
        assert mine == pytest.approx(old, rel=1e-12, abs=1e-15), f"step {record['taken'] + step}"


def test_the_fixture_covers_composed_and_per_group_schedules():
    kinds = {d["kind"] for r in RECORDS for d in r["state"]["schedules"]}
    assert {"join", "product", "warmup_stable_decay", "onecycle", "cosine_restarts"} <= kinds
    assert any(r["state"]["schedules"][0] != r["state"]["schedules"][1] for r in RECORDS)
    assert any(r["state"]["interval"] == "epoch" for r in RECORDS)
