"""Hostile inputs to the API and to hints files give one clear ValueError, never an
OverflowError, a RecursionError, a hang or a silently accepted wrong type (issue #29, "One line,
never a traceback"): huge integers, deep nesting, byte-order marks, named pipes, empty hint
lists for a batch, and architecture_config values of the wrong type."""

import contextlib
import json
import os
import re
import threading

import numpy as np
import pytest

from bwcolor import Colorizer
from bwcolor._arguments import check_positive
from bwcolor.hints import Hint, load_hints_file, parse_color, parse_hints

HUGE = 10 ** 400  # a float cannot hold it: float() and math.isfinite() raise OverflowError


# ------------------------------------------------------------------ hints: numbers
@pytest.mark.parametrize("key", ["x", "y", "radius"])
@pytest.mark.parametrize("form", ["dict", "tuple", "Hint"])
def test_an_int_too_large_for_a_float_is_a_value_error_naming_the_key(key, form):
    values = {"x": 1, "y": 2, "color": "red", "radius": 3, key: HUGE}
    item = {"dict": values, "tuple": (values["x"], values["y"], "red", values["radius"]),
            "Hint": Hint(values["x"], values["y"], "red", values["radius"])}[form]
    with pytest.raises(ValueError, match=rf"hint 0: {key} must be a finite number\. "
                                         rf"Received: {key}=an int of about 401 digits$"):
        parse_hints([item], 10, 10)


def test_a_huge_int_in_a_malformed_hint_is_shown_short():
    with pytest.raises(ValueError) as info:
        parse_hints([{"x": 10 ** 5000, "y": 1}], 10, 10)  # repr() itself refuses 5000 digits
    assert str(info.value) == ("hint 0: a hint has keys x, y, color and optionally radius. "
                               "Received: a dict too large to print")


def test_api_numbers_too_large_for_a_float_are_value_errors():
    from bwcolor._arguments import shown

    with pytest.raises(ValueError, match=re.escape(
            "annealing_temperature must be a finite number > 0. "
            "Received: annealing_temperature=an int of about 401")):
        check_positive("annealing_temperature", HUGE)
    assert shown([1] * 1000).endswith("(3000 characters)")


# ------------------------------------------------------------------ hints: colors
@pytest.mark.parametrize("value, rgb", [("rgb(122, 82, 48)", (122, 82, 48)),
                                        ("rgba(122.4, 81.6, 48, 1)", (122, 82, 48)),
                                        ("RGB(0,0,255)", (0, 0, 255))])
def test_css_functional_colors_as_color_pickers_write_them(value, rgb):
    assert parse_color(value) == rgb


@pytest.mark.parametrize("value", [f"rgb({HUGE}, 0, 0)", f"rgba(0, {'9' * 400}, 0, 1)",
                                   "rgb(256, 0, 0)", "rgb(-1, 0, 0)", "rgb(nan, 0, 0)",
                                   "rgb(1, 2)", "rgb(1.2.3, 0, 0)"])
def test_bad_functional_colors_are_value_errors(value):
    with pytest.raises(ValueError, match="a hint color must be"):
        parse_color(value)


# ------------------------------------------------------------------ hints files
def test_a_deeply_nested_hints_file_is_a_value_error(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match="nested too deeply"):
        load_hints_file(path)


def test_a_hints_file_with_an_integer_python_will_not_parse(tmp_path):
    path = tmp_path / "long.json"
    path.write_text('[{"x": %s, "y": 1, "color": "red"}]' % ("1" * 5000))
    with pytest.raises(ValueError, match=r"is not valid JSON: it holds an integer of more digits"):
        load_hints_file(path)


def test_a_hints_file_with_a_huge_position_fails_in_parse_hints(tmp_path):
    path = tmp_path / "huge.json"
    path.write_text(json.dumps([{"x": HUGE, "y": 1, "color": "red"}]))
    with pytest.raises(ValueError, match="x must be a finite number"):
        parse_hints(load_hints_file(path))


def test_a_hints_file_with_a_utf8_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "notepad.json"
    hints = [{"x": 1, "y": 2, "color": "#7a5230"}]
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(hints).encode())
    assert load_hints_file(path) == hints


def _load_within(path, seconds=10):
    """load_hints_file(path) in a daemon thread: its ValueError, or a failure if it hangs."""
    outcome = {}

    def load():
        try:
            outcome["value"] = load_hints_file(path)
        except Exception as e:  # the test inspects it
            outcome["error"] = e

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"load_hints_file({str(path)!r}) still waits after {seconds} s")
    return outcome


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_hints_file_that_is_a_named_pipe_is_refused_without_waiting(tmp_path):
    fifo = tmp_path / "hints.json"
    os.mkfifo(fifo)
    try:
        outcome = _load_within(fifo)
    finally:
        # Frees a reader stuck in open() (the test has failed then); OSError: none waits.
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    error = outcome.get("error")
    assert isinstance(error, ValueError), outcome
    assert "named pipe (FIFO), not a regular file" in str(error) and "\n" not in str(error)


