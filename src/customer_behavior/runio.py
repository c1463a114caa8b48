"""Run directories: staged, then moved into place whole.

A run writes into a hidden staging directory beside its destination and is renamed into
place only when complete, so a failed or killed run never leaves a half-written result
that looks finished, and a previous run at the same path stays intact until then.
`--overwrite` only ever replaces a directory that a previous run of this tool wrote.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from customer_behavior import TOOL_NAME
from customer_behavior.errors import OutputError

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
STAGING_MARKER = ".customer-behavior-staging"
# Every top-level entry a run of this tool can leave in its directory: the stages' directories,
# the three tables of `generate`, the Spark event log, the manifest.
# `--overwrite` replaces only a directory holding nothing else: a copied manifest.json beside a
# user's own files does not make the directory ours.
RUN_DIRECTORIES = frozenset(
    {"data", "tables", "model", "exports", "quarantine", "report", "personas", "spark-events", "customers", "transactions", "truth"}
)
RUN_FILES = frozenset({MANIFEST})


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    manifest_path = Path(path) / MANIFEST
    try:
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("tool") == TOOL_NAME else None


def is_run_directory(path: str | os.PathLike[str]) -> bool:
    return read_manifest(path) is not None


def foreign_entries(path: str | os.PathLike[str]) -> list[str]:
    """The top-level entries of `path` that no run of this tool writes (sorted; `name/` for a directory)."""
    foreign = []
    for entry in sorted(Path(path).iterdir(), key=lambda p: p.name):
        is_dir = entry.is_dir() and not entry.is_symlink()
        expected = RUN_DIRECTORIES if is_dir else RUN_FILES
        if entry.name not in expected or entry.is_symlink():
            foreign.append(entry.name + ("/" if is_dir else ""))
    return foreign


def _refuse_unless_ours(target: Path, *, when: str) -> None:
    """OutputError unless `target` is exactly a run of ours: our manifest and nothing foreign."""
    if not is_run_directory(target):
        raise OutputError(f"output {str(target)!r} is not a previous run of {TOOL_NAME} (no manifest.json of ours); {when}")
    foreign = foreign_entries(target)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise OutputError(f"output {str(target)!r} holds entries a run of {TOOL_NAME} never writes ({shown}); {when}")


def _is_local(path: str) -> bool:
    return "://" not in path or path.startswith("file://")


class RunDirectory:
    """A destination checked up front, a staging directory to write into, and commit()."""

    def __init__(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        raw = str(path)
        if not _is_local(raw):
            raise OutputError(f"output {raw!r}: only local or mounted paths are supported for run directories (use a shared mount on a cluster)")
        self.path = Path(raw.removeprefix("file://")).expanduser().resolve()
        self.overwrite = overwrite
        self._recover_interrupted_commit()
        self._check_destination()
        self.staging = self.path.parent / f".{self.path.name}.staging-{uuid.uuid4().hex[:12]}"
        self._committed = False

    def _recover_interrupted_commit(self) -> None:
        """Undo a commit() killed between its two renames: the previous run goes back in place."""
        try:
            leftovers = sorted(self.path.parent.glob(f".{self.path.name}.previous-*"))
        except OSError:
            return
        for previous in leftovers:
            if not self.path.exists() and is_run_directory(previous):
                log.warning("restoring %s: a run was killed while replacing it", self.path)
                os.rename(previous, self.path)
            else:
                shutil.rmtree(previous, ignore_errors=True)

    def _check_destination(self) -> None:
        target = self.path
        if target.exists() and not target.is_dir():
            raise OutputError(f"output {str(target)!r} is a file, not a directory; choose another --output")
        if target.is_dir() and any(target.iterdir()):
            if not self.overwrite:
                raise OutputError(f"output {str(target)!r} already exists and is not empty; pass --overwrite to replace a previous run, or choose another --output")
            _refuse_unless_ours(target, when="refusing to overwrite it, nothing was deleted")
        parent = target.parent
        existing = parent
        while not existing.exists():
            existing = existing.parent
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            raise OutputError(f"output {str(target)!r} cannot be written: {str(existing)!r} is not a writable directory")

    def create(self) -> Path:
        """Make the staging directory (and clean up stale ones that killed runs left)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            for stale in self.path.parent.glob(f".{self.path.name}.staging-*"):
                if (stale / STAGING_MARKER).exists() and not _owner_alive(stale):
                    shutil.rmtree(stale, ignore_errors=True)
            self.staging.mkdir()
            (self.staging / STAGING_MARKER).write_text(str(os.getpid()), encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"output {str(self.path)!r} cannot be written: {exc.strerror or exc}") from None
        return self.staging

    def commit(self) -> Path:
        """Move the finished staging directory into place, replacing a previous run."""
        (self.staging / STAGING_MARKER).unlink(missing_ok=True)
        previous = None
        if self.path.exists():
            if any(self.path.iterdir()):
                _refuse_unless_ours(self.path, when=f"it was changed during the run; the result is left in {str(self.staging)!r}")
            previous = self.path.parent / f".{self.path.name}.previous-{uuid.uuid4().hex[:12]}"
            os.rename(self.path, previous)
        os.rename(self.staging, self.path)
        if previous is not None:
            shutil.rmtree(previous, ignore_errors=True)
        self._committed = True
        return self.path

    def abort(self) -> None:
        if not self._committed and self.staging.exists():
            shutil.rmtree(self.staging, ignore_errors=True)


def _owner_alive(staging: Path) -> bool:
    try:
        pid = int((staging / STAGING_MARKER).read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temp file, then rename)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)
