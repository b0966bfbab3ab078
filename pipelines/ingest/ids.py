"""Ids files: the response and conversation ids a user keeps, since OpenAI lists neither.

One id per line, as an application logs them; blank lines and `#` comments are skipped. A line
that is a JSON object is read for its `id`, so a JSONL log the application already keeps (say,
`{"id": "resp_…", "metadata": {"feature": "support"}}` per request, or a file the store's import
reads) serves as it is. Repeated ids are read once, in the order they first appear. An error
quotes a bad line only scrubbed (`pipelines.privacy.scrub`): an ids file is a log, and may hold
anything.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from pipelines.ingest.sources import SourceConfigError
from pipelines.privacy.scrub import scrub

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,255}")
"""What an id may be: it goes into a URL path, so nothing a path or a query would read (`/`, `?`,
`#`, `%`), and no spaces (a sentence pasted by mistake)."""


class IdsFileError(SourceConfigError):
    """An ids file that cannot be read, with the line at fault."""


def read_ids(path: str | Path) -> tuple[str, ...]:
    """The ids in `path`, first appearance first.

    Raises:
        IdsFileError: The file is missing, not UTF-8, or a line is not an id.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise IdsFileError(f"the ids file {path} does not exist") from None
    except UnicodeDecodeError as err:
        raise IdsFileError(f"the ids file {path} is not UTF-8 text ({err.reason})") from None
    ids: dict[str, None] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        ids[_id_of(line, path, number)] = None
    return tuple(ids)


def _id_of(line: str, path: Path, number: int) -> str:
    if line.startswith("{"):
        try:
            value = json.loads(line).get("id")
        except (json.JSONDecodeError, AttributeError):
            value = None
        if not isinstance(value, str) or not _ID.fullmatch(value.strip()):
            raise IdsFileError(
                f"{path}:{number}: a JSON line needs an `id` (letters, digits, _-.:)"
            )
        return value.strip()
    if not _ID.fullmatch(line):
        raise IdsFileError(
            f"{path}:{number}: {scrub(line[:40])!r} is not an id (one id per line, or a JSON"
            " object with an `id`)"
        )
    return line
