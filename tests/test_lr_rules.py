"""Tests of LR rules on parameter names (hf_sched.lr_rules) as param_groups composes them.

Real models only: a tiny random BERT (BertConfig), wrapped by a real ``peft.get_peft_model``
for LoRA+. Each test computes the expected peak of every parameter from its name in this
file (explicit prefixes, the formula written out), then checks every group's LR at every
optimizer step of a real training loop against ``peak * f(s)``.
"""

from __future__ import annotations

import math
import re

import pytest
from optional import require

torch = require("torch")
transformers = require("transformers")
peft = require("peft")

import hf_sched  # noqa: E402
from hf_sched.lr_rules import LRRule, check_loraplus_ratio, is_lora_b, parse_lr_mapping  # noqa: E402
from hf_sched.optim import describe_param_groups, param_groups  # noqa: E402
from hf_sched.schedules import Cosine  # noqa: E402

L = 2
CONFIG = dict(hidden_size=32, num_hidden_layers=L, num_attention_heads=2, intermediate_size=64, vocab_size=100)
T = 12  # optimizer steps of each run


def tiny_bert(seed: int = 0):
    torch.manual_seed(seed)
    return transformers.BertForSequenceClassification(transformers.BertConfig(**CONFIG))


def tiny_lora_bert(seed: int = 0):
    """A real PEFT LoRA model: LoRA on query/value and on the word embeddings (lora_embedding_A/B)."""
    config = peft.LoraConfig(r=4, lora_alpha=8, target_modules=["query", "value", "word_embeddings"], task_type="SEQ_CLS")
    return peft.get_peft_model(tiny_bert(seed), config)


def batch(seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 100, (4, 8), generator=g), torch.tensor([0, 1, 0, 1])


def train_and_record(model, optimizer, scheduler, steps: int = T) -> list[list[float]]:
    """Real optimizer steps; the LR of every group before each step (the LR that step uses)."""
    x, y = batch()
    seen = []
    model.train()
    for _ in range(steps):
        seen.append([float(g["lr"]) for g in optimizer.param_groups])
        loss = model(input_ids=x, labels=y).loss
        loss.backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
    return seen


def names_by_group(model, groups) -> list[list[str]]:
    names = {id(p): n for n, p in model.named_parameters()}
    return [[names[id(p)] for p in g["params"]] for g in groups]


def depth(name: str) -> int:
    """0 = embeddings, i + 1 = encoder layer i, L + 1 = the rest (pooler, classifier)."""
    m = re.search(r"bert\.encoder\.layer\.(\d+)\.", name)
    if m:
        return int(m.group(1)) + 1
    return 0 if "bert.embeddings." in name else L + 1


# -- LoRA+ -------------------------------------------------------------------------------


def test_loraplus_b_groups_at_ratio_times_a_groups_at_every_step_of_warmupcosine():
    model = tiny_lora_bert()
    lr, ratio = 1e-3, 16.0
    groups = param_groups(model, lr=lr, loraplus_lr_ratio=ratio)
    by_group = names_by_group(model, groups)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert {n for names in by_group for n in names} == trainable
    b_names = {n for n in trainable if ".lora_B." in n or ".lora_embedding_B." in n}
    a_names = {n for n in trainable if ".lora_A." in n or ".lora_embedding_A." in n}
    assert len(b_names) == len(a_names) == 2 * L + 1  # query and value in each layer, and the embeddings
    assert any("lora_embedding_B" in n for n in b_names)
    # B matrices (and only they) sit in groups at ratio x lr; every group is all-B or all-non-B
    for g, names in zip(groups, by_group):
        is_b = {n in b_names for n in names}
        assert len(is_b) == 1, names
        assert g["lr"] == (lr * ratio if is_b == {True} else lr), g["name"]
        assert ("lora_B" in g["name"].split(".")) == (is_b == {True})
    optimizer = torch.optim.AdamW(groups)
    scheduler = hf_sched.get_scheduler("warmupcosine", optimizer, num_training_steps=T)
    f = Cosine(num_training_steps=T, num_warmup_steps=math.ceil(T / 10))
    a_groups = [i for i, names in enumerate(by_group) if set(names) & a_names]  # A beside the classifier weight
    b_groups = [i for i, names in enumerate(by_group) if set(names) <= b_names]
    assert a_groups and b_groups
    b_before = {n: p.detach().clone() for n, p in model.named_parameters() if n in b_names}
    seen = train_and_record(model, optimizer, scheduler)
    for s, lrs in enumerate(seen):
        for i in a_groups:
            assert lrs[i] == pytest.approx(lr * f(s), rel=1e-12, abs=0)
        for i in b_groups:
            assert lrs[i] == pytest.approx(ratio * lrs[a_groups[0]], rel=1e-12, abs=0), (s, groups[i]["name"])
    assert seen[1][b_groups[0]] > 0
    assert any(not torch.equal(p, b_before[n]) for n, p in model.named_parameters() if n in b_names)  # B trained


