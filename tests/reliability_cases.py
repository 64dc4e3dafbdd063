"""Every bad input of issue 15 (and issue 13), performed for real, with the line the user sees.

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
  ``save_checkpoint`` (manifest included), then damaged one way each.

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
import subprocess
import sys
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


def _last_error_line(err: str, code: Any) -> str:
    if code != 2:
        raise NoError(f"exit status {code!r}, not 2; stderr: {err!r}")
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


def _exit_line(call: Callable[[], Any]) -> str:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            call()
        except SystemExit as exc:
            return _last_error_line(err.getvalue(), exc.code)
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
    from hf_sched import get_scheduler, register
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
    ]
    import shlex

    return [Case(area, f"`hf-sched {shlex.join(argv)}`", lambda argv=argv: cli(*argv)) for argv in commands]


# --------------------------------------------------------------------------- the recipe: arguments and data


def _recipe_argument_cases() -> list[Case]:
    area = "Accelerate recipe: arguments (checked before anything loads)"
    commands = [
        ["--lr_scheduler_type", "multistep", "--max_steps", "100", "--lr_scheduler_kwargs", '{"milestones": [50, 150]}'],
        ["--lr_scheduler_kwargs", "num_cycles=2"],
        ["--warmup", "xep"],
        ["--warmup", "-1ep"],
        ["--learning_rate", "-1e-3"],
    ]
    import shlex

    return [Case(area, f"`finetune_accelerate.py {shlex.join(argv)}`", lambda argv=argv: recipe_args(*argv))
            for argv in commands]


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

    return [
        Case(area, "a second run with the `--output_dir` of a run still going", live),
        Case(area, "a run into an `--output_dir` whose last run was killed (`kill -9`; a notice, then it runs)", stale),
    ]


# --------------------------------------------------------------------------- all of them


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


def build_cases(tmp: Path) -> list[Case]:
    """Every case, in the order of the document; files they need go under ``tmp``."""
    return [*_library_cases(), *_lr_cases(), *_cli_cases(), *_recipe_argument_cases(), *_data_cases(tmp),
            *_checkpoint_cases(tmp), *_lock_cases(tmp)]


def run_cases(cases: Sequence[Case], tmp: Path) -> list[tuple[Case, str]]:
    """Each case with its normalised message."""
    return [(case, normalise(case.run(), tmp)) for case in cases]
