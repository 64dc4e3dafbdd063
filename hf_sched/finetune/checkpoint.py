"""Recipe checkpoints you can trust: a manifest written last, verified before any resume.

A checkpoint is a folder ``step_N`` / ``epoch_E`` holding what ``accelerator.save_state``
writes (``model.safetensors``, ``optimizer.bin``, ``scheduler.bin``, ``random_states_<rank>.pkl``
...), the recipe's own :data:`STATE` (``training_state.json``: steps done, LR log, evaluations)
and, last, :data:`MANIFEST` (``manifest.json``): the size and SHA-256 of every other file and
the run signature (the settings a resumed run must share). :func:`save_checkpoint` writes it
all into ``<name>.tmp`` and renames the folder into place, so a checkpoint is whole or absent;
the manifest itself is written to a temporary file and ``os.replace``-d.

:func:`verify_checkpoint` lists what is wrong with a folder (a missing, truncated or changed
file; no manifest), naming the file. :func:`choose_checkpoint` turns ``--resume_from_checkpoint``
into a folder: an explicitly named checkpoint that is not whole is refused; ``latest`` falls
back to the newest whole one and says which it skipped and why. :func:`load_checkpoint`
refuses a checkpoint written with other settings and reports a file that does not unpickle
as corrupt (never with advice to unpickle it unsafely).

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp()) / "step_1"
    >>> folder.mkdir()
    >>> _ = (folder / "model.safetensors").write_bytes(b"weights")
    >>> _ = (folder / STATE).write_text('{"completed_steps": 1}')
    >>> _ = write_manifest(folder, {"learning_rate": 5e-5}, completed_steps=1)
    >>> verify_checkpoint(folder)
    []
    >>> _ = (folder / "model.safetensors").write_bytes(b"weightz")
    >>> verify_checkpoint(folder)
    ['model.safetensors: its SHA-256 differs from the manifest (the file is corrupt)']
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

__all__ = [
    "MANIFEST",
    "STATE",
    "CHECKPOINT_PREFIXES",
    "CheckpointError",
    "file_sha256",
    "write_json_atomically",
    "write_manifest",
    "verify_checkpoint",
    "checkpoint_folders",
    "choose_checkpoint",
    "signature_changes",
    "resume_changes",
    "save_checkpoint",
    "read_checkpoint",
    "restore_checkpoint",
    "load_checkpoint",
    "checkpoint_lr",
]

MANIFEST = "manifest.json"
STATE = "training_state.json"
CHECKPOINT_PREFIXES = ("step_", "epoch_")
_FORMAT = 1
_CHUNK = 1 << 20


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed exactly; the message names the folder and the cause."""


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks.

    Example:
        >>> import tempfile
        >>> path = tempfile.mktemp()
        >>> _ = open(path, "wb").write(b"abc")
        >>> file_sha256(path)[:16]
        'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_json_atomically(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as JSON to ``path`` through ``path.tmp`` + fsync + ``os.replace``: all or nothing."""
    target = Path(path)
    partial = target.with_name(target.name + ".tmp")
    with open(partial, "w") as handle:
        json.dump(data, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, target)
    return target


def write_manifest(folder: str | os.PathLike, signature: dict[str, Any], completed_steps: int) -> Path:
    """Record size and SHA-256 of every file under ``folder`` (the manifest last, atomically).

    Returns the manifest's path. Call it after every other file of the checkpoint is written.
    """
    root = Path(folder)
    files = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        if relative in (MANIFEST, MANIFEST + ".tmp"):
            continue
        files[relative] = {"size": path.stat().st_size, "sha256": file_sha256(path)}
    manifest = {"format": _FORMAT, "completed_steps": int(completed_steps), "signature": signature, "files": files}
    return write_json_atomically(root / MANIFEST, manifest)


def _read_manifest(folder: Path) -> tuple[dict[str, Any] | None, str | None]:
    path = folder / MANIFEST
    if not path.is_file():
        return None, f"no {MANIFEST} (the checkpoint was never finished, or an older recipe wrote it)"
    try:
        manifest = json.loads(path.read_text())
        if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
            raise ValueError("it lacks the 'files' table")
    except (OSError, ValueError) as exc:
        return None, f"{MANIFEST} is unreadable ({' '.join(str(exc).split())})"
    return manifest, None


