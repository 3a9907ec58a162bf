"""DatasetReport: how many files were found, used, and skipped for which reason."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

__all__ = ["SKIP_REASONS", "DatasetReport", "printable"]


def printable(path):
    """A path as text that any terminal can print: undecodable bytes become \\xNN escapes."""
    return str(path).encode("utf-8", "backslashreplace").decode("utf-8")

#: Why a file can be left out of training, in the words the report prints.
SKIP_REASONS = {
    "not_image": "not an image (content is no known image format)",
    "damaged": "damaged: named as an image (.jpg, .png, ...) but its content is no image",
    "unreadable": "corrupt, truncated or unreadable",
    "too_large": "over Pillow's decompression-bomb pixel limit",
    "too_small": "smaller than the training crop",
    "near_gray": "near-gray (mean Lab chroma below the threshold; would teach desaturation)",
    "not_found": "vanished or a broken link",
    "not_regular": "not a regular file (named pipe, socket or device; never opened)",
    "unsupported": "an image format no installed Pillow plugin decodes (e.g. HEIC)",
}


@dataclass
class DatasetReport:
    """What a scan of training files found. Nothing is dropped without a line here.

    Attributes
    ----------
    root : str or None
        The folder scanned, if any.
    found : int
        Files looked at.
    used : dict
        Files kept per split (``train``, ``validation``, ``test``).
    skipped : Counter
        Files left out per reason (keys of :data:`SKIP_REASONS`).
    examples : dict
        Up to ``max_examples`` paths (with the error text) per reason.
    duplicates : int
        Photos used that are copies of an earlier one (the same pixels): each is in its
        original's split, so no photo is both trained on and held out.
    duplicate_examples : list of str
        Up to ``max_examples`` of them, as ``"copy = original"``.
    """

    root: str | None = None
    found: int = 0
    used: dict = field(default_factory=lambda: {"train": 0, "validation": 0, "test": 0})
    skipped: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)
    max_examples: int = 5
    duplicates: int = 0
    duplicate_examples: list = field(default_factory=list)

    def skip(self, path, reason, detail=""):
        self.skipped[reason] += 1
        shown = self.examples.setdefault(reason, [])
        if len(shown) < self.max_examples:
            shown.append(printable(path) + (f": {printable(detail)}" if detail else ""))

    def duplicate(self, path, original):
        """Count ``path`` as a copy of ``original`` (both used, in one split)."""
        self.duplicates += 1
        if len(self.duplicate_examples) < self.max_examples:
            self.duplicate_examples.append(f"{printable(path)} = {printable(original)}")

    @property
    def n_used(self):
        return sum(self.used.values())

    @property
    def n_skipped(self):
        return sum(self.skipped.values())

    def as_dict(self):
        return {
            "root": self.root,
            "found": self.found,
            "used": dict(self.used),
            "skipped": dict(self.skipped),
            "examples": {k: list(v) for k, v in self.examples.items()},
            "duplicates": self.duplicates,
            "duplicate_examples": list(self.duplicate_examples),
        }

    def summary(self):
        """One line: files found, used, and skipped by reason (most common first)."""
        reasons = ", ".join(f"{count} {reason.replace('_', '-')}" for reason, count in
                            sorted(self.skipped.items(), key=lambda kv: -kv[1]))
        where = f" in {printable(self.root)}" if self.root else ""
        files = "1 file" if self.found == 1 else f"{self.found} files"
        copies = (f"; {self.duplicates} {'is a copy' if self.duplicates == 1 else 'are copies'} "
                  f"of other photos, kept in their split" if self.duplicates else "")
        return (f"{files}{where}, {self.n_used} used, {self.n_skipped} skipped"
                + (f" ({reasons})" if reasons else "") + copies)

    def __str__(self):
        where = f" in {printable(self.root)}" if self.root else ""
        u = self.used
        lines = [
            f"Dataset{where}: {self.found} files, {self.n_used} used "
            f"(train {u['train']}, validation {u['validation']}, test {u['test']}), "
            f"{self.n_skipped} skipped."
        ]
        for reason, count in sorted(self.skipped.items(), key=lambda kv: -kv[1]):
            lines.append(f"  skipped {count}: {SKIP_REASONS.get(reason, reason)}")
            for example in self.examples.get(reason, []):
                lines.append(f"    {example}")
        if self.duplicates:
            lines.append(f"  copies of other photos (the same pixels) {self.duplicates}: each in "
                         f"its original's split, never both trained on and held out")
            lines += [f"    {example}" for example in self.duplicate_examples]
        return "\n".join(lines)
