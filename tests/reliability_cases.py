"""Every bad input of issues 15 and 25 (and issue 13), performed for real, with the line the user sees.

Each :class:`Case` is (area, what the user did, a zero-argument callable that does it and
returns the one line printed). ``tests/test_reliability_doc.py`` runs them all and checks
that the generated table in ``docs/reliability.md`` is exactly what they print today.

How a case reads the message:

* library calls: the exception, as ``f"{type(exc).__name__}: {exc}"`` (a warning likewise);
* ``hf-sched``: :func:`hf_sched.cli.main` in this process, exit status 2 required; the line
  is the last one on stderr (argparse prints its usage synopsis above it);
* the Accelerate recipe: the same functions the recipe calls (``parse_args``,
  ``load_text_classification``, ``load_model_and_tokenizer``, ``choose_checkpoint``,
  ``load_checkpoint``, ``RunLock``), with the error handed to the recipe's own ``fail``,
  which prints ``finetune_accelerate.py: error: ...`` and exits 2, as ``main`` does. The
  checkpoints are real: ``accelerator.save_state`` of a small model through the recipe's
  ``save_checkpoint`` (manifest included), then damaged one way each;
* the Trainer recipe: its ``parse_args`` (the same checks, ``hf_sched/finetune/input_checks.py``)
  and its ``fail`` for what ``load_text_classification`` raises;
* runs that stop (issue 25): both recipes' ``main`` in this process on a tiny random BERT, a
  diverged run, Ctrl-C (a real SIGINT to this process from a watching thread, while the run
  sleeps after step 3 through its test hook) and an output directory renamed meanwhile.

Machine-specific parts are normalised (:func:`normalise`): the temporary folder becomes
``<tmp>``, process ids ``<pid>``, lock start times ``<time>``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

__all__ = ["ROOT", "Case", "build_cases", "normalise", "workspace"]

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "finetune_accelerate.py"


@dataclass(frozen=True)
class Case:
    """One bad input: where, what the user did (markdown), and how to reproduce the message."""

    area: str
    action: str
    run: Callable[[], str]


# --------------------------------------------------------------------------- reading messages


class NoError(AssertionError):
    """A case that was meant to be refused went through."""


def raised(call: Callable[[], Any], catch: tuple[type[BaseException], ...] = (Exception,)) -> str:
    """``"Type: message"`` of the exception ``call()`` raises."""
    try:
        result = call()
    except catch as exc:
        return f"{type(exc).__name__}: {exc}"
    raise NoError(f"no error; it returned {result!r}")


def warned(call: Callable[[], Any]) -> str:
    """``"Category: message"`` of the one warning ``call()`` gives (it must not raise)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    if len(caught) != 1:
        raise NoError(f"expected one warning, got {[str(w.message) for w in caught]}")
    return f"{caught[0].category.__name__}: {caught[0].message}"


def _last_error_line(err: str, code: Any, status: int = 2) -> str:
    if code != status:
        raise NoError(f"exit status {code!r}, not {status}; stderr: {err!r}")
    lines = err.rstrip("\n").splitlines()
    errors = [line for line in lines if ": error: " in line]
    if not lines or len(errors) != 1 or errors[0] != lines[-1]:
        raise AssertionError(f"stderr should end in exactly one 'error:' line, got {err!r}")
    return lines[-1]


def cli(*argv: str) -> str:
    """The error line of ``hf-sched argv`` (status 2 required)."""
    from hf_sched.cli import main

    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main(list(argv))
    if out.getvalue():
        raise AssertionError(f"a refused command printed on stdout: {out.getvalue()[:200]!r}")
    return _last_error_line(err.getvalue(), code)


