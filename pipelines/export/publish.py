"""Publishing a dataset version: owned staging directories, an idempotent rename, LATEST.

A build writes into `artifacts/<recipe>/.staging-<token>/` and renames it to its version id. The
staging directory names its owner (pid, host, the process's start time) so that a later build
can tell one left by a killed build from one still being written, and remove only the former.
Two builds of the same version may race to the rename: the first wins, the other finds the same
version there and publishes nothing. LATEST names the version the last successful build produced.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pipelines.datadir.atomic import atomic_path
from pipelines.datadir.object_storage import AnyPath, ObjectPath
from pipelines.datadir.paths import STAGING_PREFIX, DataPaths, VersionLayout
from pipelines.export.manifest import Manifest, read_manifest

UPLOADS_IN_FLIGHT = 8

STALE_AFTER_SECONDS = 24 * 3600
"""A staging directory whose owner can't be told (another host, no owner file) is removed only
after this long untouched: no build runs that long, so nothing live is lost."""


class PublishConflict(RuntimeError):
    """The version directory exists but its manifest names another version."""


def create_staging(paths: DataPaths, recipe: str) -> Path:
    """Create an empty staging directory for `recipe`, owned by this process.

    Args:
        paths: The data directory's layout.
        recipe: The recipe name.

    Returns:
        The new directory; `publish_staging` renames it into place.
    """
    if paths.remote:
        staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{recipe}-"))
    else:
        staging = paths.staging(recipe, uuid.uuid4().hex)
        staging.mkdir(parents=True)
    owner = {"pid": os.getpid(), **_host(), "started": _process_start(os.getpid())}
    paths.staging_owner(staging).write_text(json.dumps(owner), encoding="utf-8")
    return staging


def remove_stale_staging(
    paths: DataPaths, recipe: str, *, stale_after: float = STALE_AFTER_SECONDS
) -> list[Path]:
    """Remove the staging directories of `recipe` whose build is gone.

    A directory goes when its owner process is not running on this host, or, when the owner
    can't be told, when it was untouched for `stale_after` seconds. A live build's never goes.

    Returns:
        The directories removed.
    """
    removed = []
    for staging in paths.staging_dirs(recipe):
        if _is_stale(paths, staging, stale_after):
            shutil.rmtree(staging, ignore_errors=True)
            removed.append(staging)
    return removed


def is_published(target: AnyPath) -> bool:
    """Whether the version directory `target` is there (on object storage: its manifest)."""
    if isinstance(target, ObjectPath):
        return (target / VersionLayout.MANIFEST).is_file()
    return target.exists()


def publish_staging(paths: DataPaths, staging: Path, target: AnyPath) -> bool:
    """Rename the finished `staging` directory to `target` (on object storage: upload it).

    Returns:
        True if this call published it; False if `target` already existed (another build of the
        same version renamed first), in which case `staging` is left for the caller to remove.
    """
    # Only the files of the version are published; without its owner file, a directory caught
    # between this unlink and the rename is kept by others for its fresh mtime.
    paths.staging_owner(staging).unlink(missing_ok=True)
    if isinstance(target, ObjectPath):
        return _upload_version(staging, target)
    try:
        staging.rename(target)
    except OSError as error:
        # Renaming onto a non-empty directory fails: ENOTEMPTY on Linux, EEXIST elsewhere.
        if error.errno in (errno.ENOTEMPTY, errno.EEXIST) and target.is_dir():
            return False
        raise
    return True


def _upload_version(staging: Path, target: ObjectPath) -> bool:
    if is_published(target):
        return False
    files = sorted(
        p for p in staging.rglob("*") if p.is_file() and p.name != VersionLayout.MANIFEST
    )
    with ThreadPoolExecutor(max_workers=UPLOADS_IN_FLIGHT) as uploads:
        for done in [
            uploads.submit((target / file.relative_to(staging).as_posix()).upload, file)
            for file in files
        ]:
            done.result()
    # Last, and only if absent: from this put on, readers see the version, whole.
    manifest = (staging / VersionLayout.MANIFEST).read_bytes()
    return (target / VersionLayout.MANIFEST).create(manifest) is not None


def published_manifest(target: AnyPath, version: str) -> Manifest:
    """The manifest of the published version directory `target`, checked to be `version`.

    Raises:
        PublishConflict: The directory holds another version (it was not made by a build).
    """
    manifest = read_manifest(target / VersionLayout.MANIFEST)
    if manifest.version != version:
        raise PublishConflict(f"{target} holds version {manifest.version}, not {version}")
    return manifest


def point_latest(paths: DataPaths, recipe: str, version: str) -> None:
    """Make `recipe`'s LATEST name `version`, atomically, unless it already does."""
    latest = paths.latest(recipe)
    with_newline = version + "\n"
    if latest.exists() and latest.read_text(encoding="utf-8") == with_newline:
        return
    with atomic_path(latest) as temporary:
        temporary.write_text(with_newline, encoding="utf-8")


def _is_stale(paths: DataPaths, staging: Path, stale_after: float) -> bool:
    alive = _owner_alive(paths.staging_owner(staging))
    if alive is not None:
        return not alive
    try:
        untouched = time.time() - staging.stat().st_mtime
    except FileNotFoundError:  # published or removed meanwhile
        return False
    return untouched > stale_after


def _owner_alive(owner_file: Path) -> bool | None:
    """Whether the build that wrote `owner_file` still runs; None when that can't be told."""
    try:
        owner: dict[str, Any] = json.loads(owner_file.read_text(encoding="utf-8"))
        pid, started = int(owner["pid"]), owner.get("started")
        host = {key: owner.get(key) for key in _host()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # no owner file yet (or a half-written one)
    # Another host or pid namespace (a container sharing the volume) has pids we can't see.
    if host != _host() or sys.platform == "win32":
        return None
    if not _pid_running(pid):
        return False
    # A pid handed to a new process since is not the owner; unknown start times count as alive.
    now = _process_start(pid)
    return started is None or now is None or now == started


def _host() -> dict[str, str | None]:
    try:
        namespace: str | None = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = None
    return {"host": socket.gethostname(), "pid_namespace": namespace}


def _pid_running(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return _process_state(pid) != "Z"  # a killed build not yet reaped by its parent


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (Linux), else None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces or parentheses itself.
    return text.rpartition(")")[2].split()


def _process_state(pid: int) -> str | None:
    fields = _proc_stat(pid)
    return fields[0] if fields else None


def _process_start(pid: int) -> str | None:
    fields = _proc_stat(pid)
    return fields[19] if fields and len(fields) > 19 else None
