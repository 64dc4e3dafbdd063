"""Tests of hf_sched.optim: BERT-style param groups (no decay for norms/biases, layer-wise LR decay).

Every model here is a real transformers model built by random init from a small config
(no download). The expectations (which parameters are norms or biases, which layer a
parameter is in) are computed in this file from explicit per-model name prefixes and
module types, independently of the implementation's search.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys

import pytest
from optional import require

torch = require("torch")
transformers = require("transformers")

from torch import nn  # noqa: E402
from transformers.models.deberta.modeling_deberta import DebertaLayerNorm  # noqa: E402

import hf_sched  # noqa: E402
from hf_sched.lr_scheduler import ScheduledLR, get_scheduler  # noqa: E402
from hf_sched.optim import (  # noqa: E402
    describe_param_groups,
    find_layers,
    is_norm_module,
    layer_id_for,
    param_groups,
)
from hf_sched.schedules import Constant, Cosine, Linear  # noqa: E402

L = 3
SMALL = dict(hidden_size=32, num_hidden_layers=L, num_attention_heads=2, intermediate_size=64, vocab_size=100)

# model key -> (config factory, layer-stack path, name prefixes that are "embeddings")
SPECS = {
    "bert": (lambda: transformers.BertConfig(**SMALL), "bert.encoder.layer", ("bert.embeddings.",)),
    "roberta": (lambda: transformers.RobertaConfig(**SMALL), "roberta.encoder.layer", ("roberta.embeddings.",)),
    "distilbert": (
        lambda: transformers.DistilBertConfig(dim=32, n_layers=L, n_heads=2, hidden_dim=64, vocab_size=100),
        "distilbert.transformer.layer",
        ("distilbert.embeddings.",),
    ),
    "electra": (
        lambda: transformers.ElectraConfig(embedding_size=16, **SMALL),
        "electra.encoder.layer",
        ("electra.embeddings.", "electra.embeddings_project."),
    ),
    "deberta": (
        lambda: transformers.DebertaConfig(relative_attention=True, max_relative_positions=16, **SMALL),
        "deberta.encoder.layer",
        ("deberta.embeddings.", "deberta.encoder.rel_embeddings."),
    ),
    "deberta-v2": (
        lambda: transformers.DebertaV2Config(
            relative_attention=True, position_buckets=8, norm_rel_ebd="layer_norm", **SMALL
        ),
        "deberta.encoder.layer",
        ("deberta.embeddings.", "deberta.encoder.rel_embeddings."),
    ),
}
# Every normalization class these models use (checked below so the list stays complete).
NORM_TYPES = (nn.LayerNorm, DebertaLayerNorm)


@pytest.fixture(scope="module")
def models() -> dict[str, nn.Module]:
    torch.manual_seed(0)
    return {k: transformers.AutoModelForSequenceClassification.from_config(cfg()) for k, (cfg, _, _) in SPECS.items()}


def names_of(model: nn.Module) -> dict[int, str]:
    return {id(p): n for n, p in model.named_parameters()}


def expected_no_decay(model: nn.Module) -> set[int]:
    """Direct params of norm modules (by type) and params called bias / q_bias / v_bias."""
    out: set[int] = set()
    for module in model.modules():
        if "Norm" in type(module).__name__:
            assert isinstance(module, NORM_TYPES), f"test does not know the norm class {type(module).__name__}"
        if isinstance(module, NORM_TYPES):
            out.update(id(p) for p in module.parameters(recurse=False))
    for name, p in model.named_parameters():
        if name.rsplit(".", 1)[-1] in ("bias", "q_bias", "v_bias"):
            out.add(id(p))
    return out


def expected_depth(name: str, key: str) -> int:
    """0 = embeddings, i + 1 = layer i, L + 1 = head: from this file's explicit prefixes."""
    _, stack, embeddings = SPECS[key]
    if name.startswith(stack + "."):
        return int(name[len(stack) + 1 :].split(".")[0]) + 1
    if name.startswith(embeddings):
        return 0
    return L + 1


