"""A clock in tokens or samples: schedules that follow what each optimizer step consumed.

With packing, variable-length batches or a batch-size ramp, the plan reads "warm up over the
first 5M tokens, decay to 0 at 200M". On such a clock the position ``c`` is the tokens (or
samples) the steps taken so far consumed, and the LR of the next step is the same closed form
evaluated there: ``lr_g = base_lr_g * f(c)``, with ``f``'s total ``T`` and warmup ``W`` given
in the clock's unit. The caller reports each step's amount (``scheduler.consume(tokens=n)``
before ``optimizer.step()``); the step adds it to ``c``. A checkpoint holds ``c``, so a resume
with another batch size keeps its place in the data.

Amounts are text with a unit: ``"200M tok"``, ``"5M tokens"``, ``"1.5B tok"``, ``"100k samples"``
(``k`` = 10**3, ``M`` = 10**6, ``B``/``G`` = 10**9, ``T`` = 10**12; ``_`` and ``,`` may group digits).

>>> parse_amount("200M tok"), parse_amount("1.5k samples"), parse_amount(100)
(Amount(value=200000000, unit='tokens'), Amount(value=1500, unit='samples'), None)
>>> clock = Clock("tokens")
>>> clock.consume(tokens=300); clock.tick(0)      # one step that consumed 300 tokens: position 300
300
>>> clock.consume(tokens=120); clock.tick(300), clock.steps
(420, 2)
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["CLOCK_UNITS", "Amount", "Clock", "clock_units", "is_amount", "parse_amount"]

#: the units a clock counts in (the name each spelling of a unit stands for)
CLOCK_UNITS = ("tokens", "samples")
_UNIT_NAMES = {"tok": "tokens", "toks": "tokens", "token": "tokens", "tokens": "tokens",
               "sample": "samples", "samples": "samples", "smp": "samples"}
_SHORT = {"tokens": "tok", "samples": "samples"}  # how examples in messages spell each unit
_SCALES = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "g": 10**9, "t": 10**12}
_NUMBER = re.compile(r"^\s*([0-9][0-9_,]*(?:\.[0-9]+)?(?:e[0-9]+)?)\s*([kmbgt]?)\s*$", re.IGNORECASE)
_UNIT_AT_END = re.compile(r"(%s)\s*$" % "|".join(sorted(_UNIT_NAMES, key=len, reverse=True)))
_ALLOWED = ("an amount like '200M tok', '5M tokens', '1.5B tok' or '100k samples' (k=1e3, M=1e6, B=1e9, T=1e12; "
            f"units: {', '.join(sorted(_UNIT_NAMES))})")


@dataclass(frozen=True)
class Amount:
    """A whole number of tokens or samples (``unit`` is one of :data:`CLOCK_UNITS`)."""

    value: int
    unit: str


def _unit_word(text: str) -> str | None:
    """The unit a text names at its end (``"5M tok"`` -> ``"tokens"``), or None."""
    m = _UNIT_AT_END.search(text.lower())
    return _UNIT_NAMES.get(m.group(1)) if m else None


def parse_amount(value: Any, name: str = "amount") -> Amount | None:
    """``Amount`` of a text with a unit (``"200M tok"``), ``None`` for anything else (steps, ratios, ``"10%"``).

    A text that names a unit but is not a whole, finite, non-negative amount is an error naming ``name``.

    >>> parse_amount("5M tok"), parse_amount("10%"), parse_amount("1ep")
    (Amount(value=5000000, unit='tokens'), None, None)
    >>> parse_amount("2.5 tok", "warmup")
    Traceback (most recent call last):
    ...
    ValueError: warmup='2.5 tok' is not a whole number of tokens (2.5): give an amount like '200M tok', ...
    """
    if not isinstance(value, str):
        return None
    unit = _unit_word(value)
    if unit is None:
        return None
    word = _UNIT_AT_END.search(value.lower())
    m = _NUMBER.match(value[:word.start()]) if word else None
    if m is None:
        raise ValueError(f"{name}={value!r} is not an amount: give {_ALLOWED}")
    number = float(m.group(1).replace("_", "").replace(",", "")) * _SCALES[m.group(2).lower()]
    if not math.isfinite(number) or number >= 2**62:
        raise ValueError(f"{name}={value!r} is too large: give an amount below 2**62 {unit}")
    if number != int(number):
        raise ValueError(f"{name}={value!r} is not a whole number of {unit} ({number:g}): give {_ALLOWED}")
    return Amount(int(number), unit)


def is_amount(value: Any) -> bool:
    """True for a text that names a clock unit (``"5M tok"``; malformed ones too, so they get an error).

    >>> is_amount("5M tok"), is_amount("5 tokens"), is_amount("10%"), is_amount(5)
    (True, True, False, False)
    """
    return isinstance(value, str) and _unit_word(value) is not None


def clock_units(name: str, values: dict[str, Any], totals: tuple[str, ...] = ("num_training_steps", "max_steps"),
                warmups: tuple[str, ...] = ("num_warmup_steps", "warmup")) -> tuple[str | None, dict[str, Any]]:
    """The clock unit of a run's arguments and the arguments in that unit (amounts as ints).

    ``values`` maps argument names to what the caller gave (totals, warmup, schedule arguments;
    lists are looked into; ``totals`` and ``warmups`` name the run's total and its warmup). ``None``
    as the unit: no amount anywhere, a run in optimizer steps.
    Two units, or an amount beside a total in steps, is an error naming both arguments.

    >>> clock_units("warmupcosine", {"num_training_steps": "200M tok", "warmup": "5M tok"})
    ('tokens', {'num_training_steps': 200000000, 'warmup': 5000000})
    >>> clock_units("warmupcosine", {"num_training_steps": 1000, "warmup": "5M tok"})
    Traceback (most recent call last):
    ...
    ValueError: warmup='5M tok' is in tokens but num_training_steps=1000 counts optimizer steps: give both in tokens ...
    """
    found: dict[str, Amount] = {}
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, (list, tuple)):
            parsed = [parse_amount(v, f"{key}[{i}]") for i, v in enumerate(value)]
            found.update({f"{key}[{i}]": a for i, a in enumerate(parsed) if a is not None})
            out[key] = type(value)(v if a is None else a.value for v, a in zip(value, parsed))
            continue
        amount = parse_amount(value, key)
        if amount is not None:
            found[key] = amount
        out[key] = value if amount is None else amount.value
    if not found:
        return None, dict(values)
    (first, a), *rest = found.items()
    for key, b in rest:
        if b.unit != a.unit:
            raise ValueError(f"{key}={values.get(key, b.value)!r} is in {b.unit} but {first} is in {a.unit}: a run "
                             "has one clock; give every amount in the same unit")
    for key in totals:
        total = values.get(key)
        if total is not None and key not in found and total != -1:
            what = next(k for k in found)
            raise ValueError(f"{what}={values[what]!r} is in {a.unit} but {key}={total!r} counts optimizer steps: give "
                             f"both in {a.unit} (e.g. {key}='200M {_SHORT[a.unit]}') or both in steps; a ratio or '10%' "
                             "warmup works on either clock")
    for key in warmups:
        w = out.get(key)
        if isinstance(w, str) and re.fullmatch(r"\s*[0-9]+\s*", w):  # steps as text (a command line)
            w = int(w)
        if key not in found and isinstance(w, numbers.Integral) and not isinstance(w, bool) and w:
            raise ValueError(f"{key}={w!r} is a number of optimizer steps, but {name!r} runs on a clock in {a.unit} "
                             f"({first}={values[first]!r}): give the warmup in {a.unit} (e.g. '5M {_SHORT[a.unit]}'), as a "
                             "ratio (0.05) or as a percentage ('5%')")
        if isinstance(w, str) and w.strip().lower() == "auto" or isinstance(w, str) and w.strip().lower().endswith("ep"):
            raise ValueError(f"{key}={w!r} counts optimizer steps or epochs, but {name!r} runs on a clock in {a.unit}: "
                             f"give the warmup in {a.unit} (e.g. '5M {_SHORT[a.unit]}'), as a ratio or as a percentage")
    total_key = next((k for k in totals if k in found), None)
    warmup_key = next((k for k in warmups if k in found), None)
    if total_key and warmup_key and found[warmup_key].value > found[total_key].value:
        raise ValueError(f"{warmup_key}={values[warmup_key]!r} ({found[warmup_key].value:,} {a.unit}) is longer than "
                         f"{total_key}={values[total_key]!r} ({found[total_key].value:,} {a.unit}): warmup must be at "
                         "most the total, or a ratio in [0, 1)")
    return a.unit, out


def _check_count(name: str, value: Any, what: str = " (what this step consumed)") -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        got = f"{value!r} ({type(value).__name__})"
        raise ValueError(f"{name} must be a whole number >= 0{what}, got {got}")
    return int(value)


class Clock:
    """The position of a run in tokens or samples, advanced by what each optimizer step consumed.

    :meth:`consume` adds to the current step's amount (call it for every micro-batch or once per
    step); :meth:`tick` (run by the scheduler when the optimizer steps) returns ``c + amount``.
    A step with nothing reported is an error: the schedule cannot know where it is. ``steps``
    counts the optimizer steps taken. A step ``GradScaler`` skips is no step, but its batch was
    read: what it reported is added to the next step taken.

    >>> c = Clock("samples")
    >>> c.consume(tokens=5)
    Traceback (most recent call last):
    ...
    ValueError: consume(tokens=5): this schedule's clock counts samples; report consume(samples=n)
    """

    def __init__(self, unit: str) -> None:  # noqa: D107 - the class says it
        if unit not in CLOCK_UNITS:
            raise ValueError(f"unit must be one of {CLOCK_UNITS}, got {unit!r}")
        self.unit = unit
        self.pending = 0
        self.reported = False
        self.steps = 0
        self.start = 0  # where the latest step started (it trained at f(start))

    def consume(self, tokens: int | None = None, samples: int | None = None) -> None:
        """Report what the coming optimizer step consumed (adds up over calls until the step)."""
        value = tokens if samples is None else samples
        if type(value) is int and value >= 0 and (tokens is None) != (samples is None) and \
                (samples is None) == (self.unit == "tokens"):  # the common case, every step
            self.pending += value
            self.reported = True
            return
        given = {k: v for k, v in (("tokens", tokens), ("samples", samples)) if v is not None}
        if len(given) != 1:
            raise ValueError(f"consume() takes one of tokens= or samples= (this clock counts {self.unit}), got "
                             f"{given or 'neither'}")
        (unit, value), = given.items()
        if unit != self.unit:
            raise ValueError(f"consume({unit}={value!r}): this schedule's clock counts {self.unit}; report "
                             f"consume({self.unit}=n)")
        self.pending += _check_count(f"consume({unit}=...)", value)
        self.reported = True

    def tick(self, position: int) -> int:
        """The position after an optimizer step taken at ``position``: ``position + consumed``."""
        if not self.reported:
            raise RuntimeError(f"optimizer step {self.steps + 1} was taken with no {self.unit} reported: this schedule "
                               f"runs on a clock in {self.unit}, so call scheduler.consume({self.unit}=n) with what "
                               "each step consumed before optimizer.step()")
        new, self.pending, self.reported, self.start = position + self.pending, 0, False, position
        self.steps += 1
        return new

    def past_the_end(self, position: int) -> str:
        """How a warning says the run went past the total."""
        return f"the run has consumed {position:,} {self.unit}"

    def state_dict(self) -> dict[str, Any]:
        """Plain types: the unit, optimizer steps taken, and what was reported for a step not yet taken."""
        return {"unit": self.unit, "steps": self.steps, "pending": self.pending, "reported": self.reported}

    def check_state(self, state: Any) -> tuple[int, int, bool]:
        """``(steps, pending, reported)`` of a :meth:`state_dict` for this clock; an error names what is wrong."""
        if not isinstance(state, dict) or set(state) != {"unit", "steps", "pending", "reported"}:
            raise ValueError(f"state_dict['clock'] must be a clock state with unit, steps, pending, reported; got {state!r}")
        if state["unit"] != self.unit:
            raise ValueError(f"the checkpoint's clock counts {state['unit']!r}, this scheduler's counts {self.unit!r}: "
                             "build the schedule with the same unit to resume")
        steps = _check_count("state_dict['clock']['steps']", state["steps"], "")
        pending = _check_count("state_dict['clock']['pending']", state["pending"], "")
        return steps, pending, bool(state["reported"])

    def load_state_dict(self, state: Any) -> None:
        """Restore :meth:`state_dict` (the unit must be this clock's)."""
        self.steps, self.pending, self.reported = self.check_state(state)

    def __repr__(self) -> str:
        return f"Clock({self.unit!r}, steps={self.steps})"
