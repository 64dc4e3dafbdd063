"""Optimizer param groups for fine-tuning BERT-style models.

:func:`param_groups` turns a model into a list of optimizer param groups that

* put every trainable parameter in exactly one group (frozen ones are left out);
* exempt normalization layers and biases from weight decay, found by **module type**
  (``nn.LayerNorm``, ``nn.GroupNorm``, batch/instance norms, ``nn.RMSNorm`` and any class
  whose name ends in ``Norm``, such as ``DebertaLayerNorm`` or ``LlamaRMSNorm``) and by
  **name** (a parameter called ``bias`` or ``*_bias``, plus the ``no_decay`` substrings), as
  BERT's reference ``AdamWeightDecay`` does by name only;
* with ``layer_decay = d``, decay the peak LR layer by layer from the head down
  (Sun et al. 2019, "How to Fine-Tune BERT for Text Classification?")::

      embeddings            lr * d ** (L + 1)
      encoder layer i       lr * d ** (L - i)        i = 0 .. L-1 (0 = closest to the input)
      head (pooler, ...)    lr

  where ``L`` is the number of encoder layers, found from the model's modules.

Each group carries its own ``lr``, so :class:`~hf_sched.lr_scheduler.ScheduledLR` (which
writes ``lr_g(s) = lr_g * f(s)`` for every group) composes with any schedule::

    groups = param_groups(model, weight_decay=0.01, layer_decay=0.9, lr=2e-5, report=True)
    optimizer = torch.optim.AdamW(groups)
    scheduler = hf_sched.get_scheduler("warmuplinear", optimizer, num_training_steps=1000)

>>> import torch
>>> model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
>>> [(g["name"], len(g["params"]), g["weight_decay"]) for g in param_groups(model)]
[('decay', 1, 0.01), ('no_decay', 3, 0.0)]
"""

from __future__ import annotations

import logging
import math
import numbers
import re
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

from .checks import check_float
from .lr_rules import LORA_B_NAMES, check_loraplus_ratio, is_lora_b, match_lr_rules, parse_lr_mapping

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "DEFAULT_NO_DECAY",
    "LAYER_PATHS",
    "param_groups",
    "describe_param_groups",
    "layer_id_for",
    "find_layers",
    "is_norm_module",
]

logger = logging.getLogger(__name__)

#: Name substrings exempt from weight decay by default (BERT's reference list, plus the
#: ``layer_norm`` spelling and ``LayerNorm.bias`` for readability).
DEFAULT_NO_DECAY: tuple[str, ...] = ("bias", "LayerNorm.weight", "layer_norm.weight", "LayerNorm.bias")

#: Where the stack of encoder layers lives, relative to ``model.base_model``, tried in
#: order: BERT / RoBERTa / ELECTRA / DeBERTa(-v2) / XLM-R use ``encoder.layer``, DistilBERT
#: ``transformer.layer``; the others cover BART/T5-style encoders and GPT-style stacks.
LAYER_PATHS: tuple[str, ...] = (
    "encoder.layer",
    "transformer.layer",
    "encoder.layers",
    "layers",
    "layer",
    "h",
    "encoder.block",
    "block",
)

# config attributes that hold the number of layers, tried in order
_NUM_LAYER_ATTRS = ("num_hidden_layers", "n_layers", "num_layers", "n_layer")
_NORM_CLASS_NAME = re.compile(r"Norm(alization)?(\d[dD])?$")
_LAYER_INDEX = re.compile(r"(?:^|\.)(?:layer|layers|h|block|blocks)\.(\d+)(?:\.|$)")


def is_norm_module(module: "torch.nn.Module") -> bool:
    """True for a normalization layer, whose own parameters are never weight-decayed.

    Any ``nn.LayerNorm``, ``nn.GroupNorm``, batch / instance norm, ``nn.RMSNorm``,
    ``nn.LocalResponseNorm``, and any class whose name ends in ``Norm`` / ``Normalization``
    (optionally ``1d``/``2d``/``3d``): ``DebertaLayerNorm``, ``T5LayerNorm``, ``LlamaRMSNorm``.

    >>> import torch
    >>> is_norm_module(torch.nn.LayerNorm(4)), is_norm_module(torch.nn.Linear(4, 4))
    (True, False)
    """
    import torch.nn as nn

    types: tuple[type, ...] = (nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm, nn.modules.batchnorm._NormBase)
    if hasattr(nn, "RMSNorm"):
        types = (*types, nn.RMSNorm)
    if isinstance(module, types):
        return True
    return any(_NORM_CLASS_NAME.search(cls.__name__) for cls in type(module).__mro__ if cls is not object)