@lru_cache(maxsize=1)
def recipe() -> Any:
    """``recipes/finetune_accelerate.py`` as a module (its top level imports no torch)."""
    spec = importlib.util.spec_from_file_location("finetune_accelerate_reliability_doc", RECIPE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _exit_line(call: Callable[[], Any], status: int = 2) -> str:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            call()
        except SystemExit as exc:
            return _last_error_line(err.getvalue(), exc.code, status)
    raise NoError("the recipe did not exit")


def recipe_args(*argv: str) -> str:
    """The error line of the recipe's argument check (``parse_args``, before anything loads)."""
    return _exit_line(lambda: recipe().parse_args(list(argv)))


def recipe_refuses(call: Callable[[], Any], catch: tuple[type[BaseException], ...]) -> str:
    """The recipe's error line for what ``call()`` raises, caught where the recipe catches it."""
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # datasets' progress bars
            result = call()
    except catch as exc:
        error = exc
    else:
        raise NoError(f"no error; it returned {result!r}")
    return _exit_line(lambda: recipe().fail(error))


# --------------------------------------------------------------------------- normalising


_PID = re.compile(r"PID \d+")
_STARTED = re.compile(r"started \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}")


def normalise(message: str, tmp: Path) -> str:
    """Replace the temporary folder, PIDs and lock start times by placeholders."""
    for root in sorted({str(tmp), os.path.realpath(tmp)}, key=len, reverse=True):
        message = message.replace(root, "<tmp>")
    message = _PID.sub("PID <pid>", message)
    return _STARTED.sub("started <time>", message)


@contextlib.contextmanager
def workspace() -> Iterator[Path]:
    """A temporary folder for the cases' files, removed afterwards."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="hf_sched_reliability_"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --------------------------------------------------------------------------- library


def _optimizer(groups: int = 1) -> Any:
    import torch

    params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(groups)]
    return torch.optim.AdamW([{"params": [p]} for p in params], lr=1e-3)


def _load_bad_state(change: dict[str, Any], drop: str | None = None) -> Callable[[], str]:
    def run() -> str:
        from hf_sched import get_scheduler

        opt = _optimizer()
        sched = get_scheduler("warmupcosine", opt, num_training_steps=20)
        state = {**sched.state_dict(), **change}
        if drop:
            del state[drop]
        return raised(lambda: sched.load_state_dict(state))

    return run


def _stream_dataloader() -> Any:
    import torch

    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(range(10))

    return torch.utils.data.DataLoader(Stream(), batch_size=2)


def _bad_factory(steps, warmup):  # the registry calls factory(*, num_training_steps, num_warmup_steps)
    from hf_sched.schedules import Linear

    return Linear(steps, warmup)


def _library_cases() -> list[Case]:
    from hf_sched import DivergenceGuard, get_scheduler, register
    from hf_sched.schedules import Cosine

    area = "Library (`hf_sched`)"
    return [
        Case(area, "`sched.load_state_dict(state)` with `state['base_lrs'] = []`", _load_bad_state({"base_lrs": []})),
        Case(area, "`sched.load_state_dict(state)` with `state['base_lrs'] = [-1.0]`",
             _load_bad_state({"base_lrs": [-1.0]})),
        Case(area, "`sched.load_state_dict(state)` with `state['base_lrs'] = [nan]`",
             _load_bad_state({"base_lrs": [math.nan]})),
        Case(area, "`sched.load_state_dict(state)` with `state['step'] = 3.7`", _load_bad_state({"step": 3.7})),
        Case(area, "`sched.load_state_dict(state)` with `'schedules'` left out",
             _load_bad_state({}, drop="schedules")),
        Case(area, "`get_scheduler('hard-restarts', opt, 1, 10, 'num_cycles=2')` (kwargs text that is not JSON)",
             lambda: raised(lambda: get_scheduler("hard-restarts", _optimizer(), 1, 10, "num_cycles=2"))),
        Case(area, "`get_scheduler('hard-restarts', opt, '{\"num_cycles\": 2}', 10)` (the JSON in the warmup's place)",
             lambda: raised(lambda: get_scheduler("hard-restarts", _optimizer(), '{"num_cycles": 2}', 10))),
        Case(area, "`Cosine(10)('5')`", lambda: raised(lambda: Cosine(10)("5"))),
        Case(area, "`Cosine(10)(float('nan'))`", lambda: raised(lambda: Cosine(10)(math.nan))),
        Case(area, "`register('bad', factory)` with `def factory(steps, warmup)`",
             lambda: raised(lambda: register("bad", _bad_factory))),
        Case(area, "`get_scheduler('warmuplinear', opt, num_training_steps=30, warmup='1ep')` (no dataloader)",
             lambda: raised(lambda: get_scheduler("warmuplinear", _optimizer(), num_training_steps=30, warmup="1ep"))),
        Case(area, "`get_scheduler('warmuplinear', opt, num_training_steps=30, steps_per_epoch=10, warmup='-1ep')`",
             lambda: raised(lambda: get_scheduler("warmuplinear", _optimizer(), num_training_steps=30,
                                                  steps_per_epoch=10, warmup="-1ep"))),
        Case(area, "`get_scheduler('warmuplinear', opt, num_training_steps=30, steps_per_epoch=10, warmup='xep')`",
             lambda: raised(lambda: get_scheduler("warmuplinear", _optimizer(), num_training_steps=30,
                                                  steps_per_epoch=10, warmup="xep"))),
        Case(area, "`get_scheduler('warmupcosine', opt, dataloader=dl)` where `dl` reads an `IterableDataset`",
             lambda: raised(lambda: get_scheduler("warmupcosine", _optimizer(), dataloader=_stream_dataloader()))),
        Case(area, "`get_scheduler('warmuplinear', opt, dataloader=dl, max_steps=30, warmup='1ep')`, `dl` streaming",
             lambda: raised(lambda: get_scheduler("warmuplinear", _optimizer(), dataloader=_stream_dataloader(),
                                                  max_steps=30, warmup="1ep"))),
        Case(area, "`DivergenceGuard().check(2, loss=nan, grad_norm=inf, lr=1e30)` in a user's loop (issue 25: before "
             "`optimizer.step()`)",
             lambda: raised(lambda: DivergenceGuard().check(2, loss=math.nan, grad_norm=math.inf, lr=1e30))),
        Case(area, "`get_scheduler('warmuplinear', opt, num_training_steps=5, num_warmup_steps=5)` (a warning)",
             lambda: warned(lambda: get_scheduler("warmuplinear", _optimizer(), num_training_steps=5,
                                                  num_warmup_steps=5))),
    ]


# --------------------------------------------------------------------------- hf-sched


def _cli_cases() -> list[Case]:
    area = "`hf-sched` (exit status 2; argparse prints its usage synopsis above the line)"
    commands = [
        ["show", "noam", "--steps", "1e23"],
        ["show", "noam", "--steps", str(2**63 - 1)],
        ["show", "noam", "--steps", "2**63-1"],
        ["show", "noam", "--steps", str(10**12), "--csv"],
        ["plot", "noam", "--size", "100000x100000"],
        ["plot", "noam", "--dpi", "100000"],
        ["steps", "--examples", "1e29"],
        ["steps", "--examples", "100", "--epochs", "1e300"],
        ["show", "warmupcosine", "--warmup", "1ep"],
        ["show", "warmupcosine", "--steps-per-epoch", "100", "--warmup=-1ep"],
        ["show", "warmupcosine", "--steps-per-epoch", "100", "--warmup", "-1ep"],
        ["show", "warmupcosine", "--warmup", "-10%"],
        ["show", "warmupcosine", "--lr", "-1e-3"],
        ["show", "warmupcosine", "--steps-per-epoch", "100", "--warmup", "xep"],
        ["show", "warmupcosine", "--kwargs", "{num_cycles: 2}"],
        ["show", "hard-restarts:num_cycles=3", "--kwargs", '{"num_cycles": 5}'],
    ]
    import shlex

    cases = [Case(area, f"`hf-sched {shlex.join(argv)}`", lambda argv=argv: cli(*argv)) for argv in commands]
    output = "`hf-sched` output (issue 25: a full device and a closed pipe)"
    return [
        *cases,
        Case(output, "`hf-sched show warmupcosine --lr 1e308` (the line with the mean; exit status 0)",
             lambda: cli_output_line(["show", "warmupcosine", "--lr", "1e308"], "mean LR")),
        Case(output, "`hf-sched list > /dev/full` (exit status 1)", lambda: cli_to_full_device("list")),
        Case(output, "`hf-sched show noam --steps 1000000 --csv | head -1` (`set -o pipefail`)", cli_into_closed_pipe),
    ]


def cli_output_line(argv: list[str], starts: str) -> str:
    """The stdout line of a successful ``hf-sched argv`` that starts with ``starts`` (status 0, stderr empty)."""
    from hf_sched.cli import main

    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main(list(argv))
    if code != 0 or err.getvalue():
        raise AssertionError(f"exit status {code}, stderr {err.getvalue()!r}")
    return next(line.strip() for line in out.getvalue().splitlines() if line.strip().startswith(starts))


def _hf_sched(argv: list[str], stdout: Any) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "hf_sched", *argv], stdout=stdout, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})


def cli_to_full_device(command: str) -> str:
    """The one line of ``hf-sched COMMAND > /dev/full`` (status 1)."""
    with open("/dev/full", "w") as full:
        process = _hf_sched([command], full)
        _, err = process.communicate(timeout=120)
    lines = err.strip().splitlines()
    if process.returncode != 1 or len(lines) != 1:
        raise AssertionError(f"exit status {process.returncode}, stderr {err!r}")
    return lines[0].replace("python -m hf_sched", "hf-sched")


def cli_into_closed_pipe() -> str:
    """What ``hf-sched show noam --steps 1000000 --csv | head -1`` leaves: the status and stderr."""
    process = _hf_sched(["show", "noam", "--steps", "1000000", "--csv"], subprocess.PIPE)
    first = process.stdout.readline()
    process.stdout.close()  # what `head -1` does once it has its line
    _, err = process.communicate(timeout=120)
    if first != "step,lr\n":
        raise AssertionError(f"first line {first!r}")
    return f"exit status {process.returncode}, stderr {err!r} (head printed `{first.strip()}`)"


# --------------------------------------------------------------------------- the recipe: arguments and data


# The same kinds of bad input for both recipes (issue 25): (Accelerate recipe argv, Trainer recipe argv).
SHARED_BAD_ARGUMENTS = [
    (["--learning_rate", "nan"], ["--learning_rate", "nan"]),
    (["--learning_rate", "-1e-3"], ["--learning_rate", "-1e-3"]),
    (["--max_train_samples", "0"], ["--max_train_samples", "0"]),
    (["--max_length", "0"], ["--max_length", "0"]),
    (["--validation_split", "1.5"], ["--validation_split", "1.5"]),
    (["--text_columns", "a", "b", "c"], ["--text_columns", "a", "b", "c"]),
    (["--output_dir", ""], ["--output_dir", ""]),
    (["--max_steps", str(10**18)], ["--max_steps", str(10**18)]),
    (["--warmup", "xep"], ["--warmup", "xep"]),
    (["--lr_scheduler_kwargs", "num_cycles=2"], ["--lr_scheduler_kwargs", "num_cycles=2"]),
]


def _recipe_argument_cases() -> list[Case]:
    area = "Accelerate recipe: arguments (checked before anything loads)"
    commands = [
        ["--lr_scheduler_type", "multistep", "--max_steps", "100", "--lr_scheduler_kwargs", '{"milestones": [50, 150]}'],
        ["--warmup", "-1ep"],
        *[accelerate for accelerate, _ in SHARED_BAD_ARGUMENTS],
    ]
    import shlex

    return [Case(area, f"`finetune_accelerate.py {shlex.join(argv)}`", lambda argv=argv: recipe_args(*argv))
            for argv in commands]


@lru_cache(maxsize=1)
def trainer_recipe() -> Any:
    """``recipes/finetune_trainer.py`` as a module (registered: its dataclasses need their module)."""
    name = "finetune_trainer_reliability_doc"
    spec = importlib.util.spec_from_file_location(name, ROOT / "recipes" / "finetune_trainer.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def trainer_args(*argv: str) -> str:
    """The error line of the Trainer recipe's argument check (``parse_args``, before anything loads)."""
    return _exit_line(lambda: trainer_recipe().parse_args(list(argv)))


def _trainer_cases(tmp: Path) -> list[Case]:
    import shlex

    from hf_sched.finetune.data import load_text_classification

    area = "Trainer recipe: arguments, argument files and data (the same checks, from the same module; exit status 2)"
    out = str(tmp / "trainer-out")
    cases = []
    for _, argv in SHARED_BAD_ARGUMENTS:
        full = argv if "--output_dir" in argv else [*argv, "--output_dir", out]
        cases.append(Case(area, f"`finetune_trainer.py {shlex.join(argv)}`",
                          lambda full=full: trainer_args(*full, "--report_to", "none")))
    cases.append(Case(area, "`finetune_trainer.py --warmup auto --optim sgd`",
                      lambda: trainer_args("--warmup", "auto", "--optim", "sgd", "--output_dir", out)))

    def args_file(name: str, content: str | None) -> Callable[[], str]:
        def run() -> str:
            path = tmp / "args" / name
            path.parent.mkdir(exist_ok=True)
            if content is not None:
                path.write_text(content)
            return trainer_args(str(path))

        return run

    cases += [
        Case(area, "`finetune_trainer.py args.json` holding a list (`[\"--max_steps\", \"5\"]`)",
             args_file("list.json", '["--max_steps", "5"]')),
        Case(area, "`finetune_trainer.py args.json` (an empty file)", args_file("empty.json", "")),
        Case(area, "`finetune_trainer.py missing.json` (no such file)", args_file("missing.json", None)),
        Case(area, "`finetune_trainer.py args.yaml` holding a list", args_file("list.yaml", "- max_steps\n")),
    ]

    def data(name: str, content: bytes) -> Callable[[], str]:
        def run() -> str:
            path = tmp / "trainer-data" / name
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(content)
            try:
                with contextlib.redirect_stderr(io.StringIO()):
                    load_text_classification(str(path))
            except (ValueError, ImportError, OSError) as exc:  # what the Trainer recipe catches, as it says it
                error = exc
                return _exit_line(lambda: trainer_recipe().fail(error))
            raise NoError("the data loaded")

        return run

    cases += [
        Case(area, "`finetune_trainer.py --dataset one-class.csv` (every label `pos`)",
             data("one-class.csv", b"text,label\na,pos\nb,pos\nc,pos\n")),
        Case(area, "`finetune_trainer.py --dataset binary.csv` (300 random bytes)", data("binary.csv", _seeded_bytes(300))),
        *[Case(area, "`finetune_trainer.py " + action[1:], data(name, content))
          for action, name, content in _ISSUE_25_DATA],
    ]
    return cases


_ISSUE_25_DATA = [
    ("`--dataset mixed.jsonl` (labels `1`, `\"neg\"`, `0`: ints beside strings)", "mixed.jsonl",
     b'{"text": "good", "label": 1}\n{"text": "bad", "label": "neg"}\n{"text": "ok", "label": 0}\n'),
    ("`--dataset two-rows.csv` (one `pos` and one `neg` row: the split leaves one class to train on)", "two-rows.csv",
     b"text,label\ngood,pos\nbad,neg\n"),
]


def _data_cases(tmp: Path) -> list[Case]:
    from hf_sched.finetune.data import load_text_classification
    from hf_sched.finetune.model import load_model_and_tokenizer

    area = "Accelerate recipe: data and model (exit status 2)"
    caught = (ValueError, ImportError, OSError)  # what the recipe catches around loading data and model

    def data(name: str, content: bytes) -> Callable[[], str]:
        def run() -> str:
            path = tmp / "data" / name
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(content)
            return recipe_refuses(lambda: load_text_classification(str(path)), caught)

        return run

    def model_without_weights() -> str:
        folder = tmp / "model-without-weights"
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
        (folder / "tokenizer_config.json").write_text("{}")
        (folder / "vocab.txt").write_text("[PAD]\n[UNK]\n")
        return recipe_refuses(lambda: load_model_and_tokenizer(str(folder), num_labels=2), caught)

    return [
        Case(area, "`--dataset empty.csv` (0 bytes)", data("empty.csv", b"")),
        Case(area, "`--dataset header.csv` (only `text,label`)", data("header.csv", b"text,label\n")),
        Case(area, "`--dataset latin1.csv` (`café` saved as latin-1)",
             data("latin1.csv", "text,label\ncafé,pos\nthé,neg\n".encode("latin-1"))),
        Case(area, "`--dataset no-text.csv` (the `text` column empty in every row)",
             data("no-text.csv", b"text,label\n,pos\n,neg\n")),
        Case(area, "`--dataset no-labels.csv` (the `label` column empty in every row)",
             data("no-labels.csv", b"text,label\nhello,\nworld,\n")),
        *[Case(area, action, data(name, content)) for action, name, content in _ISSUE_25_DATA],
        Case(area, "`--model DIR` where `DIR` has a `config.json` but no `model.safetensors`", model_without_weights),
    ]


# --------------------------------------------------------------------------- the recipe: checkpoints and lock


SIGNATURE = {"learning_rate": 5e-5, "weight_decay": 0.01, "max_steps": 6, "seed": 3}


def _save_run(output_dir: Path) -> None:
    """A run with checkpoints ``step_2`` and ``step_4``, saved by the recipe's ``save_checkpoint``."""
    import torch
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, GradientState

    from hf_sched import get_scheduler
    from hf_sched.finetune.checkpoint import save_checkpoint

    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()
    try:
        accelerator = Accelerator(cpu=True)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = torch.nn.Linear(4, 2)
            optimizer = torch.optim.AdamW(model.parameters(), lr=SIGNATURE["learning_rate"],
                                          weight_decay=SIGNATURE["weight_decay"])
            scheduler = get_scheduler("warmupcosine", optimizer, num_training_steps=6)
            model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
            for step in range(1, 5):
                model(torch.randn(3, 4)).pow(2).mean().backward()
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
                if step % 2 == 0:
                    state = {"completed_steps": step, "epoch": 0, "lr_log": [], "eval_history": []}
                    save_checkpoint(accelerator, output_dir, f"step_{step}", state, SIGNATURE)
    finally:
        AcceleratorState._reset_state(reset_partial_state=True)
        GradientState._reset_state()


def _seeded_bytes(size: int) -> bytes:
    return random.Random(0).randbytes(size)


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(b ^ 0xFF for b in data[middle:middle + 64])
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _scramble(path: Path) -> None:
    path.write_bytes(_seeded_bytes(path.stat().st_size))


class _Checkpoints:
    """The saved run, copied and damaged per case (the run is saved once, on first use)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.saved = tmp / "saved-run"

    def damaged(self, damage: Callable[[Path], None] | None, name: str) -> Path:
        """A fresh copy of the saved run as ``<tmp>/run`` (the previous case's copy is removed)."""
        if not self.saved.exists():
            _save_run(self.saved)
        run = self.tmp / "run"
        shutil.rmtree(run, ignore_errors=True)
        shutil.copytree(self.saved, run)
        if damage is not None:
            damage(run / "step_4" / name)
        return run


def _checkpoint_cases(tmp: Path) -> list[Case]:
    from hf_sched.finetune.checkpoint import CheckpointError, choose_checkpoint, load_checkpoint, write_manifest

    area = "Accelerate recipe: checkpoints (`step_4` is the newest)"
    runs = _Checkpoints(tmp)

    def named(damage: Callable[[Path], None], name: str) -> Callable[[], str]:
        def run() -> str:
            folder = runs.damaged(damage, name)
            return recipe_refuses(lambda: choose_checkpoint(folder, str(folder / "step_4")), (CheckpointError,))

        return run

    def latest_falls_back() -> str:
        folder = runs.damaged(_flip, "model.safetensors")
        notices: list[str] = []
        chosen = choose_checkpoint(folder, "latest", announce=notices.append)
        if chosen != folder / "step_2" or len(notices) != 2:
            raise AssertionError(f"expected a fallback to step_2 with two notices, got {chosen}, {notices}")
        return notices[0]

    def vouched_for_but_corrupt() -> str:
        from accelerate import Accelerator
        from accelerate.state import AcceleratorState, GradientState

        folder = runs.damaged(_scramble, "scheduler.bin") / "step_4"
        manifest = json.loads((folder / "manifest.json").read_text())
        write_manifest(folder, manifest["signature"], manifest["completed_steps"])
        AcceleratorState._reset_state(reset_partial_state=True)
        try:
            accelerator = Accelerator(cpu=True)
            return recipe_refuses(lambda: load_checkpoint(accelerator, folder, SIGNATURE), (CheckpointError,))
        finally:
            AcceleratorState._reset_state(reset_partial_state=True)
            GradientState._reset_state()

    def changed(key: str, value: float) -> Callable[[], str]:
        def run() -> str:
            from accelerate import Accelerator
            from accelerate.state import AcceleratorState, GradientState

            folder = runs.damaged(None, "") / "step_4"
            AcceleratorState._reset_state(reset_partial_state=True)
            try:
                accelerator = Accelerator(cpu=True)
                return recipe_refuses(lambda: load_checkpoint(accelerator, folder, {**SIGNATURE, key: value}),
                                      (CheckpointError,))
            finally:
                AcceleratorState._reset_state(reset_partial_state=True)
                GradientState._reset_state()

        return run

    step_4 = "`--resume_from_checkpoint <tmp>/run/step_4`"
    return [
        Case(area, f"{step_4} after 64 bytes of `model.safetensors` were flipped", named(_flip, "model.safetensors")),
        Case(area, f"{step_4} after `model.safetensors` was cut in half", named(_truncate, "model.safetensors")),
        Case(area, f"{step_4} after `scheduler.bin` was overwritten with random bytes",
             named(_scramble, "scheduler.bin")),
        Case(area, f"{step_4} after `random_states_0.pkl` was deleted", named(Path.unlink, "random_states_0.pkl")),
        Case(area, f"{step_4} after `training_state.json` was cut in half", named(_truncate, "training_state.json")),
        Case(area, "`--resume_from_checkpoint latest` with the flipped `model.safetensors` in `step_4` "
             "(a notice; it then says it resumes from `step_2`)", latest_falls_back),
        Case(area, f"{step_4} with random bytes in `scheduler.bin` that the manifest vouches for "
             "(damaged before the manifest was written)", vouched_for_but_corrupt),
        Case(area, "`--resume_from_checkpoint latest --learning_rate 1e-4` (the checkpoint's run used 5e-5)",
             changed("learning_rate", 1e-4)),
        Case(area, "`--resume_from_checkpoint latest --weight_decay 0.1` (the checkpoint's run used 0.01)",
             changed("weight_decay", 0.1)),
    ]


# ---- issue 23, the Accelerate recipe's resume modes (developer B's block)


def _recipe_resume_cases(tmp: Path) -> list[Case]:
    """The recipe's refusals of a resume in each ``--lr_scheduler_resume`` mode (``read_checkpoint``, as the recipe calls it)."""
    from hf_sched.finetune.arguments import BUDGET_KEYS, PLAN_KEYS
    from hf_sched.finetune.checkpoint import CheckpointError, read_checkpoint, restore_checkpoint

    area = "Accelerate recipe: resume modes (`--lr_scheduler_resume`; the saved run had `--max_steps 6`)"
    runs = _Checkpoints(tmp)

    def resumed(mode: str, **changed: Any) -> Callable[[], str]:
        def run() -> str:
            folder = runs.damaged(None, "") / "step_4"
            if mode != "older":  # the saved run is an older recipe's (no examples seen): record them
                state = json.loads((folder / "training_state.json").read_text())
                state["data_position"] = {"epoch": 0, "examples": 12, "epoch_examples": 100, "order": {}}
                (folder / "training_state.json").write_text(json.dumps(state))
            return recipe_refuses(lambda: read_checkpoint(
                folder, {**SIGNATURE, **changed}, resume="rescale" if mode == "older" else mode,
                budget_keys=BUDGET_KEYS, plan_keys=PLAN_KEYS), (CheckpointError,))

        return run

    def restored(mode: str, total: int, at_step: int | None = None, **scheduler: Any) -> Callable[[], str]:
        """The recipe's restore of ``step_4`` (warmupcosine over 6 steps) into a run of ``total`` steps."""
        return lambda: _restore_step_4(mode, total, at_step, scheduler)

    def _restore_step_4(mode: str, total: int, at_step: int | None, scheduler_kwargs: dict[str, Any]) -> str:
        import torch
        from accelerate import Accelerator
        from accelerate.state import AcceleratorState, GradientState

        from hf_sched import get_scheduler

        folder = runs.damaged(None, "") / "step_4"
        AcceleratorState._reset_state(reset_partial_state=True)
        try:
            accelerator = Accelerator(cpu=True)
            model = torch.nn.Linear(4, 2)
            optimizer = torch.optim.AdamW(model.parameters(), lr=SIGNATURE["learning_rate"],
                                          weight_decay=SIGNATURE["weight_decay"])
            scheduler = get_scheduler("warmupcosine", optimizer, num_training_steps=total, **scheduler_kwargs)
            model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
            return recipe_refuses(lambda: restore_checkpoint(accelerator, folder, resume=mode, at_step=at_step,
                                                             schedulers=[scheduler]), (CheckpointError,))
        finally:
            AcceleratorState._reset_state(reset_partial_state=True)
            GradientState._reset_state()

    def trainer_strict() -> str:  # the Trainer recipe in this process: 2 steps saved, resumed for 4 (strict)
        from hf_sched.finetune.model import save_tiny_bert

        tiny, output_dir = tmp / "resume-tiny-bert", tmp / "trainer-resume"
        if not tiny.exists():
            save_tiny_bert(tiny, seed=0)
        argv = ["--model", str(tiny), "--max_train_samples", "48", "--max_eval_samples", "16", "--max_length", "16",
                "--per_device_train_batch_size", "8", "--save_strategy", "steps", "--save_steps", "2", "--use_cpu",
                "--report_to", "none", "--disable_tqdm", "true", "--save_model", "false", "--output_dir",
                str(output_dir)]
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            trainer_recipe().main([*argv, "--max_steps", "2"])
        return _exit_line(lambda: trainer_recipe().main([*argv, "--max_steps", "4", "--resume_from_checkpoint",
                                                         str(output_dir / "checkpoint-2")]))

    step_4 = "`--resume_from_checkpoint <tmp>/run/step_4"
    return [
        Case(area, "`finetune_accelerate.py --lr_scheduler_resume sideways`",
             lambda: recipe_args("--lr_scheduler_resume", "sideways")),
        Case(area, f"{step_4} --max_steps 12` (strict, the default)", resumed("strict", max_steps=12)),
        Case(area, f"{step_4} --lr_scheduler_resume rescale --learning_rate 1e-4`",
             resumed("rescale", learning_rate=1e-4)),
        Case(area, f"{step_4} --lr_scheduler_resume checkpoint --weight_decay 0.1`",
             resumed("checkpoint", weight_decay=0.1)),
        Case(area, f"{step_4} --lr_scheduler_resume replan --seed 4`", resumed("replan", seed=4)),
        Case(area, f"{step_4} --lr_scheduler_resume rescale --max_steps 12` of a checkpoint an older recipe wrote "
             "(no examples seen recorded)", resumed("older", max_steps=12)),
        Case(area, f"{step_4} --lr_scheduler_resume rescale --max_steps 3`, whose step at the checkpoint's examples "
             "seen is 3: nothing left to rescale", restored("rescale", 3, at_step=3)),
        Case(area, "`finetune_accelerate.py --max_steps 6 --lr_scheduler_horizon 3`",
             lambda: recipe_args("--max_steps", "6", "--lr_scheduler_horizon", "3")),
        Case(area, f"{step_4} --lr_scheduler_resume rescale --lr_scheduler_horizon 24` (the horizon is part of the "
             "plan)", resumed("rescale", lr_scheduler_horizon=24)),
        Case(area, "`finetune_accelerate.py --resume_from_checkpoint latest --lr_scheduler_decay_from_here 0`",
             lambda: recipe_args("--resume_from_checkpoint", "latest", "--lr_scheduler_decay_from_here", "0")),
        Case(area, "`finetune_accelerate.py --lr_scheduler_decay_from_here 20%` (a fresh run: no checkpoint)",
             lambda: recipe_args("--lr_scheduler_decay_from_here", "20%")),
        Case(area, f"{step_4} --lr_scheduler_decay_from_here 2` of a warmupcosine run (no stable phase)",
             restored("strict", 6, decay_from_here="2")),
        Case(area, f"{step_4} --lr_scheduler_resume replan --lr_scheduler_decay_from_here 2`",
             restored("replan", 6, at_step=4, decay_from_here="2")),
        Case(area, "`finetune_trainer.py --max_steps 4 --resume_from_checkpoint <tmp>/trainer-resume/checkpoint-2` "
             "of a `--max_steps 2` run (strict, the default)", trainer_strict),
    ]


class _LockHolder:
    """Another process holding the output-directory lock (``RunLock``), killed on request."""

    def __init__(self, directory: Path) -> None:
        code = ("import sys, time; from hf_sched.finetune.run_lock import RunLock; "
                "lock = RunLock(sys.argv[1]); lock.acquire(); print('locked', flush=True); time.sleep(120)")
        self.process = subprocess.Popen([sys.executable, "-c", code, str(directory)], stdout=subprocess.PIPE,
                                        text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        if self.process.stdout.readline().strip() != "locked":
            self.kill()
            raise AssertionError("the lock holder did not start")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.process.stdout.close()


def _lock_cases(tmp: Path) -> list[Case]:
    from hf_sched.finetune.run_lock import RunLock, RunLockError

    area = "Accelerate recipe: the output-directory lock"
    folder = tmp / "busy"

    def live() -> str:
        holder = _LockHolder(folder)
        try:
            return recipe_refuses(lambda: RunLock(folder).acquire(), (RunLockError,))
        finally:
            holder.kill()  # killed: its lock file stays behind for the next case

    def stale() -> str:
        if not (folder / ".run.lock").is_file():
            holder = _LockHolder(folder)
            holder.kill()
        notices: list[str] = []
        with RunLock(folder, announce=notices.append):
            pass
        if len(notices) != 1:
            raise AssertionError(f"expected one take-over notice, got {notices}")
        return notices[0]

    def overwritten() -> str:
        other = tmp / "busy-overwritten"
        holder = _LockHolder(other)
        try:
            (other / ".run.lock").write_text(json.dumps({"pid": 1, "host": "elsewhere", "started": "then"}))
            return recipe_refuses(lambda: RunLock(other).acquire(), (RunLockError,))
        finally:
            holder.kill()

    return [
        Case(area, "a second run with the `--output_dir` of a run still going", live),
        Case(area, "the same, after the lock file's record was overwritten with PID 1 (issue 25: the line "
             "names the kernel's holder, from `/proc/locks`, and the PID the file gives)", overwritten),
        Case(area, "a run into an `--output_dir` whose last run was killed (`kill -9`; a notice, then it runs)", stale),
    ]


# --------------------------------------------------------------------------- issue 24: another part schedules the LR


def _schedule_free(cls: str = "AdamWScheduleFree") -> Any:
    import schedulefree
    import torch

    return getattr(schedulefree, cls)([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)


def _trainer_args(**kw: Any) -> Any:
    from hf_sched.integrations.transformers import SchedTrainingArguments

    return SchedTrainingArguments(output_dir="unused_out", report_to=[], **kw)


def _other_scheduler_cases() -> list[Case]:
    from hf_sched import get_scheduler
    from hf_sched.deepspeed_config import RECIPE_KEEP, deepspeed_problem

    area = "When something else schedules the LR (schedule-free, DeepSpeed, plateau)"
    block = {"scheduler": {"type": "WarmupDecayLR", "params": {"warmup_num_steps": "auto"}}}

    def recipe_deepspeed(config: dict[str, Any]) -> str:
        problem = deepspeed_problem(config, lr_scheduler_type="warmupcosine", learning_rate=5e-5,
                                    builds_optimizer=True, keep=RECIPE_KEEP)
        return _exit_line(lambda: recipe().fail(problem))

    return [
        Case(area, "`get_scheduler('warmupcosine', AdamWScheduleFree(...), num_training_steps=50)` (a decaying name)",
             lambda: raised(lambda: get_scheduler("warmupcosine", _schedule_free(), num_training_steps=50))),
        Case(area, "`SchedTrainingArguments(optim='schedule_free_adamw', lr_scheduler_type='warmupcosine')`",
             lambda: raised(lambda: _trainer_args(optim="schedule_free_adamw", lr_scheduler_type="warmupcosine"))),
        Case(area, "`get_scheduler('warmupconstant', AdamWScheduleFree(...), warmup=60, num_training_steps=50)`",
             lambda: raised(lambda: get_scheduler("warmupconstant", _schedule_free(), warmup=60,
                                                  num_training_steps=50))),
        Case(area, "`get_scheduler('warmupconstant', RAdamScheduleFree(...), warmup=5, num_training_steps=50)`",
             lambda: raised(lambda: get_scheduler("warmupconstant", _schedule_free("RAdamScheduleFree"), warmup=5,
                                                  num_training_steps=50))),
        Case(area, "`get_scheduler('warmupcosine', opt, num_training_steps=20, patience=2)` (a plateau argument)",
             lambda: raised(lambda: get_scheduler("warmupcosine", _optimizer(), num_training_steps=20, patience=2))),
        Case(area, "`get_scheduler('reduce_lr_on_plateau', opt, warmup='10%')` (no total to take 10% of)",
             lambda: raised(lambda: get_scheduler("reduce_lr_on_plateau", _optimizer(), warmup="10%"))),
        Case(area, "`SchedTrainingArguments(deepspeed=ds, lr_scheduler_type='warmupcosine')`, `ds` with a "
             "`\"scheduler\"` block", lambda: raised(lambda: _trainer_args(deepspeed=block,
                                                                              lr_scheduler_type="warmupcosine"))),
        Case(area, "`SchedTrainingArguments(deepspeed=ds, learning_rate=1e-4)`, `ds`'s `\"optimizer\"` block with "
             "`\"lr\": 3e-5`", lambda: raised(lambda: _trainer_args(
                 deepspeed={"optimizer": {"type": "AdamW", "params": {"lr": 3e-5}}}, learning_rate=1e-4))),
        Case(area, "`SchedTrainingArguments(deepspeed=ds, deepspeed_scheduler=True)`, `ds` without a "
             "`\"scheduler\"` block", lambda: raised(lambda: _trainer_args(deepspeed={"train_batch_size": 8},
                                                                             deepspeed_scheduler=True))),
        Case(area, "`accelerate launch` of the recipe with a DeepSpeed config holding a `\"scheduler\"` block",
             lambda: recipe_deepspeed(block)),
    ]


# --------------------------------------------------------------------------- runs that stop (issue 25)


def _reset_accelerate() -> None:
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()


def _run_cases(tmp: Path) -> list[Case]:
    """Real runs of both recipes on a tiny random BERT and 48 tweets: what stops them, in one line."""
    area = "Runs that stop: divergence, faults, Ctrl-C (both recipes; a tiny random BERT, 48 tweets)"
    tiny = tmp / "tiny-bert"

    def base() -> list[str]:
        from hf_sched.finetune.model import save_tiny_bert

        if not tiny.exists():
            save_tiny_bert(tiny, seed=0)
        return ["--model", str(tiny), "--max_train_samples", "48", "--max_eval_samples", "16", "--max_length", "16",
                "--seed", "3"]

    def accelerate(*argv: str, status: int) -> Callable[[], str]:
        def run() -> str:
            _reset_accelerate()
            try:
                return _exit_line(lambda: recipe().main([*base(), "--batch_size", "8", "--optim", "adamw_torch",
                                                         *argv]), status)
            finally:
                _reset_accelerate()

        return run

    def trainer_diverges() -> str:
        argv = [*base(), "--per_device_train_batch_size", "8", "--max_steps", "6", "--save_strategy", "steps",
                "--save_steps", "1", "--learning_rate", "1e30", "--warmup_steps", "0", "--use_cpu", "--report_to",
                "none", "--disable_tqdm", "true", "--output_dir", str(tmp / "trainer-diverged")]
        return _exit_line(lambda: trainer_recipe().main(argv), 1)

    def interrupted_run(name: str, stall_seconds: str, act: Callable[[Path], None], status: int) -> Callable[[], str]:
        """The recipe in this process, stalled after step 3; another thread acts then (a real SIGINT to this
        process, or a rename), and the recipe's last line is read."""
        def run() -> str:
            import threading

            output_dir = tmp / name
            log, stop = output_dir / "lr_log.jsonl", threading.Event()

            def watch() -> None:
                while not stop.is_set():
                    if log.is_file() and len(log.read_text().splitlines()) >= 3:
                        act(output_dir)
                        return
                    time.sleep(0.02)

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            try:
                return accelerate("--max_steps", "6", "--checkpointing_steps", "2", "--output_dir", str(output_dir),
                                  "--stall_after_step", "3", "--stall_seconds", stall_seconds, status=status)()
            finally:
                stop.set()
                watcher.join()

        return run

    return [
        Case(area, "`finetune_accelerate.py --learning_rate 1e30 --warmup 0 --max_steps 6 --checkpointing_steps 1` "
             "(exit status 1; `metrics.json` strict JSON, `step_1` whole)",
             accelerate("--learning_rate", "1e30", "--warmup", "0", "--max_steps", "6", "--checkpointing_steps", "1",
                        "--output_dir", str(tmp / "diverged"), status=1)),
        Case(area, "`finetune_trainer.py --learning_rate 1e30 --warmup_steps 0 --max_steps 6 --save_steps 1` "
             "(exit status 1; `metrics.json` strict JSON, `checkpoint-1` whole)", trainer_diverges),
        Case(area, "`finetune_accelerate.py --num_epochs 1e18`",
             accelerate("--num_epochs", "1e18", "--output_dir", str(tmp / "long"), status=2)),
        Case(area, "`finetune_accelerate.py --mixed_precision fp8` on a machine without a GPU",
             accelerate("--mixed_precision", "fp8", "--output_dir", str(tmp / "fp8"), status=2)),
        Case(area, "Ctrl-C (SIGINT) after step 3 of `--max_steps 6 --checkpointing_steps 2` (exit status 130)",
             interrupted_run("interrupted", "60", lambda _: os.kill(os.getpid(), signal.SIGINT), 130)),
        Case(area, "the output directory renamed (`mv`) after step 3 (exit status 1)",
             interrupted_run("renamed", "1", lambda folder: folder.rename(folder.with_name("moved")), 1)),
    ]


def _with_lr(lr: Any) -> Callable[[], str]:
    """``get_scheduler`` on an optimizer whose group LR was set to ``lr`` after it was built."""
    def run() -> str:
        from hf_sched import get_scheduler

        opt = _optimizer()
        opt.param_groups[0]["lr"] = lr
        return raised(lambda: get_scheduler("warmuplinear", opt, num_training_steps=10))

    return run


def _no_groups() -> str:
    from hf_sched import ScheduledLR
    from hf_sched.schedules import Linear

    opt = _optimizer()
    opt.param_groups.clear()
    return raised(lambda: ScheduledLR(opt, Linear(10)))


def _huge_scale() -> str:
    import torch

    from hf_sched import ScheduledLR, scale
    from hf_sched.schedules import Linear

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=10.0)
    return raised(lambda: ScheduledLR(opt, scale(Linear(10), 1e308)))


def _resume(peak_then: float, strict: Any = None) -> Callable[[], str]:
    """Load a checkpoint written with peak LR ``peak_then`` into a run whose peak is 1e-3."""
    def run() -> str:
        import torch

        from hf_sched import get_scheduler

        old = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=peak_then)
        state = get_scheduler("warmupcosine", old, num_training_steps=20).state_dict()
        sched = get_scheduler("warmupcosine", _optimizer(), num_training_steps=20)
        return raised(lambda: sched.load_state_dict(state, *([] if strict is None else [strict])))

    return run


def _past_the_end() -> str:
    import torch

    from hf_sched import get_scheduler

    opt = _optimizer()
    loader = torch.utils.data.DataLoader(range(30), batch_size=10)
    sched = get_scheduler("warmuplinear", opt, dataloader=loader)  # no num_epochs: one epoch

    def three_epochs() -> None:
        for _ in range(3 * len(loader)):
            opt.step()
            sched.step()

    return warned(three_epochs)


def _lr_cases() -> list[Case]:
    """Issue 25, item 1: every LR and multiplier that reaches an optimizer is finite and >= 0."""
    from hf_sched import get_scheduler

    area = "Library (`hf_sched`): LRs that reach the optimizer"
    loader = list(range(10))
    return [
        *[Case(area, f"`get_scheduler('warmuplinear', opt, num_training_steps=10)` after "
                     f"`opt.param_groups[0]['lr'] = {shown}`", _with_lr(lr))
          for shown, lr in (("float('inf')", math.inf), ("float('nan')", math.nan), ("-1e-3", -1e-3),
                            ("None", None), ("[0.1]", [0.1]))],
        Case(area, "`ScheduledLR(opt, Linear(10))` on an optimizer with no param groups", _no_groups),
        Case(area, "`ScheduledLR(opt, scale(Linear(10), 1e308))` with peak LR 10", _huge_scale),
        Case(area, "`sched.load_state_dict(state, strict='no')`", _resume(1e-3, "no")),
        Case(area, "`sched.load_state_dict(state)` of a checkpoint whose peak LR was 1.0 (now 1e-3)", _resume(1.0)),
        Case(area, "`get_scheduler('warmuplinear', opt, dataloader=dl, accelerator=object())`",
             lambda: raised(lambda: get_scheduler("warmuplinear", _optimizer(), dataloader=loader,
                                                  accelerator=object()))),
        Case(area, "`get_scheduler('warmuplinear', opt, dataloader=dl)` (no `num_epochs`), then 3 epochs of steps",
             _past_the_end),
    ]


# --------------------------------------------------------------------------- runs that change (issue 23)


def printed(call: Callable[[], Any]) -> str:
    """The ``hf_sched: ...`` line ``call()`` prints on stderr (it must not raise or warn)."""
    err = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(err):
        warnings.simplefilter("always")
        call()
    if caught:
        raise AssertionError(f"unexpected warnings: {[str(w.message) for w in caught]}")
    lines = [line for line in err.getvalue().splitlines() if line.startswith("hf_sched: ")]
    if len(lines) != 1:
        raise NoError(f"expected one hf_sched line on stderr, got {err.getvalue()!r}")
    return lines[0]


def _stopped_state(name: str = "warmupcosine", stop: int = 12, **kw: Any) -> dict[str, Any]:
    """The scheduler state of a plain loop (batch 4 of 64 examples, 2 epochs: 32 steps) after ``stop`` steps."""
    import torch

    from hf_sched import get_scheduler

    opt = _optimizer()
    if "num_training_steps" in kw or "max_steps" in kw or name == "constantlr":
        sched = get_scheduler(name, opt, **kw)
    else:
        sched = get_scheduler(name, opt, dataloader=torch.utils.data.DataLoader(range(64), batch_size=4),
                              num_epochs=2, **kw)
    for _ in range(stop):
        opt.step()
    return sched.state_dict()


def _resumed(mode: str | None, state: dict[str, Any] | None = None, processes: int = 2, peak: float = 1e-3,
             name: str = "warmupcosine", **kw: Any) -> Callable[[], Any]:
    """Load ``state`` (default: 12 of 32 steps on one process) into a run on ``processes``."""
    def run() -> Any:
        import torch

        from hf_sched import get_scheduler

        opt = _optimizer()
        opt.param_groups[0]["lr"] = peak
        loader = torch.utils.data.DataLoader(range(64), batch_size=4)
        if "num_training_steps" not in kw and "max_steps" not in kw:
            kw.update(dataloader=loader, num_epochs=2, num_processes=processes)
        sched = get_scheduler(name, opt, resume=mode, **kw)
        sched.load_state_dict(_stopped_state() if state is None else state)
        return sched

    return run


def _trainer_rescale_line(tmp: Path) -> str:
    """A SchedTrainer run (global batch 4) resumed from step 6 with accumulation 2 (global batch 8) and
    --lr_scheduler_resume rescale (accumulation, not the per-device batch: transformers 4.x puts the checkpoint's
    per-device batch back on resume, 5.x keeps the arguments')."""
    spec = importlib.util.spec_from_file_location("trainer_ddp_reliability_doc", ROOT / "tests" / "scripts" /
                                                  "trainer_ddp.py")
    ddp = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ddp)
    import torch
    from transformers import PrinterCallback, ProgressCallback

    from hf_sched.integrations.transformers import SchedTrainer, SchedTrainingArguments

    g = torch.Generator().manual_seed(1)
    data = [{"input_ids": torch.randint(1, ddp.VOCAB, (8,), generator=g), "labels": i % 2} for i in range(48)]

    def trainer(out: str, **kw: Any) -> Any:
        kw = {"per_device_train_batch_size": 4, **kw}
        args = SchedTrainingArguments(output_dir=out, num_train_epochs=2, report_to=[], use_cpu=True,
                                      save_lr_curve=False, disable_tqdm=True, lr_scheduler_type="warmupcosine", **kw)
        t = SchedTrainer(model=ddp.make_model(), args=args, train_dataset=data)
        t.remove_callback(PrinterCallback)
        t.remove_callback(ProgressCallback)
        return t

    first = str(tmp / "trainer-resume" / "first")
    trainer(first, save_strategy="steps", save_steps=6, max_steps=6, lr_scheduler_horizon=24).train()
    again = trainer(str(tmp / "trainer-resume" / "again"), gradient_accumulation_steps=2, lr_scheduler_resume="rescale",
                    save_strategy="no")
    return printed(lambda: again.train(resume_from_checkpoint=f"{first}/checkpoint-6"))


def _resume_mode_cases(tmp: Path) -> list[Case]:
    """Issue 23: every resume mode (what it says) and every refusal, in the library and the Trainer."""
    from hf_sched import get_scheduler

    area = "Runs that change: resume modes, horizon, decay from here (a plain loop of 32 steps on 1 process, " \
           "stopped at step 12, unless said)"
    no_record = _stopped_state()
    del no_record["examples_seen"]
    wsd = dict(name="wsd", num_training_steps=100, num_warmup_steps=10)

    def trainer_parse(*argv: str) -> str:
        from transformers import HfArgumentParser

        from hf_sched.integrations.transformers import SchedTrainingArguments

        parser = HfArgumentParser(SchedTrainingArguments)
        return raised(lambda: parser.parse_args_into_dataclasses([*argv, "--output_dir", str(tmp / "parse"),
                                                                  "--report_to", "none"]))

    return [
        Case(area, "`get_scheduler(..., resume='rescaled')`",
             lambda: raised(lambda: get_scheduler("warmupcosine", _optimizer(), num_training_steps=10,
                                                  resume="rescaled"))),
        Case(area, "`get_scheduler(..., strict=False, resume='replan')`",
             lambda: raised(lambda: get_scheduler("warmupcosine", _optimizer(), num_training_steps=10, strict=False,
                                                  resume="replan"))),
        Case(area, "`sched.load_state_dict(state)` on 2 processes (strict, the default)",
             lambda: raised(_resumed(None))),
        Case(area, "`resume='checkpoint'` on 2 processes", lambda: warned(_resumed("checkpoint"))),
        Case(area, "`resume='rescale'` on 2 processes", lambda: printed(_resumed("rescale"))),
        Case(area, "`resume='replan'` on 2 processes with peak LR 2e-3", lambda: printed(_resumed("replan", peak=2e-3))),
        Case(area, "`resume='rescale'` with an old checkpoint (no `examples_seen`)",
             lambda: raised(_resumed("rescale", no_record))),
        Case(area, "`resume='rescale'` of a checkpoint at step 30 into a 16-step run, `at_step=17`",
             lambda: raised(lambda: get_scheduler("warmupcosine", _optimizer(), num_training_steps=16,
                                                  resume="rescale").load_state_dict(_stopped_state(stop=30),
                                                                                    at_step=17))),
        Case(area, "`resume='rescale'` of a `constantlr` run (no total)",
             lambda: raised(_resumed("rescale", _stopped_state("constantlr"), name="constantlr",
                                     num_warmup_steps=0, num_training_steps=None))),
        Case(area, "`get_scheduler('warmupcosine', opt, max_steps=100, horizon=50)`",
             lambda: raised(lambda: get_scheduler("warmupcosine", _optimizer(), max_steps=100, horizon=50))),
        Case(area, "`decay_from_here=20` resuming a WSD run of 100 steps at step 40",
             lambda: printed(_resumed(None, _stopped_state(stop=40, **wsd), decay_from_here=20, **wsd))),
        Case(area, "`decay_from_here=20` resuming a `warmupcosine` run", lambda: raised(_resumed(None, decay_from_here=20))),
        Case(area, "`decay_from_here=20` resuming a WSD run at step 5 (warmup 10)",
             lambda: raised(_resumed(None, _stopped_state(stop=5, **wsd), decay_from_here=20, **wsd))),
        Case(area, "`decay_from_here=61` resuming a WSD run of 100 steps at step 40",
             lambda: raised(_resumed(None, _stopped_state(stop=40, **wsd), decay_from_here=61, **wsd))),
        Case(area, "`decay_from_here=0.5` resuming a `constantlr` run without a total",
             lambda: raised(_resumed(None, _stopped_state("constantlr"), name="constantlr", num_training_steps=None,
                                     decay_from_here=0.5))),
        Case(area, "`decay_from_here=20, resume='rescale'` resuming a WSD run",
             lambda: raised(_resumed("rescale", _stopped_state(stop=40, **wsd), decay_from_here=20, **wsd))),
        Case(area, "`get_scheduler('wsd', opt, num_training_steps=100, decay_from_here='soon')`",
             lambda: raised(lambda: get_scheduler("wsd", _optimizer(), num_training_steps=100,
                                                  decay_from_here="soon"))),
        Case(area, "Trainer `--lr_scheduler_resume rescaled`", lambda: trainer_parse("--lr_scheduler_resume", "rescaled")),
        Case(area, "Trainer `--lr_scheduler_resume rescale --lr_scheduler_strict_resume true`",
             lambda: trainer_parse("--lr_scheduler_resume", "rescale", "--lr_scheduler_strict_resume", "true")),
        Case(area, "Trainer `--max_steps 100 --lr_scheduler_horizon 50`",
             lambda: trainer_parse("--max_steps", "100", "--lr_scheduler_horizon", "50")),
        Case(area, "Trainer `--lr_scheduler_decay_from_here soon`",
             lambda: trainer_parse("--lr_scheduler_decay_from_here", "soon")),
        Case(area, "SchedTrainer (batch 4, 24 steps) stopped at step 6, resumed with "
                   "`--gradient_accumulation_steps 2 --lr_scheduler_resume rescale`", lambda: _trainer_rescale_line(tmp)),
    ]


# --------------------------------------------------------------------------- all of them


def build_cases(tmp: Path) -> list[Case]:
    """Every case, in the order of the document; files they need go under ``tmp``."""
    return [*_library_cases(), *_lr_cases(), *_resume_mode_cases(tmp), *_cli_cases(), *_recipe_argument_cases(),
            *_data_cases(tmp), *_checkpoint_cases(tmp), *_lock_cases(tmp), *_other_scheduler_cases(),
            *_trainer_cases(tmp), *_run_cases(tmp), *_recipe_resume_cases(tmp)]


def run_cases(cases: Sequence[Case], tmp: Path) -> list[tuple[Case, str]]:
    """Each case with its normalised message."""
    return [(case, normalise(case.run(), tmp)) for case in cases]
