"""Check a built HTML documentation: every public name has its own entry, and the pages render.

    python scripts/check_docs_anchors.py [docs/_build/html]

Run by ``.ci/run`` and ``nox -s docs`` right after ``sphinx-build``. It imports bwcolor and
lists what is public: each module of ``PUBLIC_MODULES``, every function and class in its
``__all__``, and every public method and property a class defines itself or inherits from a
bwcolor class (``Colorizer.save`` comes from ``PresetModel``), not those inherited from Keras. Each must have an anchor (an HTML ``id``, as ``bwcolor.Colorizer.fit``) somewhere in
the built pages, which Sphinx gives only to an entry that autodoc rendered. It also checks that
the model card is rendered as a page (its tables and its picture, not Markdown source) and that
the landing page shows the before/after picture. And that the site reads well offline:

- no page loads a script or stylesheet from the network (``http(s)://`` or ``//``);
- no gallery page prints a repr (``<... object at 0x...>``, ``<Figure size ...>``) or a path of
  the temporary folder the examples ran in;
- no class is shown as ``(*args, **kwargs)`` (a Keras layer shows its ``__init__``'s
  parameters);
- the guide and the model card show their sections in the left navigation.

Methods a class implements for Keras without a docstring of its own (``call``, ``get_config``:
:func:`keras_protocol`) need no entry: its page names them, and Keras documents them.
Exits 1 and names everything missing.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import re
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The modules docs/api.rst documents; keep the two lists the same.
PUBLIC_MODULES = (
    "bwcolor",
    "bwcolor.data",
    "bwcolor.color",
    "bwcolor.color.ops",
    "bwcolor.hints",
    "bwcolor.architectures",
    "bwcolor.architectures.efficientnet_lite",
    "bwcolor.losses",
    "bwcolor.device_crops",
    "bwcolor.metrics",
    "bwcolor.postprocessing",
    "bwcolor.evaluation",
    "bwcolor.plotting",
    "bwcolor.app",
)
# Named in the docs' text and the README: the check fails if they ever stop being public.
REQUIRED = tuple(f"bwcolor.Colorizer.{m}" for m in ("fit", "colorize", "evaluate", "save", "from_preset"))
REQUIRED += ("bwcolor.data.sample_photo",)


def _is_bwcolor(klass):
    return klass.__module__.split(".")[0] == "bwcolor"


def keras_protocol(cls):
    """Names of the methods ``cls`` (or a bwcolor base of it) overrides from a base class that is
    not bwcolor's (Keras' ``call``, ``get_config``, ``compute_output_shape``...) without a
    docstring: Keras' protocol, documented by Keras. Their API entries would be empty."""
    mro = inspect.getmro(cls)
    foreign = [k for k in mro if not _is_bwcolor(k) and k is not object]
    names = set()
    for klass in (k for k in mro if _is_bwcolor(k)):
        for attr, value in vars(klass).items():
            function = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
            if (not attr.startswith("_") and inspect.isfunction(function) and not function.__doc__
                    and any(hasattr(k, attr) for k in foreign)):
                names.add(attr)
    return names


def expected_anchors():
    """``{anchor: what it is}`` for every public module, function, class, method and property.

    A name exported by two public modules (``bwcolor.DatasetReport`` is
    ``bwcolor.data.DatasetReport``) is one object and needs one entry: its anchors are joined
    with " or ", and any one of them will do.
    """
    entries = {}  # id(object) -> [kind, anchors]; dicts keep the first-seen order

    def add(key, anchor, kind):
        entries.setdefault(key, [kind, []])[1].append(anchor)

    for modname in PUBLIC_MODULES:
        module = importlib.import_module(modname)
        add(("module", modname), f"module-{modname}", "module")
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if inspect.isclass(obj):
                add(id(obj), f"{modname}.{name}", "class")
                # Keras' own classes are documented by Keras; bwcolor's base classes are not.
                mine = [k for k in inspect.getmro(obj) if _is_bwcolor(k)]
                members = {}
                for klass in reversed(mine):  # the class's own definition wins
                    members.update(vars(klass))
                protocol = keras_protocol(obj)
                for attr, value in members.items():
                    if attr.startswith("_") or attr in protocol:
                        continue
                    if isinstance(value, (staticmethod, classmethod, property)) or inspect.isfunction(value):
                        add((id(obj), attr), f"{modname}.{name}.{attr}", "method or property")
            elif callable(obj):
                add(id(obj), f"{modname}.{name}", "function")
            # Constants (DEFAULT_TEMPERATURE, SPLITS, ...) are described in their module's text.
    expected = {" or ".join(anchors): kind for kind, anchors in entries.values()}
    for anchor in REQUIRED:
        if not any(anchor in key.split(" or ") for key in expected):
            expected[anchor] = "required"
    return expected


_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
         "track", "wbr"}


