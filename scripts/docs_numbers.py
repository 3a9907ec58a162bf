"""The numbers the docs quote, from one file, and a check that every page says the same.

    python scripts/docs_numbers.py            # check the pages; exit 1 naming each disagreement
    python scripts/docs_numbers.py --write    # rewrite README.md's copies from docs/numbers.json

``docs/numbers.json`` states once each number (or sentence) that more than one page quotes, with
the command that measures it. ``docs/conf.py`` makes each a substitution: ``|name|`` in the
reStructuredText pages, ``{{ name }}`` in the Markdown ones. README.md, which GitHub shows as it
is, keeps a copy between ``<!--n:name-->`` and ``<!--/n-->``. Run by ``.ci/run`` and
``nox -s docs`` before the build. It fails, naming the file and the number, when

- a README copy differs from ``docs/numbers.json`` (``--write`` puts the value in);
- a value marked ``"preset": "NAME:key.path"`` differs from that bundled preset's
  ``metadata.json`` (the pages would describe another model than the one shipped);
- a page uses a name that ``docs/numbers.json`` does not define, or a name is used nowhere;
- a page states one of the values literally (a number with two decimals or more, such as
  11.63, or a sentence) instead of through its name: that copy would not follow the file.
  ``docs/experiments.md``, the dated record of earlier models, keeps its own numbers;
- a page for users (README.md, the docs, the gallery's examples) speaks of the work behind it
  rather than to its reader: an issue number ("issue #15"), a work session, "checked ad hoc".
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NUMBERS = Path("docs") / "numbers.json"
README = Path("README.md")
# The pages Sphinx builds from docs/ (experiments.md, a dated record, is checked for names only).
RECORD = Path("docs") / "experiments.md"
_NOT_PAGES = {Path("docs") / "package_description.md", Path("docs") / "images" / "README.md"}

WORK_LOG = re.compile(r"\bissues? #?\d+|#\d+\b|\bsession \d+|\bad[ -]hoc\b", re.I)
README_COPY = re.compile(r"<!--n:(\w+)-->(.*?)<!--/n-->", re.S)
_RST_NAME = re.compile(r"(?<![\w|])\|(\w+)\|(?![\w|])")
_MD_NAME = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def load(root=ROOT):
    """``{name: value}`` of ``docs/numbers.json`` (its entries' ``"value"``)."""
    entries = json.loads((Path(root) / NUMBERS).read_text(encoding="utf-8"))
    return {name: entry["value"] for name, entry in entries.items() if not name.startswith("_")}


def _pages(root):
    """The Sphinx source pages under docs/ (relative paths), experiments.md included."""
    docs = Path(root) / "docs"
    found = []
    for path in sorted([*docs.glob("*.rst"), *docs.glob("*.md")]):
        relative = path.relative_to(root)
        if relative not in _NOT_PAGES:
            found.append(relative)
    return found


def _names_used(text, suffix):
    return set((_RST_NAME if suffix == ".rst" else _MD_NAME).findall(text))


def _literal(value):
    """A pattern for a value stated literally, or None for a value too common to look for."""
    if re.fullmatch(r"\d+\.\d{2,}", value):
        return re.compile(rf"(?<![\d.]){re.escape(value)}(?!\d)")
    if len(value) >= 40:  # a sentence, whatever its line breaks
        return re.compile(r"\s+".join(map(re.escape, value.split())))
    return None


def _from_preset(spec, root):
    """The value that ``"NAME:key.path"`` (or ``"NAME:a.b/c.d"``, a share in %) reads."""
    preset, _, keys = spec.partition(":")
    metadata = json.loads((Path(root) / "src" / "bwcolor" / "bundled_presets" / preset
                           / "metadata.json").read_text(encoding="utf-8"))

    def read(path):
        value = metadata
        for key in path.split("."):
            value = value[key]
        return value

    if "/" in keys:
        top, bottom = keys.split("/")
        return read(top) / read(bottom) * 100
    return read(keys)


def _matches(value, actual):
    """True if the stated ``value`` is ``actual`` rounded as the statement is."""
    number = value.rstrip("%")
    decimals = len(number.partition(".")[2])
    return number == f"{actual:.{decimals}f}"


def check(root=ROOT):
    """The list of disagreements (empty when every page says what docs/numbers.json says)."""
    root = Path(root)
    entries = json.loads((root / NUMBERS).read_text(encoding="utf-8"))
    numbers = load(root)
    problems, used = [], set()
    for name, entry in entries.items():
        if name.startswith("_") or "preset" not in entry:
            continue
        try:
            actual = _from_preset(entry["preset"], root)
        except (OSError, KeyError, ValueError, TypeError) as e:
            problems.append(f"{NUMBERS}: {name} reads {entry['preset']!r}, which the bundled "
                            f"preset's metadata.json does not have ({type(e).__name__}: {e})")
            continue
        if not _matches(entry["value"], actual):
            problems.append(f"{NUMBERS}: {name} is {entry['value']}, but the bundled preset's "
                            f"metadata.json says {actual!r} ({entry['preset']})")

    readme = (root / README).read_text(encoding="utf-8")
    for name, copy in README_COPY.findall(readme):
        used.add(name)
        if name not in numbers:
            problems.append(f"{README}: <!--n:{name}--> names no number of {NUMBERS}")
        elif " ".join(copy.split()) != " ".join(numbers[name].split()):
            problems.append(f"{README}: {name} is {copy!r} there, {numbers[name]!r} in {NUMBERS} "
                            "(python scripts/docs_numbers.py --write)")
    texts = {README: README_COPY.sub("", readme)}
    for page in _pages(root):
        text = (root / page).read_text(encoding="utf-8")
        names = _names_used(text, page.suffix)
        used |= names
        for name in sorted(names - set(numbers)):
            problems.append(f"{page}: uses {name}, which {NUMBERS} does not define")
        if page != RECORD:
            texts[page] = text
    user_pages = [README, *_pages(root), *sorted(p.relative_to(root)
                                                for p in (root / "examples").glob("*.*"))]
    for page in user_pages:
        for number, line in enumerate((root / page).read_text(encoding="utf-8").splitlines(), 1):
            for words in WORK_LOG.findall(line):
                problems.append(f"{page}:{number}: says {words!r}: a page for users tells what the "
                                "software does, not the work behind it (the experiment log has the how)")
    for name in sorted(set(numbers) - used):
        problems.append(f"{NUMBERS}: {name} is used by no page (remove it, or quote it)")
    for name, value in numbers.items():
        pattern = _literal(value)
        for page, text in texts.items() if pattern else ():
            if pattern.search(text):
                how = "{{ " + name + " }}" if page.suffix == ".md" else f"|{name}|"
                if page == README:
                    how = f"<!--n:{name}-->...<!--/n-->"
                problems.append(f"{page}: states {value!r} literally; write {how} so that it "
                                f"follows {NUMBERS}")
    return problems


def write_readme(root=ROOT):
    """Rewrite README.md's copies from docs/numbers.json; returns the names it changed."""
    path = Path(root) / README
    numbers = load(root)
    changed = []

    def replace(match):
        name, copy = match.groups()
        if name in numbers and copy != numbers[name]:
            changed.append(name)
            return f"<!--n:{name}-->{numbers[name]}<!--/n-->"
        return match.group(0)

    text = README_COPY.sub(replace, path.read_text(encoding="utf-8"))
    if changed:
        sys.path.insert(0, str(Path(root) / "src"))
        from bwcolor._io import atomic_write

        with atomic_write(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    return changed


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--write", action="store_true", help="rewrite README.md's copies, then check")
    p.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.write:
        for name in write_readme(args.root):
            print(f"docs_numbers: {README}: {name} rewritten")
    problems = check(args.root)
    for problem in problems:
        print(f"docs_numbers: {problem}", file=sys.stderr)
    if problems:
        print(f"docs_numbers: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"docs_numbers: {len(load(args.root))} numbers, one source ({NUMBERS}); every page agrees")
    return 0


if __name__ == "__main__":
    sys.exit(main())
