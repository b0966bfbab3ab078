"""The bundled samples, for demos and tests without an API key.

- `SAMPLE_PATH`: stored chat completions, one per line: the chat.completion object as
  `GET /v1/chat/completions/{id}` returns it, plus the request's input messages under
  `input_messages`.
- `RESPONSES_SAMPLE_PATH`: stored responses, one per line: the Response object as
  `GET /v1/responses/{id}` returns it, plus its input items under `input_items`.
- `CONVERSATIONS_SAMPLE_PATH`: conversations, one per line: the conversation as
  `GET /v1/conversations/{id}` returns it, plus its items under `items`.

All three are in the store's import format (`distillery store import` takes each, or a file
mixing them). Only the files ship; the generator that writes them deterministically lives beside
the tests (`python -m tests.sample_generator` regenerates them).
"""

from importlib.resources import files
from pathlib import Path

_HERE = files("pipelines.sample")
SAMPLE_PATH: Path = Path(str(_HERE / "stored_completions.jsonl"))
RESPONSES_SAMPLE_PATH: Path = Path(str(_HERE / "stored_responses.jsonl"))
CONVERSATIONS_SAMPLE_PATH: Path = Path(str(_HERE / "conversations.jsonl"))
SAMPLE_PATHS: tuple[Path, ...] = (SAMPLE_PATH, RESPONSES_SAMPLE_PATH, CONVERSATIONS_SAMPLE_PATH)

__all__ = ["CONVERSATIONS_SAMPLE_PATH", "RESPONSES_SAMPLE_PATH", "SAMPLE_PATH", "SAMPLE_PATHS"]
