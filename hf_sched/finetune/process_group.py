"""End a multi-process run without torch's gloo teardown deadlock.

What hangs (torch 2.13, gloo, seen here in about 1 two-process launch in 7 on a busy 2-core
machine): the last reference to the process group's C++ object is often held by a
``DistributedDataParallel`` module's ``reducer``, not by ``torch.distributed``. Then
``destroy_process_group()`` only unregisters the group, and the group is really destroyed
later, when the DDP module is freed (typically as ``main()`` returns and its locals go). The
reducer is freed with the GIL held; the group's destructor joins its gloo worker thread; and
that thread, still finishing the work of the last barrier, waits for the GIL to release the
Python state the work captured. Each waits for the other, forever: the rank never exits, its
peer has already gone, and the launcher waits (or gives up and leaves an orphan).

The fix is the order: free every DDP module's reducer (and the logger that holds it) while
the group is still registered. The group's last reference is then a Python ``ProcessGroup``
object (c10d's registry's, or the DDP module's ``process_group``), and torch binds that one
with a destructor that releases the GIL before it joins the threads. Then wait for every rank
and destroy the group. Measured here (``benchmarks/teardown_hangs.py``, 40 two-process launches
per ending, two launches at a time): 3 hung with Accelerate's own ``wait_for_everyone();
end_training()``, none with this.
:func:`end_process_group` does that for an ``Accelerator`` (or Accelerate's ``PartialState``).
It is meant for the very end of a run: a DDP module whose reducer was freed cannot train on.

Example (one process: nothing to free, nothing to destroy):
    >>> release_ddp_reducers()
    0
"""

from __future__ import annotations

import gc
from typing import Any

__all__ = ["release_ddp_reducers", "end_process_group"]


def release_ddp_reducers() -> int:
    """Free the reducer (and its logger) of every live ``DistributedDataParallel``; return how many.

    Example:
        >>> release_ddp_reducers()    # no DDP module alive
        0
    """
    from torch.nn.parallel import DistributedDataParallel

    released = 0
    for obj in gc.get_objects():
        # type(), not isinstance(): isinstance() asks a weakref proxy for its __class__, and a dead
        # proxy (any library may leave one) raises ReferenceError. A live proxy's DDP module is
        # itself among the objects, so nothing is missed.
        if issubclass(type(obj), DistributedDataParallel) and "reducer" in obj.__dict__:
            obj.__dict__.pop("logger", None)   # holds the reducer too
            del obj.__dict__["reducer"]
            released += 1
    if released:
        gc.collect()
    return released


def end_process_group(accelerator: Any) -> None:
    """Free the DDP reducers, wait for every rank, then destroy the process group and close trackers.

    ``accelerator`` is an ``accelerate.Accelerator`` (its ``end_training()`` also finishes the
    trackers) or an ``accelerate.PartialState``. Call it once, after the last use of the model
    in training mode. Without a process group it only closes the trackers.

    Example:
        >>> from accelerate import PartialState
        >>> end_process_group(PartialState(cpu=True))    # one process: nothing to do
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        release_ddp_reducers()
        accelerator.wait_for_everyone()
    if hasattr(accelerator, "end_training"):
        accelerator.end_training()
    else:
        accelerator.destroy_process_group()