def test_loraplus_composes_with_layer_decay_and_no_decay():
    model = tiny_lora_bert()
    lr, ratio, d = 2e-3, 4.0, 0.5
    groups = param_groups(model, lr=lr, loraplus_lr_ratio=ratio, layer_decay=d, weight_decay=0.1)
    for g, names in zip(groups, names_by_group(model, groups)):
        for n in names:
            expected = lr * d ** (L + 1 - depth(n)) * (ratio if is_lora_b(n) else 1.0)
            assert g["lr"] == pytest.approx(expected, rel=1e-12), n
            assert g["weight_decay"] == (0.0 if n.endswith(".bias") else 0.1), n
    names = [g["name"] for g in groups]
    assert "embeddings.lora_B.decay" in names and "layer_1.lora_B.decay" in names and "head.no_decay" in names


# -- regex map + layer decay + no-decay --------------------------------------------------

MAPPING = {r"^classifier\.": 1e-2, r"\.pooler\.": "x3", r"attention\.self\.(query|key)\.": "x0.5"}


def expected_peak(name: str, lr: float, d: float) -> float:
    if name.startswith("classifier."):
        m = 1e-2
    elif ".pooler." in name:
        m = 3 * lr
    elif re.search(r"attention\.self\.(query|key)\.", name):
        m = 0.5 * lr
    else:
        m = lr
    return m * d ** (L + 1 - depth(name))


def is_no_decay(name: str) -> bool:
    return name.endswith(".bias") or "LayerNorm" in name


def test_regex_map_layer_decay_and_no_decay_every_group_every_step():
    model = tiny_bert()
    lr, d, wd = 1e-3, 0.8, 0.05
    groups = param_groups(model, lr=lr, weight_decay=wd, layer_decay=d, lr_mapping=MAPPING)
    by_group = names_by_group(model, groups)
    peaks = []
    for g, names in zip(groups, by_group):
        wanted = {expected_peak(n, lr, d) for n in names}
        assert len(wanted) == 1, (g["name"], names)
        peaks.append(wanted.pop())
        assert g["lr"] == pytest.approx(peaks[-1], rel=1e-12)
        assert {is_no_decay(n) for n in names} == {g["weight_decay"] == 0.0}
        assert g["weight_decay"] in (0.0, wd)
    assert len({(round(p, 15), g["weight_decay"]) for p, g in zip(peaks, groups)}) >= 8  # the rules made many peaks
    assert {"head.map[^classifier\\.].decay", "head.map[\\.pooler\\.].no_decay", "layer_0.map[attention\\.self\\.(query|key)\\.].decay"} <= {
        g["name"] for g in groups
    }
    optimizer = torch.optim.AdamW(groups)
    scheduler = hf_sched.get_scheduler("warmupcosine", optimizer, num_training_steps=T, num_warmup_steps=3)
    f = Cosine(num_training_steps=T, num_warmup_steps=3)
    for s, lrs in enumerate(train_and_record(model, optimizer, scheduler)):
        assert lrs == pytest.approx([p * f(s) for p in peaks], rel=1e-12, abs=0), s