def verify_checkpoint(folder: str | os.PathLike) -> list[str]:
    """What is wrong with a checkpoint folder, one line per problem; ``[]`` when it is whole.

    Checks that the manifest exists and parses, and that every file it lists exists with
    the recorded size and SHA-256 (the size first, so a truncated file is named as such).
    """
    root = Path(folder)
    manifest, problem = _read_manifest(root)
    if manifest is None:
        return [str(problem)]
    problems = []
    for relative, entry in manifest["files"].items():
        path = root / relative
        if not path.is_file():
            problems.append(f"{relative} is missing")
            continue
        size = path.stat().st_size
        if size != entry.get("size"):
            problems.append(f"{relative} has {size} bytes where the manifest says {entry.get('size')} (truncated or overwritten)")
        elif file_sha256(path) != entry.get("sha256"):
            problems.append(f"{relative}: its SHA-256 differs from the manifest (the file is corrupt)")
    if STATE not in manifest["files"]:
        problems.append(f"the manifest lists no {STATE}")
    return problems


def _completed_steps(folder: Path) -> int:
    manifest, _ = _read_manifest(folder)
    if manifest is not None and isinstance(manifest.get("completed_steps"), int):
        return manifest["completed_steps"]
    if folder.name.startswith("step_") and folder.name[5:].isdigit():
        return int(folder.name[5:])
    return -1


def checkpoint_folders(output_dir: str | os.PathLike) -> list[Path]:
    """Checkpoint folders in ``output_dir`` (whole or not), newest first.

    Newest = most optimizer steps (from the manifest, or the ``step_N`` name), then the
    folder's modification time. Unfinished ``*.tmp`` / ``*.old`` folders are not listed.
    """
    root = Path(output_dir)
    if not root.is_dir():
        return []
    folders = [
        p for p in root.iterdir()
        if p.is_dir() and p.name.startswith(CHECKPOINT_PREFIXES) and not p.name.endswith((".tmp", ".old"))
    ]
    keyed = []
    for folder in folders:
        try:  # another process may remove a folder meanwhile (--overwrite_output_dir on the main one)
            keyed.append(((_completed_steps(folder), folder.stat().st_mtime), folder))
        except FileNotFoundError:
            continue
    return [folder for _, folder in sorted(keyed, key=lambda item: item[0], reverse=True)]


def choose_checkpoint(
    output_dir: str | os.PathLike,
    request: str | None,
    *,
    overwrite: bool = False,
    announce: Callable[[str], None] = print,
    may_delete: bool = True,
) -> Path | None:
    """The checkpoint to resume from for ``--resume_from_checkpoint request`` (``None``: a fresh run).

    * ``None``: a fresh run. Checkpoints of an earlier run in ``output_dir`` are refused,
      or deleted with ``overwrite`` (only where ``may_delete``: the main process).
    * ``"latest"``: the newest complete checkpoint; every newer one that is not whole is
      announced with its problems. No checkpoint at all: a fresh run (announced). Only
      broken ones: refused.
    * a folder: that checkpoint, refused unless it is whole.

    Raises:
        CheckpointError: the message names the folder(s) and what is wrong.
    """
    root = Path(output_dir)
    if request is None:
        old = checkpoint_folders(root)
        if old and not overwrite:
            raise CheckpointError(
                f"--output_dir {str(root)!r} already holds checkpoints ({', '.join(p.name for p in old)}) of an "
                "earlier run; pass --resume_from_checkpoint latest to continue it, --overwrite_output_dir to start "
                "afresh, or another --output_dir"
            )
        if may_delete:
            for folder in old:
                shutil.rmtree(folder)
        return None
    if request == "latest":
        skipped: list[tuple[str, str]] = []
        for folder in checkpoint_folders(root):
            problems = verify_checkpoint(folder)
            if not problems:
                for name, why in skipped:
                    announce(f"notice: --resume_from_checkpoint latest: skipping {name}, it is not complete: {why}")
                if skipped:
                    announce(f"notice: resuming from the newest complete checkpoint, {folder.name}")
                return folder
            skipped.append((folder.name, "; ".join(problems)))
        if skipped:
            listing = " | ".join(f"{name}: {why}" for name, why in skipped)
            raise CheckpointError(
                f"--resume_from_checkpoint latest: no complete checkpoint in {str(root)!r} ({listing}); "
                "start afresh with --overwrite_output_dir or choose another --output_dir"
            )
        announce(f"--resume_from_checkpoint latest: no checkpoint in {root}; starting a fresh run")
        return None
    folder = Path(request)
    problems = verify_checkpoint(folder)
    if problems:
        raise CheckpointError(
            f"--resume_from_checkpoint {str(folder)!r} is not a complete checkpoint: {'; '.join(problems)}; "
            "give another step_N/epoch_E folder, or 'latest' for the newest complete one"
        )
    return folder