def _is_bias_name(leaf: str) -> bool:
    return leaf == "bias" or leaf.endswith("_bias") or leaf.startswith("bias_")


def layer_id_for(name: str, num_layers: int, *, layers_prefix: str | None = None) -> int:
    """Depth of a parameter from its name: 0 = embeddings, ``i + 1`` = layer ``i``, ``L + 1`` = head.

    With ``layers_prefix`` (the dotted path of the layer stack, e.g. ``"bert.encoder.layer"``)
    a name ``"<prefix>.<i>. ..."`` is layer ``i``; without it any ``.layer.<i>.``,
    ``.layers.<i>.``, ``.h.<i>.``, ``.block.<i>.`` in the name counts. Otherwise a name with
    a part that contains ``embed`` is the embeddings (0), and everything else the head
    (``L + 1``). :func:`param_groups` uses the model's structure instead (it also puts
    parameters registered before the first layer with the embeddings); this helper is for
    building your own groups from names. The LR of depth ``k`` under layer decay ``d`` is
    ``lr * d ** (L + 1 - k)``.

    >>> [layer_id_for(n, 12) for n in ("bert.embeddings.word_embeddings.weight",
    ...     "bert.encoder.layer.0.output.dense.weight", "bert.encoder.layer.11.output.dense.bias",
    ...     "bert.pooler.dense.weight", "classifier.weight")]
    [0, 1, 12, 13, 13]
    """
    if isinstance(num_layers, bool) or not isinstance(num_layers, numbers.Integral) or num_layers < 1:
        raise ValueError(f"num_layers must be an integer >= 1, got {num_layers!r}")
    index: int | None = None
    if layers_prefix is not None:
        prefix = layers_prefix.rstrip(".") + "."
        if name.startswith(prefix):
            head = name[len(prefix):].split(".", 1)[0]
            if not head.isdigit():
                raise ValueError(
                    f"name {name!r} is under layers_prefix {layers_prefix!r} but has no layer index after it"
                )
            index = int(head)
    else:
        m = _LAYER_INDEX.search(name)
        if m:
            index = int(m.group(1))
    if index is not None:
        if index >= num_layers:
            raise ValueError(
                f"name {name!r} is in layer {index}, but num_layers={num_layers} (layers 0..{num_layers - 1})"
            )
        return index + 1
    if any("embed" in part.lower() for part in name.split(".")[:-1]):
        return 0
    return int(num_layers) + 1


def _num_layers_from_config(model: Any) -> tuple[int | None, str | None]:
    config = getattr(model, "config", None)
    if config is None:
        return None, None
    for attr in _NUM_LAYER_ATTRS:
        value = getattr(config, attr, None)
        if isinstance(value, numbers.Integral) and not isinstance(value, bool) and int(value) > 0:
            return int(value), attr
    return None, None


def _base_model(model: "torch.nn.Module") -> tuple["torch.nn.Module", str]:
    """``model.base_model`` and its dotted path inside ``model`` ("" for the model itself)."""
    import torch.nn as nn

    base = getattr(model, "base_model", None)
    if not isinstance(base, nn.Module) or base is model:
        return model, ""
    for path, module in model.named_modules():
        if module is base:
            return base, path
    return model, ""


def _get_submodule(root: "torch.nn.Module", path: str) -> Any:
    module: Any = root
    for part in path.split("."):
        module = getattr(module, part, None) if part else module
        if module is None:
            return None
    return module