class _Page(HTMLParser):
    """The ids, tables, images, remote scripts and stylesheets, printed outputs, class
    signatures and left-navigation links of one HTML page."""

    def __init__(self):
        super().__init__()
        self.ids, self.images, self.tables = set(), [], 0
        self.remote, self.outputs, self.signatures, self.nav_links = [], [], {}, 0
        self._open = []  # [tag, what it is, its text so far] of the elements the parser is in

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        elif tag == "table":
            self.tables += 1
        elif tag == "a" and attrs.get("href") and any(k == "sidebar" for _, k, _ in self._open):
            self.nav_links += 1
        address = attrs.get("src") if tag == "script" else (
            attrs.get("href") if tag == "link" and "stylesheet" in (attrs.get("rel") or "") else None)
        if address and re.match(r"(https?:)?//", address):
            self.remote.append(address)
        if tag in _VOID:
            return
        kind = None
        if "sidebar-primary-items__start" in classes:  # the left navigation (not the header's
            kind = "sidebar"                              # links, repeated there for phones)
        elif any(c.startswith("sphx-glr-script-out") for c in classes):
            kind = "output"
        elif tag == "dt" and "sig" in classes and attrs.get("id"):
            kind = "signature:" + attrs["id"]
        self._open.append([tag, kind, []])

    def handle_endtag(self, tag):
        if not any(open_tag == tag for open_tag, _, _ in self._open):
            return
        while True:
            open_tag, kind, text = self._open.pop()
            if kind == "output":
                self.outputs.append("".join(text))
            elif kind and kind.startswith("signature:"):
                self.signatures[kind.partition(":")[2]] = " ".join("".join(text).split())
            if open_tag == tag:
                break

    def handle_data(self, data):
        for _, kind, text in self._open:
            if kind and kind != "sidebar":
                text.append(data)


def _parse(path):
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


# What a gallery page must not print: a repr that means nothing to a reader, or where the example
# happened to put its files.
_NOISE = re.compile(r"<[\w.]+ object at 0x[0-9a-f]+>|<Figure size [^>]*>|(?:"
                    + "|".join(re.escape(t.rstrip("/\\")) for t in {tempfile.gettempdir(), "/tmp"})
                    + r")[/\\][^\s'\"<>,]*")
# Pages whose sections the left navigation must list.
_NAVIGATED = ("guide.html", "model_card.html")


def check(html_dir):
    """Return the list of problems found in the built docs (empty when all is well)."""
    html_dir = Path(html_dir)
    if not (html_dir / "index.html").is_file():
        return [f"no built documentation: {html_dir / 'index.html'} does not exist "
                "(run sphinx-build first)"]
    problems = []
    pages = {p.relative_to(html_dir).as_posix(): _parse(p) for p in html_dir.rglob("*.html")}
    found = set().union(*(p.ids for p in pages.values()))
    for anchors, kind in sorted(expected_anchors().items()):
        if not found.intersection(anchors.split(" or ")):
            problems.append(f"no entry for {anchors} ({kind}): no HTML page has such an id")

    card = pages.get("model_card.html")
    if card is None:
        problems.append("the model card is not a page: model_card.html is missing")
    else:
        # docs/model_card.md has 4 tables; rendered as Markdown source it would have none.
        if card.tables < 4:
            problems.append(f"model_card.html should show the model card's 4 tables. Received: {card.tables}")
        if not any("model_card_sheet" in src for src in card.images):
            problems.append(f"model_card.html does not show model_card_sheet.png. Received images: {card.images}")
    if not any("castle_before_after" in src for src in pages["index.html"].images):
        problems.append("index.html does not show castle_before_after.png. "
                        f"Received images: {pages['index.html'].images}")
    for page_name in ("model_card.html", "index.html"):
        for src in pages.get(page_name, _Page()).images:
            if not re.match(r"[a-z]+:", src) and not (html_dir / src).is_file():
                problems.append(f"{page_name} shows an image that was not copied: {src!r}")
    for name, page in sorted(pages.items()):
        for address in page.remote:
            problems.append(f"{name} loads {address} from the network: the site must work offline")
        for output in page.outputs:
            for noise in sorted(set(_NOISE.findall(output))):
                problems.append(f"{name} prints {noise!r}: print what the example means to show")
        for anchor, signature in sorted(page.signatures.items()):
            if "(*args, **kwargs)" in signature and anchor.startswith("bwcolor."):
                problems.append(f"{name} shows {anchor} as (*args, **kwargs): show its "
                                "__init__'s parameters")
    for name in _NAVIGATED:
        if name in pages and pages[name].nav_links == 0:
            problems.append(f"{name} has an empty left navigation: it should list the page's sections")
    return problems


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("html_dir", nargs="?", type=Path, default=ROOT / "docs" / "_build" / "html")
    args = p.parse_args(argv)
    problems = check(args.html_dir)
    for problem in problems:
        print(f"check_docs_anchors: {problem}", file=sys.stderr)
    if problems:
        print(f"check_docs_anchors: {len(problems)} problem(s) in {args.html_dir}", file=sys.stderr)
        return 1
    print(f"check_docs_anchors: {len(expected_anchors())} public names, each with its own entry; "
          f"model card and landing page rendered ({args.html_dir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
