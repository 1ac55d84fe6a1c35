"""Where pairsim writes, checked before any work: it never deletes or mixes into what it did not write.

Three kinds of destination, each with one rule:

- a **run folder** (``pairsim run --out``): a missing or empty folder is created; a folder that
  holds a previous ``pairsim run`` (its ``run.json`` and only files pairsim writes there) is replaced
  whole, atomically; any other folder, or the working folder, is refused before the simulation
  starts. One that changes during the run is left alone, and the new tables go beside it.
- an **experiment folder** (``compare``/``sweep --out``): a missing or empty folder is created; one
  holding an experiment's ``manifest.json`` is resumed; any other folder is refused.
- a **report file** (``report -o``): a missing file is written; a previous pairsim report is replaced
  atomically; any other file is refused.

A destination that cannot be written at all (below a file, in ``/proc``, read-only) is refused too,
by trying: a probe folder is made and removed in the nearest existing ancestor, so the answer is the
operating system's, not a guess from permission bits (which root ignores).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from sim.errors import InputError

RUN_TABLES = ("monthly", "villages", "summary", "policies", "ledger", "links")
"""The tables of a run folder, each written as Parquet and CSV."""

RUN_MARKER = "run.json"
"""The file that makes a folder a ``pairsim run`` output (scenario hash, seed, versions)."""

RUN_FILES = frozenset(
    {f"{table}.{ext}" for table in RUN_TABLES for ext in ("parquet", "csv")}
    | {RUN_MARKER, "pairing_graph.graphml", "pairing_graph.json", "report.html"}
)
"""Every file pairsim itself writes into a run folder (``report.html`` by ``pairsim report``)."""

EXPERIMENT_MARKER = "manifest.json"

REPORT_TITLE_END = "– pairsim report"
"""How the title of every report pairsim writes ends (sim/report/page.py), so a report can be recognised."""

STAGING_TAG = "pairsim"


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomically(path: Path, write) -> None:
    """Call ``write(temporary_path)``, then rename the file to ``path`` (same folder, so the rename is atomic).

    The file ends with the permissions an ordinary ``open`` would give it
    (``mkstemp`` makes it private; results are meant to be shared).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        write(Path(temporary))
        os.chmod(temporary, 0o666 & ~current_umask())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- checks before work


def check_writable(folder: Path, option: str = "--out", named: Path | None = None) -> None:
    """Refuse in one line a folder that cannot be created or written: below a file, in ``/proc``, read-only.

    ``named`` is what the message names (the file to be written in ``folder``; default: ``folder``).
    """
    folder = Path(folder)
    source = str(named if named is not None else folder)
    if folder.exists() and not folder.is_dir():
        what = (
            "exists and is not a folder; expected a folder to write into"
            if named is None
            else f"{folder} is a file; expected a folder path"
        )
        raise InputError.single(source, option, what)
    ancestor = folder
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise InputError.single(source, option, f"{ancestor} is a file; expected a folder path")
    try:
        Path(tempfile.mkdtemp(prefix=f".{STAGING_TAG}-probe-", dir=ancestor)).rmdir()
    except OSError as error:
        reason = error.strerror or str(error)
        raise InputError.single(source, option, f"cannot write inside {ancestor} ({reason}); choose another folder") from None


def prepare_run_folder(out_dir: Path) -> None:
    """Check ``out_dir`` for ``pairsim run`` before the simulation starts (see the module's rules)."""
    out_dir = Path(out_dir)
    check_writable(out_dir)
    check_writable(_real(out_dir).parent)  # the new tables are staged beside it
    if _real(Path.cwd()).is_relative_to(_real(out_dir)):
        raise _not_ours(out_dir, "is the working folder or holds it, which replacing it would pull from under you")
    problem = _why_not_replaceable(_real(out_dir))
    if problem:
        raise _not_ours(out_dir, problem)


def _why_not_replaceable(folder: Path) -> str | None:
    """Why ``pairsim run`` may not replace ``folder``; None if it is missing, empty, or an earlier run with only pairsim's files."""
    if not folder.is_dir() or not any(folder.iterdir()):
        return None
    if not _is_run_folder(folder):
        return "is not empty and is not the output of pairsim run (no run.json)"
    strangers = sorted(
        path.name
        for path in folder.iterdir()
        if path.name not in RUN_FILES or (path.name == "report.html" and not _is_report(path))
    )
    if strangers:
        return f"holds files pairsim run did not write ({', '.join(strangers[:3])}), which replacing it would delete"
    return None


def prepare_experiment_folder(out_dir: Path) -> None:
    """Check ``out_dir`` for ``compare``/``sweep`` before any run (resuming needs its manifest)."""
    out_dir = Path(out_dir)
    check_writable(out_dir)
    if not out_dir.is_dir() or not any(out_dir.iterdir()) or _is_experiment_folder(out_dir):
        return
    raise _not_ours(out_dir, "is not empty and is not an experiment's results folder (no pairsim manifest.json)")


