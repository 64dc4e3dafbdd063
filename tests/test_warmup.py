"""Warmup requests and warmup shapes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hf_sched.warmup import WARMUP_SHAPES, auto_warmup_steps, resolve_warmup, warmup_factor, warmup_factors


@pytest.mark.parametrize("request_,total,expected", [
    (None, 1000, 100), (None, 30, 3), (None, 1, 0), (None, 2, 1), (None, 95, 10),  # never the whole run
    (0, 100, 0), (7, 100, 7), (100, 100, 100),
    (0.0, 100, 0), (0.06, 250, 15), (0.1, 30, 3), (0.999, 10, 10), (0.3, 7, 3),
    ("10%", 1000, 100), ("0%", 10, 0), ("12.5%", 80, 10), ("33%", 10, 4),
    ("100", 1000, 100), ("0.1", 1000, 100), (" 5% ", 100, 5),
])
def test_requests(request_, total, expected):
    assert resolve_warmup(request_, total) == expected


def test_ratio_rounding_is_exact_on_the_decimal():
    # the float product 0.07 * 100 is 7.000000000000001 (ceil: 8); 7% of 100 is 7
    assert 0.07 * 100 > 7
    assert resolve_warmup(0.07, 100) == 7
    assert resolve_warmup("7%", 100) == 7
    assert resolve_warmup(0.55, 100) == 55


def test_auto():
    p = [torch.nn.Parameter(torch.zeros(1))]
    assert auto_warmup_steps(torch.optim.AdamW(p, betas=(0.9, 0.999))) == 2000
    assert auto_warmup_steps(torch.optim.Adam(p, betas=(0.9, 0.98))) == 100
    assert resolve_warmup("auto", 50_000, torch.optim.AdamW(p)) == 2000
    assert resolve_warmup("auto", 700, torch.optim.AdamW(p)) == 700


def test_auto_on_a_set_reads_its_adam_part():
    """Muon + AdamW (an OptimizerSet): Muon's groups have no betas, AdamW's beta2 sets the warmup."""
    from hf_sched import OptimizerSet, get_scheduler

    matrix, bias = torch.nn.Parameter(torch.zeros(4, 4)), torch.nn.Parameter(torch.zeros(4))
    muon = torch.optim.Muon([matrix], lr=0.02)
    adamw = torch.optim.AdamW([bias], lr=1e-3, betas=(0.9, 0.98))
    assert auto_warmup_steps(OptimizerSet([muon, adamw])) == 100
    sched = get_scheduler("warmuplinear", [muon, adamw], num_training_steps=1000, warmup="auto")
    assert sched.schedules[0].num_warmup_steps == 100
    two = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], betas=(0.9, 0.999))
    assert auto_warmup_steps(OptimizerSet([torch.optim.AdamW([matrix], betas=(0.9, 0.98)), two])) == 2000  # slowest
    with pytest.raises(ValueError, match="needs an Adam-family optimizer with betas; OptimizerSet has none"):
        auto_warmup_steps(OptimizerSet([torch.optim.Muon([matrix], lr=0.02)]))


@pytest.mark.parametrize("shape", WARMUP_SHAPES)
def test_shapes_scalar_equals_vector_and_bounds(shape):
    w = 20
    s = np.arange(w)
    vec = warmup_factors(s, w, 0.1, shape)
    sca = np.array([warmup_factor(float(k), w, 0.1, shape) for k in s])
    assert np.allclose(vec, sca, atol=1e-15)
    assert (vec >= 0.1 - 1e-15).all() and (vec <= 1).all()
    assert (np.diff(vec) >= -1e-15).all()


def test_shape_values():
    assert warmup_factor(5, 10, 0.0, "linear") == 0.5
    assert warmup_factor(5, 10, 0.2, "constant") == 0.2
    assert warmup_factor(0, 10, 0.0, "exponential") == pytest.approx(1 - math.exp(-0.5))
    assert warmup_factor(5, 10, 0.0, "cosine") == pytest.approx(0.5)
    assert warmup_factor(5, 10, 0.0, "1-sqrt") == pytest.approx(1 - math.sqrt(0.5))
