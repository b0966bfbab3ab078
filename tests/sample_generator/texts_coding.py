"""Programming questions in Python or JavaScript, answered with code."""

from __future__ import annotations

import random

from tests.sample_generator.shapes import Dialogue, script


def _coding_openers(rng: random.Random) -> tuple[tuple[str, str, str], ...]:
    var = rng.choice(("items", "user_ids", "records", "names", "rows", "tags"))
    fname = rng.choice(("fib", "fibonacci", "nth_fib", "fib_iter"))
    file = rng.choice(("sales", "orders_2026", "export", "report", "transactions"))
    col = rng.choice(("amount", "total", "price", "quantity", "revenue"))
    js_fn = rng.choice(("saveDraft", "fetchResults", "resizeChart", "validateForm"))
    ms = rng.choice((200, 250, 300, 500))
    loader = "load" + file.title().replace("_", "")
    return (
        (
            "Python",
            "How do I remove duplicates from a Python list but keep the original order? The list "
            f"is called `{var}`.",
            "Use a dict, since dicts preserve insertion order:\n\n```python\n"
            f"{var} = list(dict.fromkeys({var}))\n```\n\nThis is O(n) and keeps the first "
            "occurrence of each element. The elements must be hashable; for dicts or lists, loop "
            "and track what you've seen instead.",
        ),
        (
            "Python",
            f"Write a Python function `{fname}(n)` that returns the n-th Fibonacci number "
            "without recursion.",
            f"```python\ndef {fname}(n: int) -> int:\n"
            '    """Return the n-th Fibonacci number, counting from fib(0) == 0."""\n'
            "    if n < 0:\n"
            '        raise ValueError("n must be non-negative")\n'
            "    a, b = 0, 1\n"
            "    for _ in range(n):\n"
            "        a, b = b, a + b\n"
            "    return a\n```\n\n"
            f"It runs in O(n) time and O(1) memory; `{fname}(10)` returns 55.",
        ),
        (
            "Python",
            f"Why does `{var} = {var}.append(x)` turn `{var}` into None?",
            "`list.append` changes the list in place and returns `None`, so the assignment "
            "replaces your list with `None`. Call it without assigning:\n\n```python\n"
            f"{var}.append(x)\n```\n\nThe same goes for `sort`, `extend` and `reverse`. If you "
            f"need a new list, use `{var} + [x]` or `sorted({var})`.",
        ),
        (
            "Python",
            f"How can I read `{file}.csv` and sum the `{col}` column without pandas?",
            "Use the `csv` module:\n\n```python\nimport csv\n\n"
            f'with open("{file}.csv", newline="", encoding="utf-8") as f:\n'
            f'    total = sum(float(row["{col}"]) for row in csv.DictReader(f))\n'
            "print(total)\n```\n\n`DictReader` takes the keys from the header row. Wrap "
            "`float()` in a try/except if some cells can be empty.",
        ),
        (
            "Python",
            f"My script crashes with `KeyError: '{col}'` when I read records from a JSON API. "
            "How do I handle missing keys?",
            "Use `dict.get` with a default instead of indexing:\n\n```python\n"
            f'value = record.get("{col}", 0)\n```\n\nIf a missing key means bad data, check '
            "explicitly and log it:\n\n```python\n"
            f'if "{col}" not in record:\n'
            f'    logger.warning("record %s has no {col}", record.get("id"))\n```',
        ),
        (
            "JavaScript",
            f"How do I debounce a function in JavaScript so `{js_fn}` runs at most once every "
            f"{ms} ms?",
            "```javascript\nfunction debounce(fn, wait) {\n  let timer;\n"
            "  return (...args) => {\n    clearTimeout(timer);\n"
            "    timer = setTimeout(() => fn(...args), wait);\n  };\n}\n\n"
            f"const debounced = debounce({js_fn}, {ms});\n```\n\nEvery call resets the timer, so "
            f"`{js_fn}` only runs once the calls have stopped for {ms} ms.",
        ),
        (
            "JavaScript",
            f"Can you convert this to async/await? `fs.readFile('{file}.json', 'utf8', "
            "(err, data) => { ... })`",
            "```javascript\nimport { readFile } from 'node:fs/promises';\n\n"
            f"async function {loader}() {{\n"
            f"  const text = await readFile('{file}.json', 'utf8');\n"
            "  return JSON.parse(text);\n}\n```\n\nErrors now arrive as a rejected promise, so "
            f"wrap `await {loader}()` in `try/catch`.",
        ),
    )


def coding_dialogue(rng: random.Random) -> Dialogue:
    """Script a programming question in Python or JavaScript, with code in the answer.

    Args:
        rng: The random source.

    Returns:
        The dialogue, in the coding category.
    """
    language, user, answer = rng.choice(_coding_openers(rng))
    system = (
        f"You are an expert {language} developer. Answer with a short explanation and a code block."
    )
    runtime = "Python 3.8" if language == "Python" else "Node.js 18"
    test_tool = "pytest" if language == "Python" else "Vitest"
    follow_ups = (
        (
            "How would I write a unit test for this?",
            f"Use {test_tool}. Write one test per case, an empty input, a typical input and an "
            "edge case, each calling your code and asserting on the result. Keep the inputs "
            "small so a failure is easy to read.",
        ),
        (
            "Does this work on older versions too?",
            f"Yes, everything here works on {runtime} and later. Older versions are out of "
            "support, so upgrading is worth it anyway.",
        ),
        (
            "How would I handle errors here?",
            "Catch only the exceptions you expect, for example bad input or a missing file, log "
            "them with enough context to debug, and let anything unexpected propagate so it "
            "isn't silently swallowed.",
        ),
        (
            "Can you explain it step by step?",
            "Sure. The first lines set up the data you work on, the core line does the "
            "transformation, and the rest handles edge cases. If one line is unclear, paste it "
            "and I'll go through it in detail.",
        ),
        (
            "Thanks, that fixed it! 🚀",
            "Glad it works! Feel free to ask if anything else comes up.",
        ),
    )
    return Dialogue("coding", system, script(rng, (user, answer), follow_ups))
