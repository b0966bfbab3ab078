"""The generator of the bundled sample (`pipelines/sample/stored_completions.jsonl`).

It lives beside the tests, not in the package: the wheel ships the JSONL, never its factory.
`python -m tests.sample_generator` rewrites the shipped file byte for byte (a test holds that).
"""