def find_layers(model: "torch.nn.Module") -> tuple["torch.nn.ModuleList", str]:
    """The model's stack of encoder layers and its dotted path inside ``model``.

    Looks, in order, at the :data:`LAYER_PATHS` under ``model.base_model`` (taken when it is
    an ``nn.ModuleList`` whose length matches the config's layer count, if the config has
    one), then for the first ``nn.ModuleList`` of length ``config.num_hidden_layers`` (or
    ``n_layers`` / ``num_layers`` / ``n_layer``) in the base model, then in the whole model.
    A model without a config (a sentence-transformers loss or model wrapping a Hugging Face
    model) is searched in its first submodule that has one.
    Raises ``ValueError`` naming the model class and what was looked for.

    >>> import torch
    >>> class Tiny(torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.encoder = torch.nn.Module()
    ...         self.encoder.layer = torch.nn.ModuleList(torch.nn.Linear(2, 2) for _ in range(3))
    >>> layers, path = find_layers(Tiny())
    >>> len(layers), path
    (3, 'encoder.layer')
    """
    import torch.nn as nn

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    base, base_path = _base_model(model)
    expected, attr = _num_layers_from_config(model)

    def full(path: str) -> str:
        return f"{base_path}.{path}" if base_path and path else (base_path or path)

    for path in LAYER_PATHS:
        module = _get_submodule(base, path)
        if isinstance(module, nn.ModuleList) and len(module) > 0 and (expected is None or len(module) == expected):
            return module, full(path)
    if expected is not None:
        for root, root_path in ((base, base_path), (model, "")):
            for path, module in root.named_modules():
                if isinstance(module, nn.ModuleList) and len(module) == expected:
                    return module, (f"{root_path}.{path}" if root_path and path else (root_path or path))
    if expected is None:  # a wrapper without a config (a loss module, a SentenceTransformer): the first model inside
        for path, module in model.named_modules():
            if module is not model and _num_layers_from_config(module)[0] is not None:
                inner, inner_path = find_layers(module)
                return inner, f"{path}.{inner_path}" if inner_path else path
    where = f"model.{base_path}" if base_path else "the model"
    count = f"config.{attr}={expected}" if expected is not None else "no config with num_hidden_layers / n_layers"
    raise ValueError(
        f"layer_decay needs the model's stack of layers, but none was found in {type(model).__name__}: "
        f"looked for an nn.ModuleList at {', '.join(LAYER_PATHS)} under {where}, and for any nn.ModuleList "
        f"whose length equals the layer count ({count}). Pass layers=<the nn.ModuleList of layers> "
        "(or its dotted path), or use layer_decay=None"
    )


def _check_no_decay(no_decay: Any) -> tuple[str, ...]:
    if isinstance(no_decay, str):
        raise TypeError(
            f"no_decay must be a sequence of name substrings such as ('bias', 'LayerNorm.weight'), "
            f"got the single string {no_decay!r}; wrap it: ({no_decay!r},)"
        )
    try:
        patterns = tuple(no_decay)
    except TypeError:
        raise TypeError(
            f"no_decay must be a sequence of name substrings, got {no_decay!r} ({type(no_decay).__name__})"
        ) from None
    for p in patterns:
        if not isinstance(p, str) or not p:
            raise TypeError(f"no_decay must hold non-empty strings, got {p!r} in {patterns!r}")
    return patterns


def _check_layer_decay(layer_decay: Any) -> float:
    allowed = "a number in (0, 1] (the LR factor per layer, e.g. 0.9; 1 = no decay)"
    if isinstance(layer_decay, bool) or not isinstance(layer_decay, numbers.Real):
        raise TypeError(f"layer_decay must be {allowed} or None, got {layer_decay!r} ({type(layer_decay).__name__})")
    d = float(layer_decay)
    if not (math.isfinite(d) and 0.0 < d <= 1.0):
        raise ValueError(f"layer_decay must be {allowed}, got {layer_decay!r}")
    return d


def _resolve_layers(model: "torch.nn.Module", layers: Any) -> tuple[Any, str]:
    import torch.nn as nn

    if layers is None:
        return find_layers(model)
    if isinstance(layers, str):
        module = _get_submodule(model, layers)
        if not isinstance(module, nn.ModuleList) or len(module) == 0:
            got = "nothing" if module is None else f"a {type(module).__name__}"
            raise ValueError(
                f"layers={layers!r} must name a non-empty nn.ModuleList inside {type(model).__name__}, found {got}"
            )
        return module, layers
    if isinstance(layers, nn.ModuleList) and len(layers) > 0:
        for path, module in model.named_modules():
            if module is layers:
                return layers, path
        raise ValueError(f"layers (an nn.ModuleList of {len(layers)}) is not a submodule of {type(model).__name__}")
    raise TypeError(
        f"layers must be None, a non-empty nn.ModuleList inside the model or its dotted path, got {layers!r}"
    )