def test_describe_shows_the_rules_of_each_group():
    model = tiny_lora_bert()
    groups = param_groups(model, lr=1e-3, layer_decay=0.9, loraplus_lr_ratio=16, lr_mapping={"classifier": "x10"})
    table = describe_param_groups(groups).splitlines()
    assert table[0].split()[-1] == "rules"
    row = {line.split()[0]: line for line in table[1:-1]}
    assert row["layer_0.lora_B.decay"].endswith("lr 0.001 * 0.9^2 (layer_decay, layer_0) * 16 (loraplus_lr_ratio, lora_B)")
    assert row["head.map[classifier].decay"].endswith("lr 0.001 * 10 (lr_mapping 'classifier') * 0.9^0 (layer_decay, head)")
    # an absolute LR in the map replaces the base LR
    plain = param_groups(tiny_bert(), lr=1e-3, lr_mapping='{"classifier": 0.02}')
    assert [(g["name"], g["lr"], g["rules"]) for g in plain if "map" in g["name"]] == [
        ("map[classifier].decay", 0.02, "0.02 (lr_mapping 'classifier')"),
        ("map[classifier].no_decay", 0.02, "0.02 (lr_mapping 'classifier')"),
    ]


def test_without_rules_the_groups_are_as_before():
    model = tiny_bert()
    assert [(g["name"], g.get("rules")) for g in param_groups(model, lr=1e-3)] == [("decay", None), ("no_decay", None)]
    assert param_groups(model, lr=1e-3, lr_mapping={}) == param_groups(model, lr=1e-3)


# -- the parser ----------------------------------------------------------------------------


def test_parse_lr_mapping_forms():
    assert parse_lr_mapping(None) == parse_lr_mapping("") == parse_lr_mapping({}) == ()
    assert parse_lr_mapping('{"a": 1e-3, "b": "x16", "c": "X0.5", "d": "*2"}') == (
        LRRule("a", 1e-3), LRRule("b", 16.0, True), LRRule("c", 0.5, True), LRRule("d", 2.0, True)
    )  # fmt: skip
    assert check_loraplus_ratio(None) is None and check_loraplus_ratio(2) == 2.0


# -- bad input: one clear line each ------------------------------------------------------


def one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_regex_that_matches_nothing():
    model = tiny_bert()
    with pytest.raises(ValueError) as exc:
        param_groups(model, lr=1e-3, lr_mapping={"clasifier": 1e-2})
    msg = one_line(exc)
    assert msg.startswith("lr_mapping regex 'clasifier' matches no trainable parameter: it matches none of the ")
    assert "trainable parameter names of BertForSequenceClassification ('bert.embeddings.word_embeddings.weight'" in msg


def test_regex_that_matches_only_frozen_parameters():
    model = tiny_lora_bert()  # the base model's LayerNorms are frozen under LoRA
    with pytest.raises(ValueError) as exc:
        param_groups(model, lr=1e-3, lr_mapping={"LayerNorm": 1e-2})
    assert one_line(exc).startswith(
        "lr_mapping regex 'LayerNorm' matches no trainable parameter: it matches only frozen parameters "
        "('base_model.model.bert.embeddings.LayerNorm.weight', "
    )
    assert one_line(exc).endswith(", ...; requires_grad=False)")


def test_two_regexes_for_one_parameter():
    with pytest.raises(ValueError) as exc:
        param_groups(tiny_bert(), lr=1e-3, lr_mapping={"classifier": 1e-2, "weight$": "x2"})
    assert one_line(exc) == (
        "lr_mapping gives parameter 'classifier.weight' two rules: 'classifier' and 'weight$' both match it; "
        "make the regexes exclusive (e.g. anchor them, or use a negative lookahead)"
    )


