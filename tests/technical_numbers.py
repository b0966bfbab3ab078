"""Number-like text that is not personal data, generated deterministically, kind by kind.

Each generator returns one token as people and programs write it: versions, dates, times,
prices, ISBNs, coordinates, order numbers, ports, durations, UUIDs, commit hashes, row ranges.
A sentence template around each token puts it in realistic text.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable

Generator = Callable[[random.Random], str]


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def version(rng: random.Random) -> str:
    major, minor, patch = rng.randint(0, 30), rng.randint(0, 40), rng.randint(0, 300)
    return rng.choice(
        [
            f"{major}.{minor}.{patch}",
            f"v{major}.{minor}.{patch}",
            f"{major}.{minor}.{patch}.{rng.randint(1000, 99999)}",
            f"10.0.{rng.randint(10000, 26999)}.{rng.randint(100, 9999)}",
            f"{rng.randint(100, 140)}.0.{rng.randint(1000, 7999)}.{rng.randint(10, 299)}",
            f"{rng.randint(2019, 2026)}.{rng.randint(1, 12)}.{rng.randint(0, 9)}",
            f"{major}.{minor}.{patch}-{rng.randint(1, 9)}ubuntu{rng.randint(1, 5)}",
        ]
    )


def date(rng: random.Random) -> str:
    y, m, d = rng.randint(1990, 2030), rng.randint(1, 12), rng.randint(1, 28)
    h, mi, s = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
    return rng.choice(
        [
            f"{y}-{m:02}-{d:02}",
            f"{d:02}/{m:02}/{y}",
            f"{d:02}.{m:02}.{y}",
            f"{y}/{m:02}/{d:02} {h:02}:{mi:02}",
            f"{y}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}",
            f"{y}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z",
            f"{y}{m:02}{d:02}",
            f"{y}-{m:02}-{d:02} - {y}-{m:02}-{d + 1:02}",
            f"{d:02}.{m:02}.{y} {h:02}:{mi:02}",
            f"{y}{m:02}{d:02}{h:02}{mi:02}{s:02}",
        ]
    )


def time(rng: random.Random) -> str:
    h, mi, s, ms = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59), rng.randint(0, 999)
    return rng.choice(
        [f"{h:02}:{mi:02}", f"{h:02}:{mi:02}:{s:02}.{ms:03}", f"{h % 12 + 1}:{mi:02} pm"]
    )


def price(rng: random.Random) -> str:
    units, cents = rng.randint(1, 9_999_999), rng.randint(0, 99)
    return rng.choice(
        [
            f"${units:,}.{cents:02}",
            f"€{units:,}.{cents:02}".replace(",", "X").replace(".", ",").replace("X", "."),
            f"{units:,} €".replace(",", " "),
            f"USD {units:,}",
            f"¥{units * 10:,}",
            f"R$ {units:,}".replace(",", ".") + f",{cents:02}",
            f"{units}.{cents:02} EUR",
            f"{units * 1000:,} VND".replace(",", "."),
        ]
    )


def isbn(rng: random.Random) -> str:
    body = f"978{rng.randint(0, 9)}{_digits(rng, 8)}"
    check = (10 - sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(body)) % 10) % 10
    full = body + str(check)
    group, publisher = rng.randint(1, 2), rng.randint(2, 5)
    title = 9 - group - publisher
    parts = [full[:3], full[3 : 3 + group], full[3 + group : 3 + group + publisher]]
    parts += [full[3 + group + publisher : 12], full[12]]
    assert len(parts[3]) == title
    return rng.choice(
        [
            "-".join(parts),
            " ".join(parts),
            full,
            f"ISBN {'-'.join(parts)}",
            f"{full[:3]}-{full[3:]}",
        ]
    )


def coordinate(rng: random.Random) -> str:
    lat, lon = rng.uniform(-89, 89), rng.uniform(-179, 179)
    return rng.choice(
        [
            f"{lat:.6f}, {lon:.6f}",
            f"{lat:.4f} {lon:.4f}",
            f"({lat:.5f}, {lon:.5f})",
            f"{abs(lat):.4f}° N, {abs(lon):.4f}° E",
            f"lat={lat:.6f}&lon={lon:.6f}",
        ]
    )


def order_number(rng: random.Random) -> str:
    return rng.choice(
        [
            f"ORD-{rng.randint(2019, 2026)}-{_digits(rng, 5)}",
            f"#{_digits(rng, 8)}",
            f"{_digits(rng, 3)}-{_digits(rng, 7)}-{_digits(rng, 7)}",
            f"PO {rng.randint(4500000000, 4599999999)}",
            f"INV-{rng.randint(2019, 2026)}-{_digits(rng, 6)}",
            f"{rng.randint(10**9, 10**11)}",
            f"order {rng.randint(10**8, 10**10)}",
        ]
    )


def port(rng: random.Random) -> str:
    p = rng.randint(1, 65535)
    return rng.choice(
        [
            f"localhost:{p}",
            f"0.0.0.0:{p}",
            f"127.0.0.1:{p}",
            f"port {p}",
            f"{p}-{min(p + 10, 65535)}/tcp",
        ]
    )


def duration(rng: random.Random) -> str:
    return rng.choice(
        [
            f"{rng.randint(1, 99)}h {rng.randint(0, 59)}m",
            f"PT{rng.randint(1, 9)}H{rng.randint(0, 59)}M",
            f"{rng.randint(0, 99):02}:{rng.randint(0, 59):02}:{rng.randint(0, 59):02}",
            f"{rng.randint(1, 999_999)} ms",
            f"{rng.randint(10**8, 10**10)} ns",
            f"{rng.randint(1, 9_999_999)} seconds",
        ]
    )


def uuid_token(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def commit_hash(rng: random.Random) -> str:
    full = f"{rng.getrandbits(160):040x}"
    return rng.choice([full, full[:7], full[:12]])


def row_range(rng: random.Random) -> str:
    start = rng.randint(0, 10**7)
    end = start + rng.randint(1, 10**6)
    return rng.choice(
        [f"rows {start}-{end}", f"{start} - {end}", f"lines {start}..{end}", f"[{start}:{end}]"]
    )


GENERATORS: dict[str, tuple[Generator, list[str]]] = {
    "version": (version, ["Upgraded to {} yesterday.", "Requires `pkg>={}`.", "build {} failed"]),
    "date": (date, ["Deployed on {} by CI.", "The invoice is dated {}.", "since {}"]),
    "time": (time, ["The job starts at {} UTC.", "Meeting moved to {}."]),
    "price": (price, ["It costs {} per seat.", "Total: {}.", "budget of {}"]),
    "isbn": (isbn, ["ISBN {} (paperback).", "Cite the book {} in the notes."]),
    "coordinate": (coordinate, ["The depot is at {}.", "GPS fix: {}"]),
    "order": (order_number, ["Your order {} has shipped.", "Refund for {} approved."]),
    "port": (port, ["The server listens on {}.", "Open {} in the firewall."]),
    "duration": (duration, ["The query took {}.", "timeout after {}"]),
    "uuid": (uuid_token, ["request id {} failed", "Row {} was updated."]),
    "commit": (commit_hash, ["Fixed in commit {}.", "Revert {} please."]),
    "row range": (row_range, ["Check {} of the CSV.", "Slice {} before training."]),
}


def technical_sentences(count: int, *, seed: int = 21) -> list[tuple[str, str, str]]:
    """`count` sentences, each holding one technical token: (kind, token, sentence)."""
    rng = random.Random(seed)
    kinds = sorted(GENERATORS)
    sentences = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        generate, templates = GENERATORS[kind]
        token = generate(rng)
        sentences.append((kind, token, rng.choice(templates).format(token)))
    return sentences
