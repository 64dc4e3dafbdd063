"""Registry: names, aliases, normalisation, register(), entry-point plugins."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import hf_sched
from hf_sched import available_schedules, build_schedule, canonical_name, get_info, register, unregister
from hf_sched.registry import check_schedule_kwargs, normalize_name
from hf_sched.schedules import Linear

CANONICAL = ["constantlr", "warmupconstant", "warmuplinear", "warmupcosine", "warmupcosinewithhardrestarts",
             "noam", "polynomial", "inverse_sqrt"]


def test_canonical_names_are_registered_first():
    names = available_schedules()
    assert names[: len(CANONICAL)] == CANONICAL


@pytest.mark.parametrize("alias,name", [
    ("WarmupCosine", "warmupcosine"), ("warmup-cosine", "warmupcosine"), ("warmup_cosine", "warmupcosine"),
    ("Warmup Cosine", "warmupcosine"), ("cosine", "warmupcosine"), ("linear", "warmuplinear"),
    ("hard-restarts", "warmupcosinewithhardrestarts"), ("cosine_with_restarts", "warmupcosinewithhardrestarts"),
    ("constant", "constantlr"), ("constant_with_warmup", "warmupconstant"), ("WSD", "warmup_stable_decay"),
    ("inverse-sqrt", "inverse_sqrt"), ("ReduceLROnPlateau", "reduce_lr_on_plateau"),
])
def test_aliases_and_normalisation(alias, name):
    assert canonical_name(alias) == name


def test_transformers_enum_values_are_accepted():
    from transformers.trainer_utils import SchedulerType

    for member in SchedulerType:
        assert get_info(member).name == canonical_name(member.value)


def test_every_entry_has_a_description_and_kwargs():
    for info in hf_sched.iter_schedules():
        assert info.description and "\n" not in info.description, info.name
        assert isinstance(info.kwargs, dict)
    assert get_info("warmupcosine").kwargs == {"num_cycles": 0.5, "min_lr_ratio": 0.0, "warmup_start": 0.0,
                                              "warmup_shape": "linear"}
    assert get_info("polynomial").uses_lr and not get_info("warmupcosine").uses_lr
    assert "no warmup" in get_info("constantlr").description.lower()


def test_register_and_unregister_a_user_schedule():
    @register("half-linear", aliases=("halflin",), description="linear decay to half")
    def half(*, num_training_steps, num_warmup_steps, floor=0.5):
        return Linear(num_training_steps, num_warmup_steps, min_lr_ratio=floor)

    try:
        assert canonical_name("HALF_LINEAR") == "half-linear" == canonical_name("halflin")
        s = build_schedule("half-linear", num_training_steps=20)
        assert s.num_warmup_steps == 2 and s(20) == 0.5
        assert check_schedule_kwargs("half-linear", {"floor": 0.1}) == {"floor": 0.1}
        with pytest.raises(ValueError, match="already registered"):
            register("half-linear", half)
        with pytest.raises(ValueError, match="schedule name 'warmupcosine' is already registered as 'warmupcosine'"):
            register("Warmup-Cosine", half)
    finally:
        unregister("half-linear")
    with pytest.raises(ValueError, match="unknown schedule name"):
        canonical_name("half-linear")


def test_normalize_name():
    assert normalize_name(" Cosine_With-Restarts") == "cosinewithrestarts"


def _install_plugin(root, package: str, source: str, entry_point: str) -> None:
    """A real installed-distribution layout under ``root``: the package and a .dist-info with entry_points.txt."""
    pkg = root / package
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent(source))
    dist = root / f"{package}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package.replace('_', '-')}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[hf_sched.schedules]\n{entry_point}\n")


def test_entry_point_plugin_is_found(tmp_path):
    """A real installed-distribution layout on sys.path (a .dist-info with entry_points.txt)."""
    _install_plugin(tmp_path, "my_sched_plugin", '''
        from hf_sched.schedules import Cosine

        def quarter_cosine(*, num_training_steps, num_warmup_steps, num_cycles=0.25):
            return Cosine(num_training_steps, num_warmup_steps, num_cycles=num_cycles)

        quarter_cosine.description = "cosine over a quarter wave (plugin)"
        quarter_cosine.aliases = ("qcos",)
    ''', "quarter_cosine = my_sched_plugin:quarter_cosine")
    code = textwrap.dedent('''
        import sys
        sys.path.insert(0, sys.argv[1])
        import hf_sched
        info = hf_sched.get_info("QCOS")
        s = hf_sched.build_schedule("quarter-cosine", num_training_steps=100, num_warmup_steps=0)
        print(info.name, info.description, round(s(100), 12), "quarter_cosine" in hf_sched.available_schedules())
    ''')
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["quarter_cosine", "cosine", "over", "a", "quarter", "wave", "(plugin)", "0.5", "True"]


def test_import_is_light():
    code = "import sys, hf_sched; hf_sched.canonical_name('cosine'); hf_sched.build_schedule('noam', num_training_steps=9, num_warmup_steps=3)(5); print(sorted(m for m in ('torch', 'transformers', 'accelerate', 'numpy', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---- register() checks the factory's signature when it is registered ----------------------


def _pos_only(num_training_steps, num_warmup_steps, /):
    return Linear(num_training_steps, num_warmup_steps)


def _extra_pos_only(floor, /, *, num_training_steps, num_warmup_steps):
    return Linear(num_training_steps, num_warmup_steps, min_lr_ratio=floor)


BAD_FACTORIES = [
    (lambda *, num_training_steps: Linear(num_training_steps), False,
     r"factory '<lambda>' for schedule 'bad' must accept the keyword argument 'num_warmup_steps' \(it is called as "
     r"factory\(\*, num_training_steps, num_warmup_steps, \*\*kwargs\)\); its signature is \(\*, num_training_steps\)"),
    (lambda steps, warmup: Linear(steps, warmup), False,
     r"must accept the keyword argument 'num_training_steps'"),
    (_pos_only, False, r"factory '_pos_only' for schedule 'bad' takes 'num_training_steps' positional-only, but it is "
                       r"passed by keyword"),
    (_extra_pos_only, False, r"factory '_extra_pos_only' for schedule 'bad' has the required positional-only "
                             r"parameter 'floor', which the registry cannot pass"),
    (lambda optimizer, *, num_training_steps, num_warmup_steps: None, False,
     r"requires 'optimizer', which only adaptive factories receive; register it with adaptive=True"),
    (lambda *, patience=3: None, True,
     r"factory '<lambda>' for schedule 'bad' is adaptive and is called as factory\(optimizer, \*\*kwargs\), but its "
     r"signature \(\*, patience=3\) takes no positional argument for the optimizer"),
    (lambda optimizer, mode, /: None, True, r"has the required positional-only parameter 'mode'"),
    (len, False, r"factory 'len' for schedule 'bad' must accept the keyword argument 'num_training_steps'"),
    (max, False, r"factory 'max' for schedule 'bad' has no readable signature \(no signature found for builtin "
                 r".*\); register a Python function or class"),
]


@pytest.mark.parametrize("factory, adaptive, message", BAD_FACTORIES)
def test_register_refuses_a_factory_it_could_not_call(factory, adaptive, message):
    with pytest.raises(TypeError, match=message):
        register("bad", factory, adaptive=adaptive)
    with pytest.raises(ValueError, match="unknown schedule name 'bad'"):
        canonical_name("bad")  # nothing was registered


def test_register_accepts_every_signature_the_registry_can_call():
    def with_kwargs(**kwargs):
        return Linear(kwargs["num_training_steps"], kwargs["num_warmup_steps"])

    def positional_or_keyword(num_training_steps, num_warmup_steps, floor=0.5, lr_init=None):
        return Linear(num_training_steps, num_warmup_steps, min_lr_ratio=floor)

    def plateau(opt, /, *, patience=3):
        return ("plateau", opt, patience)

    try:
        register("ok-kwargs", with_kwargs)
        register("ok-poskw", positional_or_keyword)
        register("ok-plateau", plateau, adaptive=True, has_warmup=False)
        assert build_schedule("ok-kwargs", num_training_steps=10, num_warmup_steps=0)(5) == 0.5
        assert build_schedule("ok-poskw", num_training_steps=10, num_warmup_steps=0, floor=0.2)(10) == 0.2
        assert get_info("ok-poskw").kwargs == {"floor": 0.5} and get_info("ok-poskw").uses_lr
        assert get_info("ok-plateau").kwargs == {"patience": 3}  # the optimizer is no schedule argument
        assert get_info("ok-plateau").factory("OPT", patience=1) == ("plateau", "OPT", 1)
    finally:
        for name in ("ok-kwargs", "ok-poskw", "ok-plateau"):
            unregister(name)


def test_a_plugin_with_a_wrong_signature_is_skipped_with_a_warning(tmp_path):
    _install_plugin(tmp_path, "bad_sched_plugin", "def wrong(steps):\n    return None\n", "wrong_one = bad_sched_plugin:wrong")
    code = textwrap.dedent('''
        import sys, warnings
        sys.path.insert(0, sys.argv[1])
        import hf_sched
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            names = hf_sched.available_schedules()
        print("wrong_one" in names, "warmupcosine" in names)
        print([str(w.message) for w in caught])
    ''')
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    first, second = out.stdout.splitlines()
    assert first == "False True"
    assert "skipping the hf_sched plugin 'wrong_one' (bad_sched_plugin:wrong): factory 'wrong' for schedule " in second
    assert "must accept the keyword argument 'num_training_steps'" in second