def signature_changes(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """``"key: saved -> current"`` for every setting that differs (keys of either side).

    Example:
        >>> signature_changes({"learning_rate": 5e-5, "seed": 1}, {"learning_rate": 1e-4, "seed": 1})
        ['learning_rate: 5e-05 -> 0.0001']
    """
    keys = list(current) + [k for k in saved if k not in current]
    return [f"{k}: {saved.get(k)!r} -> {current.get(k)!r}" for k in keys if saved.get(k) != current.get(k)]


def resume_changes(folder: str | os.PathLike, saved: dict[str, Any], current: dict[str, Any], *,
                   resume: str = "strict", budget_keys: Iterable[str] = (), plan_keys: Iterable[str] = ()) -> list[str]:
    """The setting changes a resume in mode ``resume`` accepts (``"key: saved -> now"``); refuses the rest.

    * ``strict``: no change at all; the refusal lists the changes and the other modes.
    * ``checkpoint`` / ``rescale``: a change of ``budget_keys`` (processes, batch, accumulation,
      epochs, dataset length); a change of ``plan_keys`` (peak LR, weight decay, schedule) is
      applied only by ``replan``, so it is refused, never ignored.
    * ``replan``: ``budget_keys`` and ``plan_keys``.
    * any other key (model, data, seed...) never changes on resume.

    Raises:
        CheckpointError: one line naming the folder, the changes and what to do.

    Example:
        >>> resume_changes("step_4", {"batch_size": 16}, {"batch_size": 8}, resume="rescale",
        ...                budget_keys=["batch_size"])
        ['batch_size: 16 -> 8']
    """
    from hf_sched.resume_modes import other_modes

    where = f"cannot resume from {str(folder)!r}"
    changes = signature_changes(saved, current)
    if not changes:
        return []
    if resume == "strict":
        raise CheckpointError(
            f"{where}: it was written with other settings ({', '.join(changes)}), so the run would not continue the "
            "same curve; resume with the checkpoint's settings, choose how the run continues: "
            f"{other_modes('strict', '--lr_scheduler_resume {mode}')}; or start a fresh run (--overwrite_output_dir "
            "or another --output_dir)"
        )
    budget, plan = set(budget_keys), set(plan_keys)
    keys = [k for k in list(current) + [k for k in saved if k not in current] if saved.get(k) != current.get(k)]
    fixed = [c for k, c in zip(keys, changes) if k not in budget | plan]
    if fixed:
        raise CheckpointError(
            f"{where}: it was written with another {', '.join(fixed)}, which no --lr_scheduler_resume mode changes "
            "(only the processes, batches, epochs, dataset length and, with replan, the schedule, peak LR and weight "
            "decay may differ); resume with the checkpoint's value or start a fresh run"
        )
    replanned = [c for k, c in zip(keys, changes) if k in plan]
    if replanned and resume != "replan":
        raise CheckpointError(
            f"{where} with --lr_scheduler_resume {resume}: {', '.join(replanned)} is a new plan, which only "
            "--lr_scheduler_resume replan applies (it prints the LR jump); resume with the checkpoint's value or "
            "with --lr_scheduler_resume replan"
        )
    return changes


def save_checkpoint(accelerator: Any, output_dir: str | os.PathLike, name: str, state: dict[str, Any],
                    signature: dict[str, Any]) -> Path:
    """``accelerator.save_state`` + :data:`STATE` + the manifest, into ``output_dir/name``, atomically.

    Every process calls it (each saves its own RNG state); the main process writes the
    recipe's state and the manifest, then renames ``name.tmp`` to ``name`` (an older
    folder of that name is moved aside first and removed after).
    """
    root = Path(output_dir)
    final, partial, old = root / name, root / f"{name}.tmp", root / f"{name}.old"
    main = accelerator.is_main_process
    if main:
        for leftover in (partial, old):
            if leftover.exists():
                shutil.rmtree(leftover)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(partial))
    accelerator.wait_for_everyone()
    if main:
        write_json_atomically(partial / STATE, state)
        write_manifest(partial, signature, state["completed_steps"])
        if final.exists():
            os.replace(final, old)
        os.replace(partial, final)
        if old.exists():
            shutil.rmtree(old)
    accelerator.wait_for_everyone()
    return final