def all_params(groups: list[dict]) -> list:
    return [p for g in groups for p in g["params"]]


# -- every parameter once, decay / no-decay split ---------------------------------------


@pytest.mark.parametrize("key", list(SPECS))
@pytest.mark.parametrize("layer_decay", [None, 0.8])
def test_every_trainable_param_in_exactly_one_group(models, key, layer_decay):
    model = models[key]
    groups = param_groups(model, layer_decay=layer_decay, lr=1e-3)
    ids = [id(p) for p in all_params(groups)]
    assert len(ids) == len(set(ids)), "a parameter is in two groups"
    assert set(ids) == {id(p) for p in model.parameters() if p.requires_grad}
    assert all(g["params"] for g in groups), "empty groups are dropped"
    assert len({g["name"] for g in groups}) == len(groups)


@pytest.mark.parametrize("key", list(SPECS))
@pytest.mark.parametrize("no_decay", [("bias", "LayerNorm.weight", "layer_norm.weight", "LayerNorm.bias"), ()])
def test_no_decay_gets_exactly_the_norms_and_biases(models, key, no_decay):
    """By module type and parameter name alone: the same split without any name patterns."""
    model = models[key]
    expected = expected_no_decay(model)
    names = names_of(model)
    assert any("Norm" in names[i] or "norm" in names[i] for i in expected)  # the check has teeth
    for layer_decay in (None, 0.9):
        groups = param_groups(model, weight_decay=0.05, no_decay=no_decay, layer_decay=layer_decay, lr=1e-3)
        for g in groups:
            for p in g["params"]:
                exempt = id(p) in expected
                assert g["weight_decay"] == (0.0 if exempt else 0.05), names[id(p)]
                assert g["name"].endswith("no_decay" if exempt else ".decay" if layer_decay else "decay")


def test_plain_split_has_two_groups_and_lr_only_when_given(models):
    model = models["bert"]
    groups = param_groups(model)
    assert [g["name"] for g in groups] == ["decay", "no_decay"]
    assert [g["weight_decay"] for g in groups] == [0.01, 0.0]
    assert all("lr" not in g for g in groups)
    assert [g["lr"] for g in param_groups(model, lr=3e-5)] == [3e-5, 3e-5]
    # the reference BERT split: 2-D weights and embeddings decay, LayerNorm and biases do not
    names = names_of(model)
    decay_names = {names[id(p)] for p in groups[0]["params"]}
    assert "bert.embeddings.word_embeddings.weight" in decay_names
    assert "bert.encoder.layer.0.attention.self.query.weight" in decay_names
    assert not any(n.endswith("bias") or "LayerNorm" in n for n in decay_names)


def test_module_type_rule_catches_norms_without_the_usual_names():
    class ScaleNorm(nn.Module):  # a custom norm: no 'LayerNorm' in the parameter name
        def __init__(self) -> None:
            super().__init__()
            self.gain = nn.Parameter(torch.ones(4))

    model = nn.Sequential()
    model.add_module("proj", nn.Linear(4, 4, bias=False))
    model.add_module("gn", nn.GroupNorm(2, 4))
    model.add_module("bn", nn.BatchNorm1d(4))
    model.add_module("inorm", nn.InstanceNorm1d(4, affine=True))
    model.add_module("rms", nn.RMSNorm(4))
    model.add_module("scale", ScaleNorm())
    model.add_module("out", nn.Linear(4, 2))
    expected_nd = {
        id(p) for m in (model.gn, model.bn, model.inorm, model.rms, model.scale) for p in m.parameters()
    } | {id(model.out.bias)}
    for no_decay in ((), ("bias", "LayerNorm.weight")):  # the type rule does not need name patterns
        decay, nd = param_groups(model, no_decay=no_decay)
        assert {id(p) for p in nd["params"]} == expected_nd
        assert {id(p) for p in decay["params"]} == {id(model.proj.weight), id(model.out.weight)}
    # extra name patterns move more parameters out of decay
    decay, nd = param_groups(model, no_decay=("proj.weight",))
    assert [id(p) for p in decay["params"]] == [id(model.out.weight)]
    assert is_norm_module(model.scale) and is_norm_module(model.rms) and not is_norm_module(model.proj)


