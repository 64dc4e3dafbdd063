"""``hf_sched.finetune.data_position``: examples seen, and where a run with other batches picks them up.

The recipe's real numbers: 250 examples per epoch; one process with batches of 16 and two
micro-batches per optimizer step (32 examples, 8 steps per epoch), or two processes with the
same per-device batch (64 examples, 4 steps per epoch).
"""

from __future__ import annotations

import pytest

from hf_sched.finetune.data_position import DataPosition, order_change, place_resumed_run, position_after, resume_place

N = 250
GROUPED_16 = {"group_by_length": True, "batch_size": 16}


def test_examples_seen_count_every_micro_batch_and_stop_at_the_epochs_end():
    # 1 process, batch 16: 8 micro-batches = 128 examples; all 16 (the last of 10) = the next epoch's start
    assert position_after(0, 8, examples_per_micro_batch=16, epoch_examples=N).examples_seen == 128
    end = position_after(0, 16, examples_per_micro_batch=16, epoch_examples=N)
    assert (end.epoch, end.examples, end.examples_seen) == (1, 0, 250)
    # 2 processes, batch 16 each: a micro-batch of the run is 32 examples
    assert position_after(1, 4, examples_per_micro_batch=32, epoch_examples=N).examples_seen == 250 + 128


@pytest.mark.parametrize("checkpoint_steps", range(0, 13))
def test_a_one_process_checkpoint_lands_on_a_two_process_step_exactly_when_its_step_is_even(checkpoint_steps):
    """Every checkpoint of the 12-step one-process run, placed in the 6-step two-process run."""
    epoch, step_in_epoch = divmod(checkpoint_steps, 8)
    seen = position_after(epoch, step_in_epoch * 2, examples_per_micro_batch=16, epoch_examples=N).examples_seen
    place = resume_place(seen, epoch_examples=N, examples_per_micro_batch=32, gradient_accumulation_steps=2,
                         steps_per_epoch=4)
    # the two-process run's own steps, counted the same way, reach the same examples seen
    ran = position_after(place.epoch, place.skip, examples_per_micro_batch=32, epoch_examples=N).examples_seen
    assert ran == place.examples_seen <= seen
    assert place.step == place.epoch * 4 + place.skip // 2 and place.skip % 2 == 0
    if checkpoint_steps % 2 == 0:
        assert (place.examples_seen, place.step, place.note) == (seen, checkpoint_steps // 2, None)
    else:  # half a two-process step: it continues one step earlier and says what it trains on again
        assert place.step == checkpoint_steps // 2
        assert f"{seen - place.examples_seen} examples are trained on again" in place.note


def test_back_from_two_processes_to_one_is_exact_everywhere():
    for steps in range(0, 7):
        epoch, in_epoch = divmod(steps, 4)
        seen = position_after(epoch, in_epoch * 2, examples_per_micro_batch=32, epoch_examples=N).examples_seen
        place = resume_place(seen, epoch_examples=N, examples_per_micro_batch=16, gradient_accumulation_steps=2,
                             steps_per_epoch=8)
        assert place.note is None and place.examples_seen == seen and place.step == epoch * 8 + in_epoch * 2


def test_the_position_round_trips_through_json():
    here = position_after(1, 3, examples_per_micro_batch=16, epoch_examples=N, order=GROUPED_16)
    data = here.to_dict()
    assert data == {"epoch": 1, "examples": 48, "epoch_examples": 250, "examples_seen": 298, "order": GROUPED_16}
    assert DataPosition.from_dict(data) == here


def test_order_changes_are_named():
    saved = DataPosition(0, 128, N, GROUPED_16)
    assert order_change(saved, N, GROUPED_16) is None
    assert "(batch_size: 16 -> 8)" in order_change(saved, N, {"group_by_length": True, "batch_size": 8})
    assert "(examples per epoch: 250 -> 500)" in order_change(saved, 500, GROUPED_16)
    random_order = DataPosition(0, 128, N, {"group_by_length": False})
    assert order_change(random_order, N, {"group_by_length": False}) is None  # a random order ignores the batch


def test_a_resumed_run_is_placed_by_examples_seen_or_an_older_checkpoints_steps():
    geometry = {"epoch_examples": N, "examples_per_micro_batch": 32, "gradient_accumulation_steps": 2,
                "steps_per_epoch": 4}
    # step 5 of the one-process run (160 examples), grouped by 16: inside a two-process step, and another order
    saved = {"completed_steps": 5, "data_position": position_after(0, 10, examples_per_micro_batch=16, epoch_examples=N,
                                                                    order=GROUPED_16).to_dict()}
    place, notes = place_resumed_run(saved, order={"group_by_length": True, "batch_size": 8}, **geometry)
    assert (place.epoch, place.skip, place.step, place.examples_seen) == (0, 4, 2, 128)
    assert [note.split(" (")[0] for note in notes] == [
        "the checkpoint's 160 examples seen lie inside an optimizer step of this run", "the epochs' order differs "
        "from the checkpoint's"]
    # an older recipe's state (no data position; resumed with its own settings): its steps are this run's
    place, notes = place_resumed_run({"completed_steps": 6}, order=GROUPED_16, **geometry)
    assert (place.epoch, place.skip, place.step, place.examples_seen, notes) == (1, 4, 6, 378, [])


@pytest.mark.parametrize("call, message", [
    (lambda: position_after(-1, 0, examples_per_micro_batch=16, epoch_examples=N),
     "epoch=-1 is invalid: it must be an integer >= 0"),
    (lambda: position_after(0, 0, examples_per_micro_batch=0, epoch_examples=N),
     "examples_per_micro_batch=0 is invalid: it must be an integer >= 1"),
    (lambda: resume_place(1.5, epoch_examples=N, examples_per_micro_batch=16, gradient_accumulation_steps=1,
                          steps_per_epoch=8), "examples_seen=1.5 is invalid: it must be an integer >= 0"),
    (lambda: DataPosition.from_dict({"epoch": 0, "examples": 250, "epoch_examples": 250}),
     "data_position['examples']=250 is invalid: it must be less than epoch_examples (250)"),
    (lambda: DataPosition.from_dict({"epoch": "0", "examples": 0, "epoch_examples": 250}),
     "data_position['epoch']='0' is invalid: it must be an integer >= 0"),
    (lambda: DataPosition.from_dict([]), "data_position=[] is invalid: it must be a JSON object"),
])
def test_bad_values_are_refused_naming_them(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert str(info.value) == message