def _describe_load_error(exc: BaseException, relative: str) -> str:
    """What is wrong with a file that does not load, in our words for a pickle.

    torch's own text for a damaged pickle varies with the bytes (``pop from empty list``,
    ``KeyError: 133``, advice to set ``weights_only=False``): a ``.bin`` file is described
    the same way whatever it raised, and no advice to unpickle unsafely is ever passed on.
    """
    name = type(exc).__name__
    text = " ".join(str(exc).split())
    if relative.endswith(".bin") or "weights_only" in text or "pickle" in text.lower():
        return f"{name}: it does not unpickle as plain tensors and numbers"
    return f"{name}: {text[:300]}"


def _check_loadable(root: Path, manifest: dict[str, Any], process_index: int, exact: bool = True) -> None:
    """Open every file the way it will be loaded, so a failure names the file.

    Accelerate skips an unreadable RNG file with an info log (the run would then continue
    inexactly), so this process's ``random_states_<rank>.pkl`` must exist when the resume is
    ``exact`` (a run resumed on more processes than wrote the checkpoint has none for the new ones).
    """
    import torch
    from safetensors import safe_open

    rng = f"random_states_{process_index}.pkl"
    if exact and not (root / rng).is_file():
        raise CheckpointError(f"cannot resume from {str(root)!r}: {rng} is missing, so the random state of process "
                              f"{process_index} could not be restored and the run would not continue exactly")
    for relative in manifest["files"]:
        path = root / relative
        try:
            with warnings.catch_warnings():  # torch warns about the "protocol" of random bytes
                warnings.simplefilter("ignore")
                if relative.endswith(".safetensors"):
                    with safe_open(str(path), framework="pt") as handle:
                        list(handle.keys())
                elif relative.endswith(".bin"):
                    torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # safetensors, pickle and torch raise many types for a damaged file
            raise CheckpointError(
                f"cannot resume from {str(root)!r}: {relative} is corrupt ({_describe_load_error(exc, relative)})"
            ) from None


def read_checkpoint(folder: str | os.PathLike, signature: dict[str, Any], *, resume: str = "strict",
                    budget_keys: Iterable[str] = (), plan_keys: Iterable[str] = ()) -> tuple[dict[str, Any], list[str]]:
    """The recipe's state of a whole checkpoint and the setting changes ``resume`` accepts.

    Refuses (``CheckpointError``) a manifest that does not read, settings the mode does not
    accept (:func:`resume_changes`), an unreadable :data:`STATE`, and other settings for a
    checkpoint whose state records no ``data_position`` (an older recipe's: the run could not
    find its place in the data, and a guess is never made). Nothing is loaded yet.
    """
    root = Path(folder)
    manifest, problem = _read_manifest(root)
    if manifest is None:
        raise CheckpointError(f"cannot resume from {str(root)!r}: {problem}")
    changes = resume_changes(root, manifest.get("signature", {}), signature, resume=resume,
                             budget_keys=budget_keys, plan_keys=plan_keys)
    try:
        state = json.loads((root / STATE).read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"cannot resume from {str(root)!r}: {STATE} is unreadable ({exc})") from None
    if "data_position" in state:
        from hf_sched.finetune.data_position import DataPosition

        try:
            DataPosition.from_dict(state["data_position"])
        except ValueError as exc:
            raise CheckpointError(f"cannot resume from {str(root)!r}: {STATE} is invalid ({exc})") from None
    if changes and "data_position" not in state:
        raise CheckpointError(
            f"cannot resume from {str(root)!r} with other settings ({', '.join(changes)}): it records no examples "
            "seen (an older recipe wrote it), so this run cannot find its place in the data; resume it with its own "
            "settings (--lr_scheduler_resume strict) or start a fresh run"
        )
    return state, changes


