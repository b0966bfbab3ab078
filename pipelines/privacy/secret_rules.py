"""The secret rules redaction and the log scrubber use: Yelp's detect-secrets, plus what it lacks.

detect-secrets is the maintained rule set (AWS, GitHub, GitLab, Slack, Stripe, SendGrid, JWT,
OpenAI, PyPI, Azure storage keys, Discord and Telegram tokens, basic-auth URLs, …). Only its
token-shaped rules are taken: those that need no context-dependent look-around, which neither
polars' regex engine nor a per-text scan can evaluate, and that are narrow enough for free text
(its entropy and keyword detectors would redact ordinary prose). Rules it does not have, or has
too narrowly for pasted text, are written here, each with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
from detect_secrets.plugins.basic_auth import BasicAuthDetector
from detect_secrets.plugins.discord import DiscordBotTokenDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.mailchimp import MailchimpDetector
from detect_secrets.plugins.openai import OpenAIDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.square_oauth import SquareOAuthDetector
from detect_secrets.plugins.stripe import StripeDetector
from detect_secrets.plugins.telegram_token import TelegramBotTokenDetector

_MAINTAINED = (
    AWSKeyDetector,
    AzureStorageKeyDetector,
    BasicAuthDetector,
    DiscordBotTokenDetector,
    GitHubTokenDetector,
    GitLabTokenDetector,
    MailchimpDetector,
    OpenAIDetector,
    PypiTokenDetector,
    SendGridDetector,
    SlackDetector,
    SquareOAuthDetector,
    StripeDetector,
    TelegramBotTokenDetector,
)

# A word-boundary look-ahead some rules end with; a token's own character class already stops
# it at the boundary, so the rule means the same without it.
_TRAILING_BOUNDARY = "(?!\\w)"
KEPT_CONTEXT = "context"
"""The group of a rule that is kept when the rule's match is replaced: a secret's name and its
`=` stay (`aws_secret_access_key = <SECRET>`), so a redacted config or JSON still reads."""
_LOOK_AROUND = re.compile(r"\(\?<?[=!]")

OWN_RULES = {
    # detect-secrets flags the BEGIN line only; the whole block must go, and a key pasted without
    # its END line up to the end of the text.
    "private key block": r"(?s:-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?"
    r"(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|$))",
    "putty private key": r"(?s:PuTTY-User-Key-File-\d+:.*?(?:Private-MAC: [0-9a-f]+|$))",
    # An AWS secret access key is 40 characters of base64 that nothing sets apart but the name
    # beside it; detect-secrets wants quotes around it, and replaces its name and the quotes too,
    # which breaks the JSON of tool arguments. Found as gitleaks finds keyed secrets: the name
    # (any prefix: MY_AWS_SECRET_ACCESS_KEY, SecretAccessKey), quotes or JSON-escaped quotes,
    # an assignment (= : := =>), then the value; the name and assignment are kept.
    "aws secret access key": rf"(?P<{KEPT_CONTEXT}>"
    r"(?i:(?:aws_?)?secret_?access_?key|aws_?secret_?key)"
    r"[\"'\\]*[ \t]*(?::=|=>|=|:)[ \t]*[\"'\\]*)[A-Za-z0-9/+]{40}",
    # Newer than detect-secrets 1.5: GitHub's fine-grained tokens.
    "github fine-grained token": r"\bgithub_pat_[A-Za-z0-9_]{22,255}",
    # Project, service-account and admin keys, and keys of OpenAI-compatible providers
    # (sk-ant-…, sk-or-…); detect-secrets knows only OpenAI's legacy T3BlbkFJ form.
    "sk- key": r"\bsk-[A-Za-z0-9][A-Za-z0-9_\-]{19,}",
    # detect-secrets' JWT rule ends lazily and so matches without the signature.
    "jwt": r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
    "hugging face token": r"\bhf_[A-Za-z0-9]{34,}",
    "google api key": r"\bAIza[0-9A-Za-z_\-]{35}",
    "bearer token": r"(?i:\bbearer\s+[A-Za-z0-9\-._~+/]{16,}=*)",
}


def maintained_rules() -> dict[str, str]:
    """detect-secrets' token-shaped rules, by plugin, in a syntax polars and `re` both run."""
    rules = {}
    for plugin in _MAINTAINED:
        for index, pattern in enumerate(plugin.denylist):
            text = pattern.pattern
            if text.endswith(_TRAILING_BOUNDARY):
                text = text[: -len(_TRAILING_BOUNDARY)]
            if _LOOK_AROUND.search(text):
                continue
            # The rule's flags go into the text as a scoped group, which both engines read.
            flags = "".join(
                letter
                for flag, letter in ((re.IGNORECASE, "i"), (re.VERBOSE, "x"))
                if pattern.flags & flag
            )
            rules[f"{plugin.__name__}[{index}]"] = f"(?{flags}:{text})" if flags else text
    return rules


SECRET_RULES = {**OWN_RULES, **maintained_rules()}
"""Every secret rule, named, in the order redaction applies them (ours first: a private key block
goes whole, a keyed secret keeps its name): what `pipelines.privacy.pii.PATTERNS["secret"]` is
made of."""


def polars_replacement(rule: str, placeholder: str) -> str:
    """What `str.replace_all(rule, …)` in polars writes for a match of `rule`."""
    return f"${{{KEPT_CONTEXT}}}{placeholder}" if f"(?P<{KEPT_CONTEXT}>" in rule else placeholder


def python_replacement(placeholder: str) -> Callable[[re.Match[str]], str]:
    """What `re.sub` writes for a match of a secret rule, its kept context group first."""

    def replace(match: re.Match[str]) -> str:
        return (match.groupdict().get(KEPT_CONTEXT) or "") + placeholder

    return replace
