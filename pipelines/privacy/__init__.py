"""What counts as personal data or a secret, written once: the patterns and their confirmations
(`pii`), phone numbers (`phones`), the secret rules (`secret_rules`), and the scrubber for error
text and logs (`scrub`).
Redaction of a table (`pipelines.curate.redact`) and every log line read their rules from here.
"""

from __future__ import annotations

from pipelines.privacy.phones import DEFAULT_PHONE_REGIONS, is_phone_number
from pipelines.privacy.pii import PATTERNS, PLACEHOLDERS, luhn_valid
from pipelines.privacy.scrub import scrub
from pipelines.privacy.secret_rules import SECRET_RULES

__all__ = [
    "DEFAULT_PHONE_REGIONS",
    "PATTERNS",
    "PLACEHOLDERS",
    "SECRET_RULES",
    "is_phone_number",
    "luhn_valid",
    "scrub",
]