class _ModeRefused(CheckpointError):
    """The scheduler refused the resume in the chosen mode (its message, not a damaged file)."""


@contextmanager
def _scheduler_mode(folder: Path, schedulers: Iterable[Any], resume: str, at_step: int | None) -> Iterator[None]:
    """Make ``accelerator.load_state``'s plain ``scheduler.load_state_dict(state)`` load in mode ``resume``.

    Accelerate passes no arguments, so the mode and the new step are bound to the scheduler's
    ``load_state_dict`` for the duration (an instance attribute, removed after). What the mode
    refuses (``ValueError``) becomes a ``CheckpointError`` with its own message, not "corrupt".
    """
    bound = []
    for wrapper in schedulers:
        inner = getattr(wrapper, "scheduler", wrapper)  # accelerate's AcceleratedScheduler wraps ours
        original = inner.load_state_dict

        def load(state: dict[str, Any], _original: Callable[..., None] = original) -> None:
            try:
                _original(state, resume=resume, at_step=at_step)
            except ValueError as exc:
                raise _ModeRefused(f"cannot resume from {str(folder)!r} with --lr_scheduler_resume {resume}: "
                                   f"{' '.join(str(exc).split())}") from None

        inner.load_state_dict = functools.update_wrapper(load, original)
        bound.append(inner)
    try:
        yield
    finally:
        for inner in bound:
            del inner.load_state_dict


def restore_checkpoint(accelerator: Any, folder: str | os.PathLike, *, resume: str = "strict",
                       at_step: int | None = None, schedulers: Iterable[Any] = ()) -> None:
    """``accelerator.load_state`` from a whole checkpoint, the ``schedulers`` loaded in mode ``resume``.

    ``at_step``: this run's optimizer step at the checkpoint's examples seen (rescale, replan).
    A resume in another mode than strict may run on more processes than wrote the checkpoint:
    the new ones have no random state to restore (they keep the seeded one).
    """
    import pickle

    root = Path(folder)
    manifest, problem = _read_manifest(root)
    if manifest is None:
        raise CheckpointError(f"cannot resume from {str(root)!r}: {problem}")
    _check_loadable(root, manifest, accelerator.process_index, exact=resume == "strict")
    try:
        with _scheduler_mode(root, schedulers, resume, at_step):  # a mode's refusal in one line, never "corrupt"
            accelerator.load_state(str(root))  # model, optimizer, scheduler, sampler and RNG states
    except CheckpointError:
        raise
    except (pickle.UnpicklingError, EOFError, RuntimeError, ValueError, KeyError, IndexError, OSError) as exc:
        named = next((f for f in manifest["files"] if f in str(exc)), None)
        where = f"{named} is corrupt" if named else "one of its files is corrupt"
        raise CheckpointError(
            f"cannot resume from {str(root)!r}: {where} ({_describe_load_error(exc, named or '')})"
        ) from None


def load_checkpoint(accelerator: Any, folder: str | os.PathLike, signature: dict[str, Any]) -> dict[str, Any]:
    """Resume ``accelerator``'s objects from a whole checkpoint of the same settings; return the recipe's state.

    Refuses (``CheckpointError``) a checkpoint written with other settings (listing each
    change and the ``--lr_scheduler_resume`` modes) and one whose files do not load (the file
    is named when the error says which). Call :func:`choose_checkpoint` first: it checks that
    the files are the ones written. :func:`read_checkpoint` + :func:`restore_checkpoint` do the
    same in two steps, for a resume in another mode.
    """
    state, _ = read_checkpoint(folder, signature)
    restore_checkpoint(accelerator, folder)
    return state


def checkpoint_lr(folder: str | os.PathLike) -> float:
    """The LR the checkpoint's run would have used at its next optimizer step.

    ``max_i base_lr_i * f_i(step)`` of the ``ScheduledLR`` state in ``scheduler.bin``, the largest
    over the param groups (as the recipe logs its LR): the "before" of a resumed run's LR jump.
    """
    import torch

    from hf_sched.schedules import schedule_from_dict

    state = torch.load(Path(folder) / "scheduler.bin", map_location="cpu", weights_only=True)
    return max(float(base) * float(schedule_from_dict(spec)(int(state["step"])))
               for base, spec in zip(state["base_lrs"], state["schedules"]))
