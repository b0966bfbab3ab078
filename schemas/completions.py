"""`completions`: one typed, validated row per stored completion, response or conversation.

The checks are what makes a record unusable for training. They run on eager frames with
`lazy=True`, so every failure of every record comes back at once;
`pipelines.completions.validate` sends the failing records to `completions_quarantine` with each
failed check's message.
"""

from typing import Annotated

import pandera.polars as pa
import polars as pl
from pandera.api.polars.types import PolarsData

from schemas.record import StoredRecord
from schemas.types import MESSAGE, METADATA_PAIR, TOOL_CALL
from schemas.vocabularies import CONVERSATIONS_API, MESSAGE_ROLES, TRACES_API

MAX_CONTENT_BYTES = 1_000_000
"""Largest message text accepted (bytes): far above any model's context, so only broken records."""

_messages = pl.col("messages")


def _all_messages(condition: pl.Expr) -> pl.Expr:
    """True when `condition` (over one message struct) holds for every message of the row."""
    return _messages.list.eval(condition).list.all().fill_null(True)


def _content_or_not_a_span() -> pl.Expr:
    """True unless the record is a trace span that carries no messages: an LLM call always has
    input, so a span without any recorded none (content capture was off, or redacted)."""
    return (pl.col("api") != TRACES_API) | (_messages.list.len() > 0)


def _completed_or_not_a_response() -> pl.Expr:
    """True unless the record is a response whose status says it did not complete."""
    status = pl.col("response_status")
    return status.is_null() | (status == "completed")