def test_frozen_parameters_are_left_out(models):
    torch.manual_seed(0)
    model = transformers.AutoModelForSequenceClassification.from_config(SPECS["bert"][0]())
    for p in [*model.bert.embeddings.parameters(), *model.bert.encoder.layer[0].parameters()]:
        p.requires_grad_(False)
    groups = param_groups(model, layer_decay=0.9, lr=1e-3)
    assert {id(p) for p in all_params(groups)} == {id(p) for p in model.parameters() if p.requires_grad}
    assert not any(g["name"].startswith(("embeddings.", "layer_0.")) for g in groups)
    assert groups[0]["name"] == "layer_1.decay" and groups[0]["lr"] == pytest.approx(1e-3 * 0.9**2)


def test_tied_weights_appear_once():
    torch.manual_seed(0)
    model = transformers.BertForMaskedLM(transformers.BertConfig(**SMALL))
    assert model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight
    groups = param_groups(model, layer_decay=0.9, lr=1e-3)
    ids = [id(p) for p in all_params(groups)]
    assert len(ids) == len(set(ids)) == len({id(p) for p in model.parameters()})
    emb = next(g for g in groups if g["name"] == "embeddings.decay")
    assert any(p is model.bert.embeddings.word_embeddings.weight for p in emb["params"])


# -- layer-wise LR decay ----------------------------------------------------------------


@pytest.mark.parametrize("key", list(SPECS))
def test_layer_lrs_match_the_formula(models, key):
    model = models[key]
    lr, d = 2e-5, 0.8
    groups = param_groups(model, layer_decay=d, lr=lr)
    names = names_of(model)
    seen_depths = set()
    for g in groups:
        for p in g["params"]:
            k = expected_depth(names[id(p)], key)
            seen_depths.add(k)
            assert g["layer_id"] == k, names[id(p)]
            assert g["lr"] == pytest.approx(lr * d ** (L + 1 - k), rel=1e-12), names[id(p)]
            assert g["lr_scale"] == pytest.approx(d ** (L + 1 - k), rel=1e-12)
            part = "embeddings" if k == 0 else "head" if k == L + 1 else f"layer_{k - 1}"
            assert g["name"].split(".")[0] == part
    assert seen_depths == set(range(L + 2))
    # the spelled-out formula: embeddings lr d^(L+1), layer i lr d^(L-i), head lr
    by_name = {g["name"]: g["lr"] for g in groups}
    assert by_name["embeddings.decay"] == pytest.approx(lr * d**4)
    assert [by_name[f"layer_{i}.decay"] for i in range(L)] == pytest.approx([lr * d**3, lr * d**2, lr * d])
    assert by_name["head.decay"] == pytest.approx(lr)
    # group order: embeddings, layer_0 .. layer_{L-1}, head; decay before no_decay
    assert [g["layer_id"] for g in groups] == sorted(g["layer_id"] for g in groups)


@pytest.mark.parametrize("key", list(SPECS))
def test_find_layers_on_real_models(models, key):
    layers, path = find_layers(models[key])
    assert path == SPECS[key][1]
    assert isinstance(layers, nn.ModuleList) and len(layers) == L


def test_layer_decay_one_keeps_every_lr():
    model = nn.Module()
    model.embeddings = nn.Embedding(5, 4)
    model.layers = nn.ModuleList(nn.Linear(4, 4) for _ in range(2))
    groups = param_groups(model, layer_decay=1.0, lr=0.1)
    assert {g["lr"] for g in groups} == {0.1}
    assert [g["name"] for g in groups] == [
        "embeddings.decay", "layer_0.decay", "layer_0.no_decay", "layer_1.decay", "layer_1.no_decay"
    ]  # fmt: skip


