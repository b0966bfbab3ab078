"""A bundled sample of stored chat completions, for demos and tests without an API key.

`SAMPLE_PATH` is a JSONL file with one stored completion per line: the chat.completion object as
`GET /v1/chat/completions/{id}` returns it, plus the request's input messages under
`input_messages`. Only the file ships; the generator that writes it deterministically lives
beside the tests (`python -m tests.sample_generator` regenerates it).
"""

from importlib.resources import files
from pathlib import Path

SAMPLE_PATH: Path = Path(str(files("pipelines.sample") / "stored_completions.jsonl"))

__all__ = ["SAMPLE_PATH"]