def param_groups(
    model: "torch.nn.Module",
    weight_decay: float = 0.01,
    no_decay: Iterable[str] = DEFAULT_NO_DECAY,
    layer_decay: float | None = None,
    lr: float | None = None,
    *,
    lr_mapping: "Mapping[str, float | str] | str | None" = None,
    loraplus_lr_ratio: float | None = None,
    layers: "torch.nn.ModuleList | str | None" = None,
    report: bool | Callable[[str], Any] = False,
) -> list[dict[str, Any]]:
    """Optimizer param groups: no decay for norms and biases; LRs by layer, regex map and LoRA+.

    A trainable parameter is **no-decay** (``weight_decay=0.0``) when it belongs directly to a
    normalization module (:func:`is_norm_module`), is called ``bias`` / ``*_bias``
    (DeBERTa's ``q_bias``), or its full name contains one of the ``no_decay`` substrings;
    every other trainable parameter gets ``weight_decay``. Parameters with
    ``requires_grad=False`` are left out; a parameter shared by several modules appears once.

    With ``layer_decay = d`` (in ``(0, 1]``) and ``L`` encoder layers (:func:`find_layers`,
    or ``layers=``), each group's ``lr`` is ``lr * d ** (L + 1 - k)`` for depth ``k``:

    * ``k = 0``, embeddings: base-model parameters registered before the first layer, or whose
      module path contains ``embed`` (ELECTRA's ``embeddings_project``, DeBERTa's
      ``encoder.rel_embeddings``): ``lr * d ** (L + 1)``;
    * ``k = i + 1``, layer ``i`` (0-based, input side first): ``lr * d ** (L - i)``;
    * ``k = L + 1``, the rest (pooler, classifier, final norms): ``lr``.

    The LR rules compose (:mod:`hf_sched.lr_rules`): a parameter named ``n`` at depth ``k`` gets::

        lr(n) = m(n) * d ** (L + 1 - k) * (loraplus_lr_ratio if n is a LoRA B matrix else 1)

    where ``m(n)`` is the ``lr_mapping`` value of the one regex that matches ``n``
    (``re.search``; an LR, or ``"x<f>"`` for ``lr * f``), or ``lr`` when none does; the
    layer factor is 1 without ``layer_decay``; LoRA B matrices are PEFT's ``lora_B`` /
    ``lora_embedding_B`` (the LoRA+ rule: B at ``ratio`` times A's LR). Weight decay is
    decided apart, by the no-decay rule. A parameter in a regex's, LoRA+'s or a layer's
    group never shares a group with one outside it, so each group has one ``lr`` and one
    ``weight_decay``, and the scheduler (``lr_g(s) = lr_g * f(s)``) keeps every group's own
    peak under one warmup/decay shape. Refused, in one line each: a regex that matches no
    trainable parameter, a parameter two regexes match, a LoRA+ ratio on a model without
    LoRA B matrices, a ratio or map value that is not a finite number ``> 0``.

    Groups come in that order (embeddings, layer_0, ..., head), then by regex (in the map's
    order, unmatched first), LoRA B after the rest, ``decay`` before ``no_decay``; empty
    groups are dropped. Each is a dict with ``params``, ``weight_decay``, ``name``
    (``"decay"`` / ``"no_decay"``; with rules ``"layer_3.decay"``, ``"head.map[classifier].decay"``,
    ``"layer_0.lora_B.decay"``) and, when ``lr`` is given, ``lr``; with layer decay also
    ``layer_id`` (``k``) and ``lr_scale`` (``d ** (L + 1 - k)``); with any LR rule ``rules``
    (how its ``lr`` was made, shown by :func:`describe_param_groups`). torch optimizers keep
    the extra keys.

    Args:
        model: the model (any ``nn.Module``; Hugging Face models are searched for layers).
        weight_decay: decoupled weight decay of the decay groups, ``>= 0``.
        no_decay: name substrings exempt from decay, on top of the module-type rule.
        layer_decay: LR factor per layer in ``(0, 1]``, or ``None`` for no layer decay.
        lr: peak (base) LR; required with any LR rule; without it groups carry no ``lr``
            (the optimizer's default applies).
        lr_mapping: ``{regex: lr}`` or ``{regex: "x<factor>"}`` (a dict or a JSON object string),
            as sentence-transformers' ``learning_rate_mapping``.
        loraplus_lr_ratio: LoRA+ ratio ``> 0`` for PEFT LoRA B matrices (the paper suggests 16).
        layers: the layer stack (``nn.ModuleList`` or dotted path) when it cannot be found.
        report: ``True`` prints :func:`describe_param_groups`; a callable (``logger.info``)
            receives it instead.

    >>> import torch
    >>> class Tiny(torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.embeddings = torch.nn.Embedding(10, 4)
    ...         self.layers = torch.nn.ModuleList(torch.nn.Linear(4, 4) for _ in range(2))
    ...         self.head = torch.nn.Linear(4, 2)
    >>> groups = param_groups(Tiny(), layer_decay=0.5, lr=1.0)
    >>> [(g["name"], g["lr"]) for g in groups]  # doctest: +NORMALIZE_WHITESPACE
    [('embeddings.decay', 0.125), ('layer_0.decay', 0.25), ('layer_0.no_decay', 0.25),
     ('layer_1.decay', 0.5), ('layer_1.no_decay', 0.5), ('head.decay', 1.0), ('head.no_decay', 1.0)]
    >>> optimizer = torch.optim.AdamW(groups)
    """
    import torch.nn as nn

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    weight_decay = check_float("weight_decay", weight_decay, minimum=0.0)
    patterns = _check_no_decay(no_decay)
    decay_rate = None if layer_decay is None else _check_layer_decay(layer_decay)
    if lr is not None:
        lr = check_float("lr", lr, minimum=0.0, min_inclusive=False)
    if decay_rate is not None and lr is None:
        raise ValueError(
            f"layer_decay={layer_decay!r} needs the peak learning rate: pass lr=<float> (e.g. lr=2e-5), "
            "the LR of the head; layer i then gets lr * layer_decay ** (L - i)"
        )
    rules = parse_lr_mapping(lr_mapping)
    ratio = check_loraplus_ratio(loraplus_lr_ratio)
    for given, what in ((rules, f"lr_mapping={lr_mapping!r}"), (ratio, f"loraplus_lr_ratio={loraplus_lr_ratio!r}")):
        if given and lr is None:
            raise ValueError(f"{what} needs the base learning rate: pass lr=<float> (e.g. lr=2e-5)")
    if not (report is False or report is True or callable(report)):
        raise TypeError(f"report must be True, False or a callable taking a string, got {report!r}")

    # Parameters owned directly by normalization modules (by identity: shared ones count too).
    norm_params: set[int] = set()
    for module in model.modules():
        if is_norm_module(module):
            norm_params.update(id(p) for p in module.parameters(recurse=False))

    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not named:
        raise ValueError(
            f"{type(model).__name__} has no trainable parameters (all have requires_grad=False): "
            "nothing to put in param groups"
        )
    rule_of = match_lr_rules(
        rules,
        [n for n, _ in named],
        frozen=[n for n, p in model.named_parameters() if not p.requires_grad],
        model_name=type(model).__name__,
    )
    rule_index = {rule.pattern: i for i, rule in enumerate(rules)}
    lora_b = [ratio is not None and is_lora_b(n) for n, _ in named]
    if ratio is not None and not any(lora_b):
        raise ValueError(
            f"loraplus_lr_ratio={loraplus_lr_ratio!r} needs LoRA B matrices (parameters named "
            f"{' / '.join(LORA_B_NAMES)}, as peft.get_peft_model makes), but {type(model).__name__} has none among "
            f"its {len(named)} trainable parameters; wrap the model with a peft LoraConfig or leave loraplus_lr_ratio unset"
        )

    def is_no_decay(name: str, p: Any) -> bool:
        leaf = name.rsplit(".", 1)[-1]
        return id(p) in norm_params or _is_bias_name(leaf) or any(s in name for s in patterns)

    # depth of each parameter: 0 (embeddings) .. L + 1 (head); None without layer decay
    depth: dict[int, int] = {}
    num_layers = 0
    if decay_rate is not None:
        stack, stack_path = _resolve_layers(model, layers)
        num_layers = len(stack)
        for i, block in enumerate(stack):
            for p in block.parameters():
                depth.setdefault(id(p), i + 1)
        base, base_path = _base_model(model)
        in_base = {id(p) for p in base.parameters()}
        before_first_layer = True
        for name, p in model.named_parameters():
            if id(p) in depth:
                before_first_layer = False
                continue
            if id(p) not in in_base:
                depth[id(p)] = num_layers + 1
                continue
            module_path = name.rsplit(".", 1)[0] if "." in name else ""
            embed = any("embed" in part.lower() for part in module_path.split("."))
            depth[id(p)] = 0 if (before_first_layer or embed) else num_layers + 1
        logger.debug("layer decay over %d layers found at %r", num_layers, stack_path)

    # one bucket per combination of rules: (depth, regex index or -1, LoRA B, no decay)
    buckets: dict[tuple[int, int, bool, bool], list[Any]] = {}
    for (name, p), rule, is_b in zip(named, rule_of, lora_b):
        key = (depth.get(id(p), 0), -1 if rule is None else rule_index[rule.pattern], is_b, is_no_decay(name, p))
        buckets.setdefault(key, []).append(p)

    groups: list[dict[str, Any]] = []
    for key in sorted(buckets):
        k, r, is_b, nd = key
        group: dict[str, Any] = {"params": buckets[key], "weight_decay": 0.0 if nd else weight_decay}
        parts: list[str] = []
        made: list[str] = []  # how the group's lr is made, for describe_param_groups
        group_lr = 0.0 if lr is None else (lr if r < 0 else rules[r].lr(lr))
        if lr is not None:
            made.append(f"lr {lr:g}" if r < 0 else rules[r].describe(lr))
        if decay_rate is not None:
            part = "embeddings" if k == 0 else ("head" if k == num_layers + 1 else f"layer_{k - 1}")
            scale = decay_rate ** (num_layers + 1 - k)
            parts.append(part)
            group_lr *= scale
            made.append(f"{decay_rate:g}^{num_layers + 1 - k} (layer_decay, {part})")
            group["layer_id"] = k
            group["lr_scale"] = scale
        if r >= 0:
            parts.append(f"map[{rules[r].pattern}]")
        if is_b:
            parts.append("lora_B")
            group_lr *= ratio  # type: ignore[operator]
            made.append(f"{ratio:g} (loraplus_lr_ratio, lora_B)")
        if lr is not None:
            group["lr"] = group_lr
        parts.append("no_decay" if nd else "decay")
        group["name"] = ".".join(parts)
        if decay_rate is not None or rules or ratio is not None:
            group["rules"] = " * ".join(made)
        groups.append(group)

    if report:
        table = describe_param_groups(groups)
        if report is True:
            print(table)
        else:
            report(table)
    return groups