def test_generic_search_by_config_layer_count_and_explicit_layers():
    class Config:
        num_hidden_layers = 2

    class Custom(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.config = Config()
            self.stem = nn.Linear(4, 4)
            self.heads = nn.ModuleList(nn.Linear(4, 4) for _ in range(3))  # wrong length: not the stack
            self.stack = nn.ModuleList(nn.Linear(4, 4) for _ in range(2))
            self.out = nn.Linear(4, 1)

    model = Custom()
    layers, path = find_layers(model)
    assert layers is model.stack and path == "stack"
    lrs = {g["name"]: g["lr"] for g in param_groups(model, layer_decay=0.5, lr=1.0)}
    # stem (registered before the first layer) -> embeddings; heads/out (after) -> head
    assert lrs == {
        "embeddings.decay": 0.125, "embeddings.no_decay": 0.125,
        "layer_0.decay": 0.25, "layer_0.no_decay": 0.25,
        "layer_1.decay": 0.5, "layer_1.no_decay": 0.5,
        "head.decay": 1.0, "head.no_decay": 1.0,
    }  # fmt: skip
    # an explicit stack (object or dotted path) wins over the search
    for layers_arg in (model.heads, "heads"):
        groups = param_groups(model, layer_decay=0.5, lr=1.0, layers=layers_arg)
        assert [g["name"] for g in groups if g["name"].endswith(".decay")] == [
            "embeddings.decay", "layer_0.decay", "layer_1.decay", "layer_2.decay", "head.decay"
        ]  # fmt: skip


def test_parameters_outside_the_base_model_are_head_wherever_registered():
    class Body(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embeddings = nn.Embedding(5, 4)
            self.encoder = nn.Module()
            self.encoder.layer = nn.ModuleList(nn.Linear(4, 4, bias=False) for _ in range(2))

    class WithHead(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed_head = nn.Linear(4, 4, bias=False)  # before the body and named "embed..."
            self.body = Body()

        @property
        def base_model(self) -> nn.Module:
            return self.body

    model = WithHead()
    assert find_layers(model)[1] == "body.encoder.layer"
    groups = {g["name"]: g for g in param_groups(model, layer_decay=0.5, lr=1.0)}
    assert groups["head.decay"]["params"] == [model.embed_head.weight] and groups["head.decay"]["lr"] == 1.0
    assert groups["embeddings.decay"]["params"] == [model.body.embeddings.weight]
    assert groups["embeddings.decay"]["lr"] == 0.125


def test_layer_id_for_agrees_with_param_groups_on_bert_family(models):
    for key in ("bert", "roberta", "electra", "distilbert"):
        model = models[key]
        names = names_of(model)
        for g in param_groups(model, layer_decay=0.9, lr=1.0):
            for p in g["params"]:
                assert layer_id_for(names[id(p)], L) == g["layer_id"], names[id(p)]
                assert layer_id_for(names[id(p)], L, layers_prefix=SPECS[key][1]) == g["layer_id"]
    assert layer_id_for("model.h.2.mlp.weight", 3) == 3
    assert layer_id_for("model.final_norm.weight", 3) == 4


# -- the optimizer and the scheduler ----------------------------------------------------


def test_adamw_accepts_the_groups_and_applies_each_lr_and_weight_decay(models):
    torch.manual_seed(0)
    model = transformers.AutoModelForSequenceClassification.from_config(SPECS["bert"][0]())
    lr, d, wd = 0.1, 0.5, 0.2
    groups = param_groups(model, weight_decay=wd, layer_decay=d, lr=lr)
    opt = torch.optim.AdamW(groups)
    assert [g["name"] for g in opt.param_groups] == [g["name"] for g in groups]
    before = [[p.detach().clone() for p in g["params"]] for g in opt.param_groups]
    for p in model.parameters():
        p.grad = torch.zeros_like(p)  # Adam's update is 0: only decoupled weight decay moves p
    opt.step()
    for g, old in zip(opt.param_groups, before):
        factor = 1.0 - g["lr"] * g["weight_decay"]
        for p, p0 in zip(g["params"], old):
            torch.testing.assert_close(p.detach(), p0 * factor, rtol=1e-6, atol=0)
    # the extra keys survive an optimizer checkpoint round trip
    opt2 = torch.optim.AdamW(param_groups(model, weight_decay=wd, layer_decay=d, lr=lr))
    opt2.load_state_dict(opt.state_dict())
    assert [(g["name"], g["lr"], g["layer_id"]) for g in opt2.param_groups] == [
        (g["name"], g["lr"], g["layer_id"]) for g in opt.param_groups
    ]


def test_scheduledlr_composes_with_layer_decay(models):
    model = models["roberta"]
    lr, d = 1e-3, 0.9
    opt = torch.optim.AdamW(param_groups(model, layer_decay=d, lr=lr))
    sched = ScheduledLR(opt, Cosine(num_training_steps=10, num_warmup_steps=2))
    f = Cosine(num_training_steps=10, num_warmup_steps=2)
    for s in range(12):
        for g in opt.param_groups:
            assert g["lr"] == pytest.approx(lr * d ** (L + 1 - g["layer_id"]) * f(s), rel=1e-12, abs=0)
        opt.step()  # no grads: nothing moves, but it is an optimizer step (the scheduler counts those)
        sched.step()


def test_scheduledlr_per_group_schedules(models):
    model = models["distilbert"]
    lr, d = 1e-3, 0.7
    groups = param_groups(model, layer_decay=d, lr=lr)
    opt = torch.optim.SGD(groups)
    # the head trains at a constant LR, the encoder and embeddings decay linearly after warmup
    const = Constant(num_training_steps=6)
    linear = Linear(num_training_steps=6, num_warmup_steps=1)
    schedules = [const if g["name"].startswith("head.") else linear for g in groups]
    sched = ScheduledLR(opt, schedules)
    expected_linear = [0.0, 1.0, 0.8, 0.6, 0.4, 0.2, 0.0]
    for s in range(7):
        for g in opt.param_groups:
            f = 1.0 if g["name"].startswith("head.") else expected_linear[s]
            assert g["lr"] == pytest.approx(lr * d ** (L + 1 - g["layer_id"]) * f, abs=1e-15)
        opt.step()
        sched.step()


def test_training_loop_five_steps_of_tiny_bert():
    torch.manual_seed(0)
    model = transformers.AutoModelForSequenceClassification.from_config(SPECS["bert"][0]())
    model.train()
    lr, d, T = 1e-3, 0.8, 5
    optimizer = torch.optim.AdamW(param_groups(model, weight_decay=0.01, layer_decay=d, lr=lr))
    scheduler = hf_sched.get_scheduler("warmuplinear", optimizer, num_training_steps=T)
    f = [0.0, 1.0, 0.75, 0.5, 0.25, 0.0]  # warmup ceil(10% of 5) = 1 step, then linear to 0
    x = torch.randint(0, 100, (4, 8))
    y = torch.tensor([0, 1, 0, 1])
    head_before = model.classifier.weight.detach().clone()
    losses = []
    for s in range(T):
        # the LR this optimizer step uses is lr * d**(L + 1 - k) * f(s), in every group
        for g in optimizer.param_groups:
            assert g["lr"] == pytest.approx(lr * d ** (L + 1 - g["layer_id"]) * f[s], abs=1e-15), (s, g["name"])
        assert scheduler.get_last_lr() == pytest.approx([lr * g["lr_scale"] * f[s] for g in optimizer.param_groups])
        loss = model(input_ids=x, labels=y).loss
        loss.backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert all(g["lr"] == 0.0 for g in optimizer.param_groups)
    assert all(math.isfinite(v) for v in losses)
    assert not torch.equal(model.classifier.weight, head_before)


# -- the report -------------------------------------------------------------------------


def test_describe_param_groups_table(models, capsys):
    model = models["electra"]
    groups = param_groups(model, layer_decay=0.9, lr=1e-3, report=True)
    printed = capsys.readouterr().out.strip()
    table = describe_param_groups(groups)
    assert printed == table
    lines = table.splitlines()
    assert lines[0].split() == ["group", "tensors", "params", "lr", "weight_decay", "rules"]
    assert len(lines) == len(groups) + 2
    for g, line in zip(groups, lines[1:]):
        cells = line.split()
        assert cells[0] == g["name"]
        assert int(cells[1]) == len(g["params"])
        assert int(cells[2]) == sum(p.numel() for p in g["params"])
        assert float(cells[3]) == pytest.approx(g["lr"], rel=1e-3)
        assert float(cells[4]) == g["weight_decay"]
        assert line.rstrip().endswith(g["rules"]) and f"(layer_decay, {g['name'].split('.')[0]})" in g["rules"]
    total = lines[-1].split()
    assert total[0] == "total" and int(total[2]) == sum(p.numel() for p in model.parameters())
    # a callable receives the table instead of print; an optimizer is accepted too
    got = []
    param_groups(model, report=got.append)
    assert got == [describe_param_groups(param_groups(model))] and capsys.readouterr().out == ""
    opt_table = describe_param_groups(torch.optim.AdamW(param_groups(model)))
    assert opt_table.splitlines()[1].split()[3] == "0.001"  # AdamW's default lr, filled in by torch
    assert describe_param_groups([{"params": [nn.Parameter(torch.zeros(3))]}]).splitlines()[1].split() == [
        "0", "1", "3", "default", "default"
    ]  # fmt: skip


def test_public_names_are_lazy_and_cheap():
    for name in ("param_groups", "describe_param_groups", "layer_id_for", "find_layers", "is_norm_module"):
        assert name in hf_sched.__all__
    assert hf_sched.param_groups is param_groups
    code = "import sys, hf_sched.optim; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


# -- bad input: clear errors ------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, 0.0, -0.1, 1.5, float("nan"), float("inf")])
def test_layer_decay_outside_zero_one(models, bad):
    with pytest.raises(ValueError, match=r"layer_decay must be a number in \(0, 1\].*got " + re.escape(repr(bad))):
        param_groups(models["bert"], layer_decay=bad, lr=1e-3)


@pytest.mark.parametrize("bad", [True, "0.9", [0.9]])
def test_layer_decay_wrong_type(models, bad):
    with pytest.raises(TypeError, match=r"layer_decay must be a number in \(0, 1\].*or None, got"):
        param_groups(models["bert"], layer_decay=bad, lr=1e-3)


@pytest.mark.parametrize("bad", [-0.1, -1])
def test_weight_decay_negative(models, bad):
    with pytest.raises(ValueError, match=rf"weight_decay must be a number >= 0, got {bad}"):
        param_groups(models["bert"], weight_decay=bad)


def test_weight_decay_nan_and_type(models):
    with pytest.raises(ValueError, match="weight_decay must be a finite number, got nan"):
        param_groups(models["bert"], weight_decay=float("nan"))
    with pytest.raises(TypeError, match="weight_decay must be a number, got '0.01'"):
        param_groups(models["bert"], weight_decay="0.01")


def test_layer_decay_without_lr(models):
    with pytest.raises(ValueError, match=r"layer_decay=0.9 needs the peak learning rate: pass lr=<float>"):
        param_groups(models["bert"], layer_decay=0.9)


@pytest.mark.parametrize("bad", [0, -1e-3, float("nan")])
def test_lr_not_positive(models, bad):
    with pytest.raises(ValueError, match=r"lr must be a (number > 0|finite number), got"):
        param_groups(models["bert"], lr=bad)


def test_model_without_detectable_layers():
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    assert len(param_groups(model)) == 2  # without layer decay any model works
    with pytest.raises(ValueError) as err:
        param_groups(model, layer_decay=0.9, lr=1e-3)
    msg = str(err.value)
    assert "none was found in Sequential" in msg
    assert "encoder.layer" in msg and "transformer.layer" in msg and "nn.ModuleList" in msg
    assert "no config with num_hidden_layers" in msg and "layers=" in msg


def test_model_whose_config_count_matches_no_module_list():
    class Config:
        num_hidden_layers = 5

    model = nn.Module()
    model.config = Config()
    model.blocks = nn.ModuleList(nn.Linear(2, 2) for _ in range(3))
    with pytest.raises(ValueError, match=r"none was found in Module: .*config\.num_hidden_layers=5"):
        param_groups(model, layer_decay=0.9, lr=1e-3)


def test_bad_layers_argument():
    model = nn.Sequential(nn.Linear(4, 4))
    msg = r"layers='encoder.layer' must name a non-empty nn.ModuleList inside Sequential, found nothing"
    with pytest.raises(ValueError, match=msg):
        param_groups(model, layer_decay=0.9, lr=1.0, layers="encoder.layer")
    with pytest.raises(ValueError, match=r"layers='0' must name a non-empty nn.ModuleList .* found a Linear"):
        param_groups(model, layer_decay=0.9, lr=1.0, layers="0")
    with pytest.raises(ValueError, match=r"is not a submodule of Sequential"):
        param_groups(model, layer_decay=0.9, lr=1.0, layers=nn.ModuleList([nn.Linear(1, 1)]))
    with pytest.raises(TypeError, match=r"layers must be None, a non-empty nn.ModuleList"):
        param_groups(model, layer_decay=0.9, lr=1.0, layers=3)


def test_other_bad_inputs(models):
    msg = r"no_decay must be a sequence of name substrings .* got the single string 'bias'; wrap it: \('bias',\)"
    with pytest.raises(TypeError, match=msg):
        param_groups(models["bert"], no_decay="bias")
    with pytest.raises(TypeError, match=r"no_decay must hold non-empty strings, got 3"):
        param_groups(models["bert"], no_decay=("bias", 3))
    with pytest.raises(TypeError, match=r"no_decay must be a sequence of name substrings, got 3 \(int\)"):
        param_groups(models["bert"], no_decay=3)
    with pytest.raises(TypeError, match=r"model must be a torch.nn.Module, got dict"):
        param_groups({"w": 1})
    with pytest.raises(TypeError, match=r"report must be True, False or a callable"):
        param_groups(models["bert"], report="yes")
    frozen = nn.Linear(2, 2).requires_grad_(False)
    with pytest.raises(ValueError, match=r"Linear has no trainable parameters \(all have requires_grad=False\)"):
        param_groups(frozen)
    with pytest.raises(ValueError, match=r"num_layers must be an integer >= 1, got 0"):
        layer_id_for("bert.encoder.layer.0.x", 0)
    with pytest.raises(ValueError, match=r"is in layer 7, but num_layers=3 \(layers 0..2\)"):
        layer_id_for("bert.encoder.layer.7.output.dense.weight", 3)
    with pytest.raises(ValueError, match=r"has no layer index after it"):
        layer_id_for("enc.layer.norm.weight", 3, layers_prefix="enc.layer")
    with pytest.raises(TypeError, match=r"groups must be a list of param-group dicts or an optimizer, got str"):
        describe_param_groups("groups")
    with pytest.raises(TypeError, match=r"groups\[0\] must be a dict with a 'params' key"):
        describe_param_groups([{"lr": 1.0}])
