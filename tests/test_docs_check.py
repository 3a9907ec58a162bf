"""scripts/check_docs_anchors.py, which .ci/run and `nox -s docs` run on the built HTML: it must
list every public method and fail, naming it, when an entry or the model card's tables are missing."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _load_script(name):
    """scripts/<name>.py as a module (the scripts folder is not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load_checker():
    return _load_script("check_docs_anchors")


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
                                            + '<img src="_images/model_card_sheet.png">'
                                            + _NAV.format(links='<a href="#data">Data</a>'))


_NAV = '<div class="bd-sidebar-primary"><div class="sidebar-primary-items__start">{links}</div></div>'


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


def test_docs_check_names_what_a_reader_should_not_see(tmp_path):
    checker = _load_checker()
    expected = [a for anchors in checker.expected_anchors() for a in anchors.split(" or ")]
    site = tmp_path / "site"
    _fake_site(site, expected)
    (site / "auto_examples").mkdir()
    # What the gallery printed before: reprs of what a block ended on, and temporary paths.
    (site / "auto_examples" / "plot_08.html").write_text(
        '<div class="sphx-glr-script-out highlight-none"><pre>'
        "&lt;keras.src.callbacks.history.History object at 0x7f851db2f890&gt;\n"
        "{'backbone_weights': '/tmp/tmpyg0d793q/mobilenet.weights.h5'}</pre></div>"
        '<div class="sphx-glr-script-out"><pre>&lt;Figure size 600x400 with 1 Axes&gt;</pre></div>'
        '<div class="sphx-glr-script-out"><pre>validation loss by epoch: 0.07, 0.06</pre></div>')
    # sphinx-gallery's timing page loaded jQuery and DataTables from CDNs.
    (site / "sg_execution_times.html").write_text(
        '<script src="https://code.jquery.com/jquery-3.7.0.js"></script>'
        '<link rel="stylesheet" href="//cdn.example/x.css"><script src="_static/local.js"></script>')
    # A Keras layer's page showed Keras' __new__ signature; the guide's left navigation was empty.
    (site / "layer.html").write_text('<dl><dt class="sig sig-object py" id="bwcolor.architectures.X">'
                                     '<em>class</em> <span>X</span>(<em>*args</em>, <em>**kwargs</em>)'
                                     '</dt></dl><dt class="sig sig-object py" id="bwcolor.f">f(a, b)</dt>')
    (site / "guide.html").write_text(_NAV.format(links="") + '<div class="bd-sidebar-secondary">'
                                     '<a href="#colorizing">Colorizing</a></div>')
    problems = "\n".join(checker.check(site))
    for expected_problem in ("History object at 0x7f851db2f890", "'/tmp/tmpyg0d793q/mobilenet.weights.h5'",
                             "<Figure size 600x400",
                             "loads https://code.jquery.com/jquery-3.7.0.js", "loads //cdn.example/x.css",
                             "bwcolor.architectures.X as (*args, **kwargs)", "guide.html has an empty left"):
        assert expected_problem in problems
    assert "validation loss" not in problems and "local.js" not in problems and "bwcolor.f " not in problems
    assert len(problems.splitlines()) == 7, problems


def test_keras_protocol_methods_need_no_entry_of_their_own():
    from bwcolor.architectures import MixtureMean

    checker = _load_checker()
    assert checker.keras_protocol(MixtureMean) == {"call", "compute_output_shape", "get_config"}
    expected = checker.expected_anchors()
    assert "bwcolor.architectures.MixtureMean" in expected
    assert "bwcolor.architectures.MixtureMean.call" not in expected


def _load_numbers():
    return _load_script("docs_numbers")


def test_the_docs_quote_each_number_from_one_source():
    numbers = _load_numbers()
    assert numbers.check() == []
    # The landing page and the README described the sample photo's water differently; the guide
    # and the model card gave different cold-start times. Each is now one entry, used by both.
    pages = {p: (ROOT / p).read_text(encoding="utf-8") for p in ("docs/index.rst", "docs/guide.rst",
                                                                  "docs/model_card.md", "README.md")}
    assert "|sample_photo_colors|" in pages["docs/index.rst"]
    assert "<!--n:sample_photo_colors-->" in pages["README.md"]
    assert "|cold_start_warm_s|" in pages["docs/guide.rst"]
    assert "{{ cold_start_warm_s }}" in pages["docs/model_card.md"]


def _numbers_tree(root, readme, guide="", card=""):
    (root / "docs").mkdir(parents=True)
    preset = root / "src" / "bwcolor" / "bundled_presets" / "default"
    preset.mkdir(parents=True)
    (preset / "metadata.json").write_text('{"test_metrics": {"delta_e2000": 11.634, "colorfulness": 28.4,'
                                          ' "colorfulness_reference": 42.4}}')
    (root / "docs" / "numbers.json").write_text(
        '{"_about": "x", "de": {"value": "11.63", "preset": "default:test_metrics.delta_e2000"},'
        ' "share": {"value": "67%", "preset": "default:test_metrics.colorfulness/test_metrics.colorfulness_reference"},'
        ' "water": {"value": "Paths and stone come out warm; the water stays gray-brown."}}')
    (root / "README.md").write_text(readme)
    (root / "docs" / "guide.rst").write_text(guide)
    (root / "docs" / "model_card.md").write_text(card)


def test_the_numbers_check_names_each_disagreement_and_write_fixes_the_readme(tmp_path):
    numbers = _load_numbers()
    good = tmp_path / "good"
    _numbers_tree(good, "<!--n:water-->Paths and stone come out warm; the water stays\ngray-brown.<!--/n-->",
                  guide="|de| and |share|", card="{{ de }}")
    assert numbers.check(good) == []

    bad = tmp_path / "bad"
    _numbers_tree(bad, "<!--n:water-->the water stays gray<!--/n--> <!--n:nope-->1<!--/n--> 11.63\n"
                       "As issue #15 asked (session 6, checked ad hoc).",
                  guide="Paths and stone come out warm; the water\n   stays gray-brown. |share| |missing|")
    problems = "\n".join(numbers.check(bad))
    assert "README.md: water is 'the water stays gray' there" in problems
    assert "names no number" in problems and "uses missing" in problems
    assert "README.md: states '11.63' literally" in problems
    assert "docs/guide.rst: states 'Paths and stone" in problems
    for words in ("'issue #15'", "'session 6'", "'ad hoc'"):
        assert f"README.md:2: says {words}" in problems
    assert "de is used by no page" in problems  # a literal copy is not a use
    assert numbers.write_readme(bad) == ["water"]
    assert "<!--n:water-->Paths and stone come out warm; the water stays gray-brown.<!--/n-->" in (
        bad / "README.md").read_text()

    stale = tmp_path / "stale"  # a new bundled model, and numbers.json still quotes the old one
    _numbers_tree(stale, "", guide="|de| |share| |water|")
    metadata = stale / "src" / "bwcolor" / "bundled_presets" / "default" / "metadata.json"
    metadata.write_text(metadata.read_text().replace("11.634", "9.87"))
    assert any("de is 11.63, but the bundled preset's metadata.json says 9.87" in p
               for p in numbers.check(stale))


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