class Conversations(StoredRecord):
    """The typed columns every table of normalized completions shares: request settings, the
    input conversation, the output message, usage and content-filter flags, and the checks that
    make a record usable for training.

    Stored responses and conversations are read into the same columns as chat completions
    (`pipelines.completions.responses`); the facts only they have (`response_status`,
    `context_missing`) are neutral for chat completions.
    """

    created: Annotated[pl.Datetime, "us", "UTC"] = pa.Field(
        nullable=True, description="When the request was made (UTC)."
    )
    ingested_at: Annotated[pl.Datetime, "us", "UTC"] = pa.Field(
        description="When distillery fetched this version of the record (UTC)."
    )
    deleted_at_source: bool = pa.Field(description="Gone from the source at the last refresh.")
    temperature: float = pa.Field(nullable=True, description="Request temperature.")
    top_p: float = pa.Field(nullable=True, description="Request nucleus-sampling top_p.")
    presence_penalty: float = pa.Field(nullable=True, description="Request presence penalty.")
    frequency_penalty: float = pa.Field(nullable=True, description="Request frequency penalty.")
    seed: pl.Int64 = pa.Field(nullable=True, description="Request seed.")
    response_format: str = pa.Field(nullable=True, description="JSON of response_format.")
    tool_choice: str = pa.Field(nullable=True, description="JSON of tool_choice.")
    tools: str = pa.Field(nullable=True, description="JSON array of the tool definitions.")
    parallel_tool_calls: bool = pa.Field(nullable=True, description="Request setting, if given.")
    service_tier: str = pa.Field(nullable=True, description="Tier that served the request.")
    system_fingerprint: str = pa.Field(nullable=True, description="Backend fingerprint.")
    request_id: str = pa.Field(nullable=True, description="Provider request id.")
    input_user: str = pa.Field(nullable=True, description="End-user id sent with the request.")
    metadata: pl.List(METADATA_PAIR) = pa.Field(  # type: ignore[valid-type]
        description="Metadata as key/value pairs, so any key survives."
    )
    messages: pl.List(MESSAGE) = pa.Field(  # type: ignore[valid-type]
        description="The input messages, oldest first (a response's or conversation's items as"
        " chat messages)."
    )
    choice_count: pl.Int32 = pa.Field(description="Number of choices; choices[0] is the output.")
    output_content: str = pa.Field(nullable=True, description="Text of choices[0].message.")
    output_refusal: str = pa.Field(nullable=True, description="Refusal of choices[0].message.")
    output_tool_calls: pl.List(TOOL_CALL) = pa.Field(  # type: ignore[valid-type]
        nullable=True, description="Tool calls of choices[0].message."
    )
    finish_reason: str = pa.Field(nullable=True, description="Why generation of choices[0] ended.")
    content_filtered: bool = pa.Field(
        description="Azure: a prompt or output content filter fired (filtered: true)."
    )
    content_filter_categories: pl.List(pl.String) = pa.Field(  # type: ignore[valid-type]
        description="Azure: the categories whose filter fired, e.g. violence."
    )
    prompt_tokens: pl.Int64 = pa.Field(nullable=True, description="usage.prompt_tokens.")
    completion_tokens: pl.Int64 = pa.Field(nullable=True, description="usage.completion_tokens.")
    total_tokens: pl.Int64 = pa.Field(nullable=True, description="usage.total_tokens.")
    estimated_tokens: pl.Int64 = pa.Field(
        description="Tokens of the example, never null: total_tokens when the provider gave"
        " usage, else estimated from the text (UTF-8 bytes / 4, rounded up; a conversation has"
        " no usage). Token limits, token ranges and token counts downstream read this."
    )
    text_repaired: bool = pa.Field(
        description="Text held lone surrogates (invalid UTF-8), replaced with U+FFFD here."
    )
    response_status: str = pa.Field(
        nullable=True,
        description="Responses: the status (completed, incomplete, failed, cancelled, queued,"
        " in_progress), `incomplete` whenever incomplete_details is set; null for chat"
        " completions, conversations, and a response stating none.",
    )
    context_missing: bool = pa.Field(
        description="Responses and conversations: earlier turns could not be found in the lake"
        " (previous_response_id, conversation or an item_reference names what it does not hold,"
        " or the conversation does not hold the response's first input item). Always false for"
        " chat completions."
    )

    @pa.dataframe_check(
        error="another stored object (of this or another API) has the same id: ids must tell"
        " examples apart downstream"
    )
    def id_unique(cls, data: PolarsData) -> pl.LazyFrame:
        """A row check, not the column's `unique`: a column check fails the frame, and every row
        sharing the id must go to quarantine with this reason. The lake keys rows by (api, id),
        so two APIs may hold the same id; curation, splits and exports tell examples apart by id
        alone."""
        return data.lazyframe.select(~pl.col("id").is_duplicated())

    @pa.dataframe_check(error="the completion has no choices, so there is no output to learn")
    def has_choices(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("choice_count") > 0)

    @pa.dataframe_check(error="created is missing: the record cannot be placed in time")
    def has_created(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("created").is_not_null())

    @pa.dataframe_check(error="usage is missing: token counts are unknown")
    def has_usage(cls, data: PolarsData) -> pl.LazyFrame:
        """A conversation is exempt: the conversation object and its items carry no usage (the
        responses that made its turns do), so every conversation would fail."""
        return data.lazyframe.select(
            pl.col("total_tokens").is_not_null() | (pl.col("api") == CONVERSATIONS_API)
        )

    @pa.dataframe_check(error="a message's content is a number, boolean or object, not text")
    def text_content(cls, data: PolarsData) -> pl.LazyFrame:
        text_types = ["string", "null", "array"]
        return data.lazyframe.select(
            _all_messages(pl.element().struct.field("content_type").is_in(text_types))
        )

    @pa.dataframe_check(error=f"a message has a role outside {', '.join(MESSAGE_ROLES)}")
    def known_roles(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            _all_messages(pl.element().struct.field("role").is_in(list(MESSAGE_ROLES)))
        )

    @pa.dataframe_check(error="the output message has no content, no tool calls and no refusal")
    def output_present(cls, data: PolarsData) -> pl.LazyFrame:
        has_output = (
            pl.col("output_content").is_not_null()
            | pl.col("output_refusal").is_not_null()
            | (pl.col("output_tool_calls").list.len() > 0).fill_null(False)
        )
        # A record without choices fails has_choices, a response that did not complete fails
        # response_completed: do not report them twice. An output the content filter blocked is
        # explained, and curation drops it as content-filtered.
        # (A null finish_reason is no explanation: fill_null, or the null would pass the row.)
        explained = (
            (pl.col("choice_count") == 0)
            | ~_content_or_not_a_span()
            | (pl.col("finish_reason") == "content_filter").fill_null(False)
            | ~_completed_or_not_a_response()
        )
        return data.lazyframe.select(has_output | explained)

    @pa.dataframe_check(
        error="the trace span carries no message content: turn content capture on"
        " (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=span_only,"
        " TRACELOOP_TRACE_CONTENT=true, or OpenInference's hide_inputs/hide_outputs off)"
    )
    def trace_content_captured(cls, data: PolarsData) -> pl.LazyFrame:
        """Most instrumentations record content only when told to; OpenInference writes
        `__REDACTED__` placeholders instead, which normalize reads as no content."""
        return data.lazyframe.select(_content_or_not_a_span())

    @pa.dataframe_check(
        error="the response did not complete (status failed, incomplete, cancelled, queued or"
        " in progress)"
    )
    def response_completed(cls, data: PolarsData) -> pl.LazyFrame:
        """Only a completed response is a whole answer to learn; one cut short (max output
        tokens, content filter) is incomplete, and so is any response with incomplete_details."""
        return data.lazyframe.select(_completed_or_not_a_response())

    @pa.dataframe_check(
        error="previous_response_id or conversation names what the lake does not hold (a"
        " response, a conversation, or a conversation without the response's first input item;"
        " or an item_reference an item), so the earlier turns are missing"
    )
    def context_present(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(~pl.col("context_missing"))

    @pa.dataframe_check(error="a tool message has no tool_call_id")
    def tool_messages_have_call_id(cls, data: PolarsData) -> pl.LazyFrame:
        element = pl.element().struct
        return data.lazyframe.select(
            _all_messages(
                (element.field("role") != "tool") | element.field("tool_call_id").is_not_null()
            )
        )

    @pa.dataframe_check(error="a tool message answers a tool_call_id no earlier message called")
    def tool_call_ids_match(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            _all_messages(pl.element().struct.field("tool_call_matched").fill_null(True))
        )

    @pa.dataframe_check(error="text held invalid UTF-8 (lone surrogates)")
    def valid_text(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(~pl.col("text_repaired"))

    @pa.dataframe_check(error=f"a message is longer than {MAX_CONTENT_BYTES:,} bytes")
    def content_within_bound(cls, data: PolarsData) -> pl.LazyFrame:
        longest = _messages.list.eval(
            pl.element().struct.field("content").str.len_bytes()
        ).list.max()
        output = pl.col("output_content").str.len_bytes()
        return data.lazyframe.select(
            (longest.fill_null(0) <= MAX_CONTENT_BYTES) & (output.fill_null(0) <= MAX_CONTENT_BYTES)
        )


class Completions(Conversations):
    """Stored completions, responses and conversations, normalized, with the raw JSON kept
    beside them."""

    completion_json: str = pa.Field(
        description="The completion, response or conversation as the API returned it."
    )
    messages_json: str = pa.Field(
        description="The input messages, input items or conversation items as the API returned"
        " them."
    )
