"""scripts/check_docs_anchors.py, which .ci/run and `nox -s docs` run on the built HTML: it must
list every public method and fail, naming it, when an entry or the model card's tables are missing."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _load_checker():
    spec = importlib.util.spec_from_file_location("check_docs_anchors", ROOT / "scripts" / "check_docs_anchors.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_check_lists_every_public_method_of_colorizer():
    expected = _load_checker().expected_anchors()
    for method in ("fit", "colorize", "evaluate", "save", "from_preset"):
        assert f"bwcolor.Colorizer.{method}" in expected
    assert "bwcolor.data.sample_photo" in expected and "module-bwcolor.color.ops" in expected
    # One object exported by two modules needs one entry, under either name.
    assert "bwcolor.DatasetReport or bwcolor.data.DatasetReport" in expected
    # Methods a class inherits from Keras are documented by Keras, not required here.
    assert "bwcolor.losses.RebalancedCrossEntropy.from_config" not in expected


def _fake_site(folder, ids, tables=4):
    folder.mkdir()
    (folder / "_images").mkdir()
    for name in ("castle_before_after.png", "model_card_sheet.png"):
        (folder / "_images" / name).write_bytes(b"")
    anchors = "".join(f'<dt id="{i}"></dt>' for i in ids)
    (folder / "index.html").write_text(f'<img src="_images/castle_before_after.png">{anchors}')
    (folder / "model_card.html").write_text("<table></table>" * tables
                                            + '<img src="_images/model_card_sheet.png">')


def test_docs_check_passes_a_complete_site_and_names_what_is_missing(tmp_path):
    checker = _load_checker()
    expected = [a for anchors in checker.expected_anchors() for a in anchors.split(" or ")]
    _fake_site(tmp_path / "complete", expected)
    assert checker.check(tmp_path / "complete") == []
    _fake_site(tmp_path / "partial", [a for a in expected if a != "bwcolor.Colorizer.fit"], tables=0)
    problems = checker.check(tmp_path / "partial")
    assert any("bwcolor.Colorizer.fit" in p for p in problems)
    assert any("4 tables" in p for p in problems)
    assert checker.main([str(tmp_path / "partial")]) == 1
    assert checker.check(tmp_path / "nothing")[0].startswith("no built documentation")


def _undocumented_parameters(function):
    """Parameters of ``function`` that its numpydoc does not describe: not named under
    Parameters, or named with a bare type (``int``) and no text."""
    import inspect

    from numpydoc.docscrape import FunctionDoc

    described = {}
    for parameter in FunctionDoc(function)["Parameters"]:
        kind = parameter.type.replace(", optional", "").strip()
        says_something = bool(" ".join(parameter.desc).strip()) or any(c in kind for c in " ,{")
        for name in parameter.name.split(","):
            described[name.strip()] = says_something
    return [name for name in inspect.signature(function).parameters
            if name not in ("self", "cls") and not described.get(name, False)]


def test_the_colorizers_workflow_methods_describe_every_parameter():
    from bwcolor import Colorizer

    for method in ("fit", "colorize", "evaluate", "resume", "save", "from_preset"):
        assert _undocumented_parameters(getattr(Colorizer, method)) == [], method
