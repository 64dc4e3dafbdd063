"""LR rules on parameter names: a regex map (``{regex: lr}`` or ``{regex: "x16"}``) and LoRA+.

:func:`hf_sched.optim.param_groups` composes these with no-decay and layer decay. For a
trainable parameter named ``n`` with base LR ``lr``::

    lr(n) = m(n) * d ** (L + 1 - k(n)) * (r if n is a LoRA B matrix else 1)

    m(n) = v            the regex map's value v, when one regex matches n (re.search)
         = lr * x       a multiplier "x<x>" from the map
         = lr           when no regex matches
    d, k(n), L          layer decay, the parameter's depth, the number of layers (1 without layer decay)
    r                   loraplus_lr_ratio (LoRA+, Hayou et al. 2024): PEFT's lora_B / lora_embedding_B

A regex matches a name as in sentence-transformers' ``learning_rate_mapping`` (``re.search``:
anywhere in the name). Each parameter takes at most one regex: two regexes that match one
parameter are refused (naming both), and so is a regex that matches no trainable parameter.

>>> rules = parse_lr_mapping('{"classifier": 1e-3, "pooler": "x2"}')
>>> [(r.pattern, r.lr(2e-5)) for r in rules]
[('classifier', 0.001), ('pooler', 4e-05)]
>>> is_lora_b("base_model.model.bert.encoder.layer.0.attention.self.query.lora_B.default.weight")
True
"""

from __future__ import annotations

import json
import math
import numbers
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

__all__ = [
    "LORA_B_NAMES",
    "LRRule",
    "parse_lr_mapping",
    "check_loraplus_ratio",
    "is_lora_b",
    "match_lr_rules",
]

#: Module names PEFT gives LoRA's B matrices (linear layers, embeddings): LoRA+ raises their LR.
LORA_B_NAMES: tuple[str, ...] = ("lora_B", "lora_embedding_B")

_ALLOWED_VALUE = "an LR > 0 (a finite number such as 1e-3) or a multiplier of the base LR such as \"x16\" or \"x0.5\""
_EXAMPLE = "'{\"classifier\": 1e-3, \"lora_B\": \"x16\"}'"


@dataclass(frozen=True)
class LRRule:
    """One entry of a regex map: ``pattern`` -> an absolute LR, or ``multiplier`` x the base LR.

    >>> LRRule("classifier", 1e-3).lr(2e-5), LRRule("pooler", 2.0, multiplier=True).lr(2e-5)
    (0.001, 4e-05)
    >>> LRRule("pooler", 2.0, multiplier=True).describe(2e-5)
    "lr 2e-05 * 2 (lr_mapping 'pooler')"
    """

    pattern: str
    value: float
    multiplier: bool = False

    def lr(self, base: float) -> float:
        """The LR this rule gives a parameter: ``value``, or ``base * value`` for a multiplier."""
        return base * self.value if self.multiplier else self.value

    def spelling(self) -> float | str:
        """The map value this rule reads back as: the LR, or ``"x<f>"``.

        >>> LRRule("pooler", 2.0, multiplier=True).spelling(), LRRule("classifier", 1e-3).spelling()
        ('x2', 0.001)
        """
        if not self.multiplier:
            return self.value
        text = repr(self.value)  # exact, read back as the same float
        return "x" + (text[:-2] if text.endswith(".0") else text)

    def describe(self, base: float) -> str:
        """How the LR this rule gives reads in :func:`hf_sched.optim.describe_param_groups`."""
        return (f"lr {base:g} * " if self.multiplier else "") + f"{self.value:g} (lr_mapping {self.pattern!r})"


def _parse_value(param: str, pattern: str, value: Any) -> LRRule:
    where = f"{param}[{pattern!r}]"
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in ("x", "X", "*") and len(text) > 1:
            try:
                factor = float(text[1:])
            except ValueError:
                factor = math.nan
            if math.isfinite(factor) and factor > 0:
                return LRRule(pattern, factor, multiplier=True)
        raise ValueError(f"{where}={value!r} is invalid: it must be {_ALLOWED_VALUE}")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{where}={value!r} is invalid: it must be {_ALLOWED_VALUE}, not a {type(value).__name__}")
    if not (math.isfinite(float(value)) and float(value) > 0):
        raise ValueError(f"{where}={value!r} is invalid: it must be {_ALLOWED_VALUE}")
    return LRRule(pattern, float(value))