@pytest.mark.parametrize("path, kind", [(os.devnull, "a device"), (".", "a folder")])
def test_a_hints_file_that_is_no_regular_file_is_refused(path, kind):
    error = _load_within(path).get("error")
    assert isinstance(error, ValueError) and f"it is {kind}, not a regular file" in str(error)


# ------------------------------------------------------------------ colorize's hints argument
@pytest.fixture(scope="module")
def tiny_hint_colorizer():
    return Colorizer("default", image_size=32, loss="mse",
                     architecture_config={"hints": True, "global_context": False,
                                          "widths": (8, 8), "blocks": (1, 1)})


@pytest.mark.parametrize("takes_hints", [True, False])
@pytest.mark.parametrize("empty", [[], ()])
def test_an_empty_hint_list_means_no_hints_for_each_photo_of_a_batch(takes_hints, empty):
    from bwcolor.preprocessing import Preprocessor

    pre = Preprocessor(32, 8, hints=takes_hints)
    gray = np.zeros((40, 48), np.uint8)
    prepared, single = pre.prepare([gray, gray, gray])
    assert pre.check_hints(empty, prepared, single) == [[], [], []]
    prepared, single = pre.prepare(gray)
    assert pre.check_hints(empty, prepared, single) == [[]]


@pytest.mark.slow
def test_an_empty_hint_list_is_automatic_mode_for_a_batch_too(tiny_hint_colorizer):
    gray = np.tile(np.linspace(0, 255, 48, dtype=np.uint8), (40, 1))
    automatic = tiny_hint_colorizer.colorize([gray, gray])
    for empty in ([], ()):
        out = tiny_hint_colorizer.colorize([gray, gray], hints=empty)
        assert len(out) == 2
        for a, b in zip(out, automatic):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="for a list of 2 photos, hints must be a list of 2"):
        tiny_hint_colorizer.colorize([gray, gray], hints=[[(1, 1, "red")]])


@pytest.mark.slow
def test_an_empty_hint_list_is_automatic_mode_on_a_model_without_hints():
    c = Colorizer("wallner_alpha", image_size=32)
    gray = np.zeros((32, 32), np.uint8)
    assert len(c.colorize([gray, gray], hints=[])) == 2


# ------------------------------------------------------------------ architecture_config types
@pytest.mark.parametrize("config, message", [
    ({"hints": "yes"}, "architecture_config['hints'] must be a bool (true or false) for "
                       "architecture 'default'. Received: hints='yes'"),
    ({"hints": 1}, "architecture_config['hints'] must be a bool"),
    ({"members": 2.5}, "architecture_config['members'] must be an int"),
    ({"members": True}, "architecture_config['members'] must be an int"),
    ({"widths": 8}, "architecture_config['widths'] must be a list"),
    ({"global_context": "false"}, "architecture_config['global_context'] must be a bool"),
    ({"hint_width": "32"}, "architecture_config['hint_width'] must be an int"),
])
def test_architecture_config_values_of_the_wrong_type_are_refused_by_name(config, message):
    with pytest.raises(ValueError, match="^" + re.escape(f"config: {message}")):
        Colorizer("default", image_size=32, architecture_config=config)


@pytest.mark.parametrize("config", [{"width_scale": HUGE}, {"width_scale": float("nan")},
                                    {"backbone_weights": 3}])
def test_architecture_config_numbers_and_strings_of_another_architecture(config):
    with pytest.raises(ValueError, match=r"architecture_config\['(width_scale|backbone_weights)'\] "
                                         r"must be .* for architecture 'wallner_full'"):
        Colorizer("wallner_full", image_size=32, architecture_config=config)


def test_architecture_config_of_the_right_types_is_accepted():
    c = Colorizer("default", image_size=32, architecture_config={
        "hints": True, "widths": [8, 8], "blocks": (1, 1), "hint_width": 8,
        "global_context": False, "hint_reach": None})
    assert c.accepts_hints


def test_a_preset_whose_config_is_nested_too_deeply_is_a_value_error(tmp_path):
    (tmp_path / "config.json").write_text('{"architecture": ' + "[" * 100_000 + "]" * 100_000
                                          + "}")
    (tmp_path / "model.weights.h5").write_bytes(b"")
    with pytest.raises(ValueError, match="nested too deeply"):
        Colorizer.from_preset(tmp_path)


@pytest.mark.parametrize("key", ["learning_rate", "annealing_temperature"])
def test_a_preset_number_too_large_for_a_float_is_a_value_error(key):
    from bwcolor.presets import validate_config

    config = {"architecture": "default", "image_size": 32, "loss": "mse", key: HUGE}
    with pytest.raises(ValueError, match=f"{key} must be > 0. Received: {key}=an int of about"):
        validate_config(config, registries=False)
    config = {"architecture": "default", "image_size": 32, "loss": "mse",
              "loss_config": {"weights": [1.0, HUGE]}}
    with pytest.raises(ValueError, match=r"loss_config\.weights must be a list of finite numbers"):
        validate_config(config, registries=False)