@pytest.mark.parametrize(
    "bad, message",
    [
        ('{"classifier": 1e-3', "lr_mapping='{\"classifier\": 1e-3' is not valid JSON (Expecting ',' delimiter at char 19)"),
        ("[1, 2]", "lr_mapping=[1, 2] is invalid: it must be a mapping (a JSON object) of regex -> LR"),
        ({"classifier": 0}, "lr_mapping['classifier']=0 is invalid: it must be an LR > 0"),
        ({"classifier": -1e-3}, "lr_mapping['classifier']=-0.001 is invalid: it must be an LR > 0"),
        ({"classifier": float("nan")}, "lr_mapping['classifier']=nan is invalid: it must be an LR > 0"),
        ({"classifier": "x0"}, "lr_mapping['classifier']='x0' is invalid: it must be an LR > 0"),
        ({"classifier": "xinf"}, "lr_mapping['classifier']='xinf' is invalid: it must be an LR > 0"),
        ({"classifier": "fast"}, "lr_mapping['classifier']='fast' is invalid: it must be an LR > 0"),
        ({"classifier": True}, "lr_mapping['classifier']=True is invalid: it must be an LR > 0"),
        ({"(classifier": 1e-3}, "lr_mapping key '(classifier' is not a valid regular expression: missing ), unterminated"),
        ({"": 1e-3}, "lr_mapping key '' is invalid: keys are non-empty regular expressions on parameter names"),
    ],
)
def test_bad_map(bad, message):
    with pytest.raises(ValueError) as exc:
        param_groups(tiny_bert(), lr=1e-3, lr_mapping=bad)
    assert one_line(exc).startswith(message)


@pytest.mark.parametrize("bad", [0, -16, float("nan"), float("inf"), "16", True])
def test_loraplus_ratio_not_a_finite_positive_number(bad):
    with pytest.raises(ValueError) as exc:
        param_groups(tiny_lora_bert(), lr=1e-3, loraplus_lr_ratio=bad)
    assert one_line(exc) == (
        f"loraplus_lr_ratio={bad!r} is invalid: it must be a finite number > 0 (the LR of LoRA's B matrices over "
        "the A matrices', e.g. 16), or None"
    )


def test_loraplus_on_a_model_without_lora():
    with pytest.raises(ValueError) as exc:
        param_groups(tiny_bert(), lr=1e-3, loraplus_lr_ratio=16)
    assert one_line(exc).startswith(
        "loraplus_lr_ratio=16 needs LoRA B matrices (parameters named lora_B / lora_embedding_B, as peft.get_peft_model "
        "makes), but BertForSequenceClassification has none among its "
    )


@pytest.mark.parametrize("kw", [{"lr_mapping": {"classifier": "x2"}}, {"loraplus_lr_ratio": 16}])
def test_rules_need_the_base_lr(kw):
    model = tiny_lora_bert()
    with pytest.raises(ValueError, match=r"^(lr_mapping|loraplus_lr_ratio)=.* needs the base learning rate: pass lr=<float>"):
        param_groups(model, **kw)


# -- the docs' example runs as written ----------------------------------------------------


def test_docs_loraplus_example_runs(tmp_path):
    """docs/param_groups.md's plain-loop LoRA+ block, as it stands, on the offline MiniLM."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "param_groups.md").read_text()
    section = doc.split("### LoRA+ in a plain loop (runnable)", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    table = {line.split()[0]: float(line.split()[3]) for line in lines if line.startswith(("decay", "no_decay", "lora_B", "map["))}
    assert table == {"decay": 2e-4, "lora_B.decay": 16 * 2e-4, "map[classifier].decay": 1e-4, "map[classifier].no_decay": 1e-4}
    steps = [line.split() for line in lines if line[:1].isdigit()]
    assert [int(s[0]) for s in steps] == list(range(6))
    assert all(math.isfinite(float(s[1])) for s in steps)