def prepare_report_file(target: Path) -> None:
    """Check the report's destination: a missing file, or a report pairsim wrote before."""
    target = Path(target)
    if target.is_dir():
        raise InputError.single(str(target), "--out", "is a folder; expected the path of an HTML file to write")
    check_writable(target.parent, named=target)
    if target.exists() and not _is_report(target):
        raise InputError.single(
            str(target),
            "--out",
            f"exists and is not a pairsim report, so it is left alone; choose a new file name, e.g. {_fresh_name(target)}",
        )


def _is_run_folder(folder: Path) -> bool:
    return _json_object_with(folder / RUN_MARKER, {"scenario_sha256", "seed"})


def _is_experiment_folder(folder: Path) -> bool:
    return _json_object_with(folder / EXPERIMENT_MARKER, {"identity", "runs"})


def _json_object_with(path: Path, keys: set[str]) -> bool:
    """Whether ``path`` holds a JSON object with at least ``keys`` (what pairsim writes there, not someone's file of that name)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and keys <= data.keys()


def _is_report(path: Path) -> bool:
    with contextlib.suppress(OSError), path.open("rb") as handle:
        return f"{REPORT_TITLE_END}</title>".encode() in handle.read(4096)
    return False


def _not_ours(folder: Path, why: str) -> InputError:
    return InputError.single(
        str(folder), "--out", f"{why}; nothing in it was touched; choose a new folder, e.g. {_fresh_name(folder)}"
    )


def _fresh_name(path: Path) -> Path:
    """``path`` with the first free ``-2``, ``-3``... suffix, as a suggestion."""
    if not path.name:  # '.'
        path = Path(os.path.abspath(path))
    for number in range(2, 1000):
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
        if not candidate.exists():
            return candidate
    return path.with_name(f"{path.stem}-new{path.suffix}")


# --------------------------------------------------------------------------- writing a folder atomically


def write_folder_atomically(out_dir: Path, fill: Callable[[Path], None]) -> Path:
    """Call ``fill(folder)`` on an empty sibling of ``out_dir``, then put it at ``out_dir`` in one step; returns where it went.

    On any error or Ctrl-C the sibling is removed and ``out_dir`` is untouched. Should ``out_dir`` have
    changed since :func:`prepare_run_folder` (someone saved a file in it during the run), it is left
    alone and the new folder goes to a fresh sibling (``out-2``), whose path is returned. A symbolic
    link is followed: the folder it points to is replaced. The sibling's name carries this process's
    id, so one left by a killed process is recognised and removed by a later call.
    """
    target = _real(out_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(target)
    staging = Path(tempfile.mkdtemp(prefix=f"{_staging_prefix(target)}{os.getpid()}-", dir=target.parent))
    try:
        staging.chmod(0o777 & ~current_umask())  # mkdtemp makes it private; results are meant to be shared
        fill(staging)
        if _why_not_replaceable(target) is not None:
            fresh = _fresh_name(Path(out_dir))
            os.rename(staging, _real(fresh))
            return fresh
        _swap_into_place(staging, target)
        return Path(out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # after a swap, it holds the previous run


def _real(path: Path) -> Path:
    """The absolute path with symbolic links and '.' resolved (a link's target is what gets replaced)."""
    return Path(os.path.realpath(path))


def _swap_into_place(staging: Path, out_dir: Path) -> None:
    """Put ``staging`` at ``out_dir``; a previous ``out_dir`` ends up at ``staging`` (to be removed).

    Linux swaps the two names in one system call (``renameat2`` with ``RENAME_EXCHANGE``), so
    ``out_dir`` is at every moment either the old complete folder or the new one. Elsewhere the old
    folder is first renamed aside (and put back if the second rename fails), leaving a moment when
    ``out_dir`` is absent, never a mix.
    """
    if not out_dir.exists():
        os.replace(staging, out_dir)
    elif not _exchange(staging, out_dir):
        aside = Path(tempfile.mkdtemp(prefix=f"{_staging_prefix(out_dir)}{os.getpid()}-", dir=out_dir.parent))
        os.replace(out_dir, aside / "old")
        try:
            os.replace(staging, out_dir)
        except BaseException:
            os.replace(aside / "old", out_dir)
            aside.rmdir()
            raise
        os.replace(aside, staging)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(first: Path, second: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2``); False where the system cannot."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
    if result == 0:
        return True
    errno = ctypes.get_errno()
    if errno in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: this file system cannot exchange
        return False
    raise OSError(errno, os.strerror(errno), str(second))


def _staging_prefix(out_dir: Path) -> str:
    return f".{out_dir.name}.{STAGING_TAG}-"


def _remove_stale_staging(out_dir: Path) -> None:
    """Remove staging siblings left by pairsim processes that were killed (their process id is gone)."""
    for sibling in out_dir.parent.glob(f"{_staging_prefix(out_dir)}*"):
        pid = sibling.name.removeprefix(_staging_prefix(out_dir)).split("-", 1)[0]
        if pid.isdigit() and not _process_alive(int(pid)) and sibling.is_dir():
            shutil.rmtree(sibling, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
