"""What counts as personal data or a secret, written once: the patterns and their confirmations
(`pii`), the secret rules (`secret_rules`), and the scrubber for error text and logs (`scrub`).
Redaction of a table (`pipelines.curate.redact`) and every log line read their rules from here.
"""

from __future__ import annotations

from pipelines.privacy.pii import PATTERNS, PLACEHOLDERS, is_phone_number, luhn_valid
from pipelines.privacy.scrub import scrub
from pipelines.privacy.secret_rules import SECRET_RULES

__all__ = [
    "PATTERNS",
    "PLACEHOLDERS",
    "SECRET_RULES",
    "is_phone_number",
    "luhn_valid",
    "scrub",
]