def describe_param_groups(groups: "Sequence[Mapping[str, Any]] | torch.optim.Optimizer") -> str:
    """A text table of param groups: name, tensors, parameters (elements), lr, weight decay, rules.

    Accepts the list from :func:`param_groups` or an optimizer (its ``param_groups``).
    A group without ``lr`` shows ``default``; without ``name``, its index. The ``rules``
    column (how each ``lr`` was made: base LR or regex, layer factor, LoRA+ ratio) appears
    when a group has ``rules``, as :func:`param_groups` gives with any LR rule.

    >>> import torch
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
    >>> print(describe_param_groups(param_groups(model, lr=1e-3)))
    group     tensors  params  lr     weight_decay
    decay           1      16  0.001  0.01
    no_decay        3      12  0.001  0
    total           4      28
    """
    if hasattr(groups, "param_groups") and not isinstance(groups, (list, tuple)):
        groups = groups.param_groups
    if isinstance(groups, (str, bytes)) or not isinstance(groups, Sequence):
        raise TypeError(f"groups must be a list of param-group dicts or an optimizer, got {type(groups).__name__}")
    rows = [("group", "tensors", "params", "lr", "weight_decay", "rules")]
    total_t = total_n = 0
    for i, g in enumerate(groups):
        if not isinstance(g, Mapping) or "params" not in g:
            raise TypeError(f"groups[{i}] must be a dict with a 'params' key, got {g!r:.80}")
        params = list(g["params"])
        numel = sum(int(p.numel()) for p in params)
        total_t += len(params)
        total_n += numel
        lr = g.get("lr")
        lr_s = "default" if lr is None else f"{float(lr):.4g}"
        wd = g.get("weight_decay")
        wd_s = "default" if wd is None else f"{float(wd):.4g}"
        rows.append((str(g.get("name", i)), str(len(params)), str(numel), lr_s, wd_s, str(g.get("rules", ""))))
    rows.append(("total", str(total_t), str(total_n), "", "", ""))
    columns = 6 if any(r[5] for r in rows[1:]) else 5
    widths = [max(len(r[c]) for r in rows) for c in range(columns)]
    right = (False, True, True, False, False, False)
    lines = []
    for r in rows:
        cells = [r[c].rjust(widths[c]) if right[c] else r[c].ljust(widths[c]) for c in range(columns)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