def parse_lr_mapping(value: Any, *, param: str = "lr_mapping") -> tuple[LRRule, ...]:
    """A regex map (dict, or JSON object string) -> its :class:`LRRule` s, in the map's order.

    Keys are regular expressions on parameter names (``re.search``); values an LR ``> 0``
    or ``"x<factor>"`` (a multiplier of the base LR, factor ``> 0``). ``None``, ``{}`` and
    an empty string give no rules. Every bad entry raises ``ValueError`` naming ``param``.

    >>> parse_lr_mapping({"classifier": 1e-3})
    (LRRule(pattern='classifier', value=0.001, multiplier=False),)
    >>> parse_lr_mapping('{"classifier": 1e-3')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: lr_mapping='{"classifier": 1e-3' is not valid JSON (Expecting ',' delimiter at char 19): ...
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return ()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{param}={value!r} is not valid JSON ({exc.msg} at char {exc.pos}): give a JSON object of "
                f"regex -> LR, e.g. {_EXAMPLE}"
            ) from None
    if not isinstance(value, Mapping):
        raise ValueError(
            f"{param}={value!r} is invalid: it must be a mapping (a JSON object) of regex -> LR, e.g. {_EXAMPLE}"
        )
    rules = []
    for pattern, lr in value.items():
        if not isinstance(pattern, str) or not pattern:
            raise ValueError(f"{param} key {pattern!r} is invalid: keys are non-empty regular expressions on parameter names")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"{param} key {pattern!r} is not a valid regular expression: {exc}") from None
        rules.append(_parse_value(param, pattern, lr))
    return tuple(rules)


def check_loraplus_ratio(value: Any, *, param: str = "loraplus_lr_ratio") -> float | None:
    """``None`` (no LoRA+), or the LoRA+ ratio as a finite float ``> 0``.

    >>> check_loraplus_ratio(16)
    16.0
    >>> check_loraplus_ratio(0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: loraplus_lr_ratio=0 is invalid: it must be a finite number > 0 (the LR of LoRA's B matrices ...
    """
    if value is None:
        return None
    allowed = "a finite number > 0 (the LR of LoRA's B matrices over the A matrices', e.g. 16), or None"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{param}={value!r} is invalid: it must be {allowed}")
    ratio = float(value)
    if not (math.isfinite(ratio) and ratio > 0):
        raise ValueError(f"{param}={value!r} is invalid: it must be {allowed}")
    return ratio


def is_lora_b(name: str) -> bool:
    """True for a LoRA B matrix: a dotted part of ``name`` is ``lora_B`` or ``lora_embedding_B`` (PEFT's names).

    >>> is_lora_b("q.lora_A.default.weight"), is_lora_b("emb.lora_embedding_B.default")
    (False, True)
    """
    return any(part in LORA_B_NAMES for part in name.split("."))


def _examples(names: Sequence[str], k: int = 3) -> str:
    shown = ", ".join(repr(n) for n in names[:k])
    return shown + (", ..." if len(names) > k else "")


def match_lr_rules(
    rules: Sequence[LRRule],
    names: Sequence[str],
    *,
    frozen: Sequence[str] = (),
    model_name: str = "the model",
    param: str = "lr_mapping",
) -> list[LRRule | None]:
    """The rule of each name (``None``: no rule), refusing a rule that matches nothing and a name two rules match.

    ``names`` are the trainable parameters' names; ``frozen`` the others (only to say, when a
    rule matches none of ``names``, that it matched frozen ones).

    >>> rules = parse_lr_mapping({"classifier": 1e-3})
    >>> match_lr_rules(rules, ["bert.pooler.dense.weight", "classifier.weight"])
    [None, LRRule(pattern='classifier', value=0.001, multiplier=False)]
    """
    compiled = [(rule, re.compile(rule.pattern)) for rule in rules]
    out: list[LRRule | None] = []
    hits: dict[str, int] = {rule.pattern: 0 for rule in rules}
    for name in names:
        found = [rule for rule, rx in compiled if rx.search(name)]
        if len(found) > 1:
            raise ValueError(
                f"{param} gives parameter {name!r} two rules: {found[0].pattern!r} and {found[1].pattern!r} both match "
                "it; make the regexes exclusive (e.g. anchor them, or use a negative lookahead)"
            )
        for rule in found:
            hits[rule.pattern] += 1
        out.append(found[0] if found else None)
    for rule, rx in compiled:
        if hits[rule.pattern]:
            continue
        frozen_hits = [n for n in frozen if rx.search(n)]
        why = (
            f"it matches only frozen parameters ({_examples(frozen_hits)}; requires_grad=False)"
            if frozen_hits
            else f"it matches none of the {len(names)} trainable parameter names of {model_name} ({_examples(list(names))})"
        )
        raise ValueError(f"{param} regex {rule.pattern!r} matches no trainable parameter: {why}")
    return out
