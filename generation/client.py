"""The one way out to a language model: the official `openai` SDK against OpenAI or any
OpenAI-compatible server (vLLM, llama.cpp's server, Ollama, LM Studio…).

Every request has an explicit timeout (the SDK's own default is 600 s). Retries are ours, bounded,
with exponential backoff, and only for what can succeed later: 429 rate limits, 5xx, timeouts and
connection errors. A 429 that says the quota is used up is not retried. Every failure becomes a
`GenerationError` with a stable `code` and a `reason` fit to show the brief's author: neither ever
contains the prompt, the answer or any personal data.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import openai

from generation.prompts import Prompt, response_schema


@dataclass(frozen=True)
class ClientConfig:
    api_key: str
    base_url: str | None
    model: str
    timeout: float = 60.0
    max_retries: int = 2
    backoff: float = 1.0  # seconds before the first retry; doubles each time

    def worst_case_seconds(self) -> float:
        """The longest one `complete` call can take: every attempt times out, every backoff waited."""
        attempts = self.max_retries + 1
        return attempts * self.timeout + sum(self.backoff * 2**n for n in range(self.max_retries))


class GenerationError(Exception):
    """A failed generation. `code` is stable (API, audit); `reason` is for the brief's author."""

    def __init__(self, code: str, reason: str, *, attempts: int = 1, request_id: str | None = None):
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.attempts = attempts
        self.request_id = request_id


@dataclass(frozen=True)
class Variant:
    headline: str
    body: str
    cta: str


@dataclass(frozen=True)
class Completion:
    variants: tuple[Variant, ...]
    model: str
    request_id: str | None
    usage: dict = field(default_factory=dict)
    latency_ms: int = 0
    attempts: int = 1


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, openai.APITimeoutError | openai.APIConnectionError):
        return True
    if isinstance(exc, openai.RateLimitError):
        return getattr(exc, "code", None) != "insufficient_quota"
    return isinstance(exc, openai.APIStatusError) and exc.status_code >= 500


def _as_generation_error(exc: Exception, attempts: int) -> GenerationError:
    request_id = getattr(exc, "request_id", None)
    tries = f" (after {attempts} attempt{'s' if attempts > 1 else ''})"
    if isinstance(exc, openai.APITimeoutError):
        return GenerationError("timeout", f"The model did not answer in time{tries}.", attempts=attempts)
    if isinstance(exc, openai.APIConnectionError):
        return GenerationError(
            "connection_error", f"The model server could not be reached{tries}.", attempts=attempts
        )
    if isinstance(exc, openai.RateLimitError):
        if getattr(exc, "code", None) == "insufficient_quota":
            return GenerationError(
                "quota_exceeded",
                "The model provider says the account's quota is used up; ask an admin to check billing.",
                attempts=attempts,
                request_id=request_id,
            )
        return GenerationError(
            "rate_limited",
            f"The model provider kept refusing with 'too many requests'{tries}.",
            attempts=attempts,
            request_id=request_id,
        )
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return GenerationError(
            "not_authorised",
            "The model provider refused the API key; ask an admin to check OPENAI_API_KEY.",
            attempts=attempts,
            request_id=request_id,
        )
    if isinstance(exc, openai.APIStatusError):
        return GenerationError(
            "provider_error",
            f"The model server answered with HTTP {exc.status_code}{tries}.",
            attempts=attempts,
            request_id=request_id,
        )
    return GenerationError(
        "provider_error", f"The model call failed: {type(exc).__name__}.", attempts=attempts
    )


class Client:
    def __init__(self, config: ClientConfig, *, sleep: Callable[[float], None] = time.sleep):
        self.config = config
        self._sleep = sleep
        self._sdk = openai.OpenAI(
            api_key=config.api_key,
            base_url=config.base_url or None,
            timeout=config.timeout,
            max_retries=0,  # retries are ours: bounded, logged by outcome, never on a used-up quota
        )

    def complete(self, prompt: Prompt) -> Completion:
        """Ask for `prompt.variants` variants as structured output; retry what can succeed later."""
        attempt = 0
        while True:
            attempt += 1
            started = time.monotonic()
            try:
                raw = self._sdk.chat.completions.with_raw_response.create(
                    model=self.config.model,
                    messages=prompt.as_list(),
                    response_format={
                        "type": "json_schema",
                        "json_schema": {
                            "name": "copy_variants",
                            "strict": True,
                            "schema": response_schema(prompt.variants),
                        },
                    },
                    timeout=self.config.timeout,
                )
                completion = raw.parse()
            except openai.APIError as exc:
                if attempt <= self.config.max_retries and _retryable(exc):
                    self._sleep(self.config.backoff * 2 ** (attempt - 1))
                    continue
                raise _as_generation_error(exc, attempt) from None
            latency_ms = int((time.monotonic() - started) * 1000)
            request_id = raw.headers.get("x-request-id") or getattr(completion, "id", None)
            variants = _variants(completion, prompt.variants, request_id=request_id, attempts=attempt)
            usage = completion.usage.model_dump(exclude_none=True) if completion.usage else {}
            return Completion(
                variants=variants,
                model=completion.model or self.config.model,
                request_id=request_id,
                usage={k: v for k, v in usage.items() if isinstance(v, int)},
                latency_ms=latency_ms,
                attempts=attempt,
            )


def _variants(completion, expected: int, *, request_id: str | None, attempts: int) -> tuple[Variant, ...]:
    def fail(code: str, reason: str) -> GenerationError:
        return GenerationError(code, reason, attempts=attempts, request_id=request_id)

    if not completion.choices:
        raise fail("invalid_output", "The model returned no answer.")
    choice = completion.choices[0]
    message = choice.message
    if getattr(message, "refusal", None):
        raise fail("refused", "The model refused to write copy for this brief.")
    if choice.finish_reason == "content_filter":
        raise fail("refused", "The model provider's content filter stopped the answer.")
    if choice.finish_reason == "length":
        raise fail("invalid_output", "The model's answer was cut off before it was complete.")
    try:
        data = json.loads(message.content or "")
    except json.JSONDecodeError:
        raise fail("invalid_output", "The model's answer was not valid JSON.") from None
    items = data.get("variants") if isinstance(data, dict) else None
    if not isinstance(items, list) or not _all_variants(items):
        raise fail("invalid_output", "The model's answer did not match the schema of copy variants.")
    if len(items) != expected:
        raise fail("invalid_output", f"The model wrote {len(items)} variant(s) instead of {expected}.")
    return tuple(Variant(item["headline"], item["body"], item["cta"]) for item in items)


def _all_variants(items: Sequence) -> bool:
    return all(
        isinstance(item, dict)
        and all(isinstance(item.get(key), str) for key in ("headline", "body", "cta"))
        and item["body"].strip()
        for item in items
    )
