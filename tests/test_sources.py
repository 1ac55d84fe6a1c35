"""Citations resolve: every source key used in the documentation is defined in docs/SOURCES.md.

Figures are cited by keys such as ``[Shouguang 2010] "975个行政村"``. A key that docs/SOURCES.md
does not define leaves the reader unable to find the document, an entry nobody cites is dead
weight, and the old form (numbered "seed" documents, paths into a folder outside the
repository) points at files users do not have. Every observed value a calibration file fits to or
holds out names its document the same way, or says it is an assumption.
"""

import json
import re
from pathlib import Path

import pytest

from sim.calibration import load_calibration

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "docs" / "SOURCES.md"
CITING_FOLDERS = ("docs", "scenarios", "experiments", "calibrations")
CITING_SUFFIXES = {".md", ".yaml", ".yml", ".ipynb"}

KEY = r"[A-Z][A-Za-z]+ (?:19|20)\d\d[a-z]?"
CITATION = re.compile(rf"\[({KEY})\]")
DEFINITION = re.compile(rf"^### \[({KEY})\]\s*$", re.MULTILINE)
FORBIDDEN = {
    "a 'seed NNN' source citation": re.compile(r"\bseeds? ?(?:0\d\d|NNN)\b", re.IGNORECASE),
    "the seed digest outside the repository": re.compile(r"seed[- ]digest", re.IGNORECASE),
    "a path to the seed documents": re.compile(r"\bseeds[/]"),
    "a path outside the repository": re.compile(r"/work/|\.\./shared"),
}


def citing_files() -> list[Path]:
    """README.md and the text files of docs/, scenarios/, experiments/ and calibrations/ (SOURCES.md included)."""
    files = [ROOT / "README.md"]
    for folder in CITING_FOLDERS:
        files += sorted(p for p in (ROOT / folder).rglob("*") if p.suffix in CITING_SUFFIXES and p.is_file())
    return [p for p in files if ".ipynb_checkpoints" not in p.parts]


def readable_text(path: Path) -> str:
    """A notebook's cell sources (not its outputs, which the tests do not control); any other file whole."""
    text = path.read_text(encoding="utf-8")
    if path.suffix != ".ipynb":
        return text
    return "\n".join("".join(cell["source"]) for cell in json.loads(text)["cells"])


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    return {str(path.relative_to(ROOT)): readable_text(path) for path in citing_files()}


@pytest.fixture(scope="module")
def defined() -> list[str]:
    return DEFINITION.findall(SOURCES.read_text(encoding="utf-8"))


def test_sources_defines_each_key_once(defined: list[str]) -> None:
    assert defined, "docs/SOURCES.md defines no '### [Place Year]' entries"
    duplicates = sorted({key for key in defined if defined.count(key) > 1})
    assert not duplicates, f"docs/SOURCES.md defines these keys more than once: {duplicates}"


def test_every_cited_key_is_defined_in_sources(texts: dict[str, str], defined: list[str]) -> None:
    undefined = [
        f"{name}: [{key}]" for name, text in texts.items() for key in sorted(set(CITATION.findall(text))) if key not in defined
    ]
    assert not undefined, "cited but not defined in docs/SOURCES.md:\n" + "\n".join(undefined)


def test_every_source_is_cited_outside_sources(texts: dict[str, str], defined: list[str]) -> None:
    cited = {key for name, text in texts.items() if name != "docs/SOURCES.md" for key in CITATION.findall(text)}
    uncited = [key for key in defined if key not in cited]
    assert not uncited, f"docs/SOURCES.md entries cited nowhere in README.md, docs/, scenarios/ or experiments/: {uncited}"


def test_no_citation_points_outside_the_repository(texts: dict[str, str]) -> None:
    problems = [
        f"{name}:{number}: {what}: {line.strip()[:100]}"
        for name, text in texts.items()
        for number, line in enumerate(text.splitlines(), start=1)
        for what, pattern in FORBIDDEN.items()
        if pattern.search(line)
    ]
    assert not problems, "cite docs/SOURCES.md keys instead:\n" + "\n".join(problems)


CALIBRATIONS = sorted((ROOT / "calibrations").glob("*.yaml"))


@pytest.mark.parametrize("path", CALIBRATIONS, ids=[path.stem for path in CALIBRATIONS])
def test_every_calibration_figure_names_its_source_or_says_assumption(path: Path, defined: list[str]) -> None:
    """An observed value a calibration fits to (or holds out) is only as good as the document it comes from: each
    target's and held-out pattern's ``source`` must cite a docs/SOURCES.md key in brackets, or say it is an assumption."""
    calibration = load_calibration(path)
    figures = {f"targets.{name}": target for name, target in calibration.targets.items()}
    figures |= {f"held_out.{name}": pattern for name, pattern in calibration.held_out.items()}
    assert figures, f"{path.name} has no targets"
    unsourced = [
        f"{path.name}: {field}.source: {figure.source!r}"
        for field, figure in figures.items()
        if not any(key in defined for key in CITATION.findall(figure.source)) and "assumption" not in figure.source.lower()
    ]
    assert not unsourced, "name a docs/SOURCES.md key in brackets, or say 'assumption':\n" + "\n".join(unsourced)
