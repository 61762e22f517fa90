"""Background tasks (django-q2). Tasks take ids, load the row, and call workflow functions.

`generate_from_brief` masks the brief, asks the model, restores the answer and hands the copy to
`workflow.complete_brief`. The vault of personal values exists only as a local variable here.
"""

import logging

from django.conf import settings

from generation import briefs
from generation.client import Client, ClientConfig, GenerationError
from reviewapp import pii, workflow

logger = logging.getLogger(__name__)

UNEXPECTED = (
    "An unexpected error stopped generation; the brief is kept and nothing was published. "
    "Try again, or tell an admin if it keeps happening."
)


def client_config() -> ClientConfig:
    return ClientConfig(
        # A local OpenAI-compatible server needs no key, but the SDK insists on one.
        api_key=settings.OPENAI_API_KEY or "no-key-needed-for-local-server",
        base_url=settings.OPENAI_BASE_URL or None,
        model=settings.OPENAI_MODEL,
        timeout=settings.OPENAI_TIMEOUT_SECONDS,
        max_retries=settings.OPENAI_MAX_RETRIES,
        backoff=settings.OPENAI_RETRY_BACKOFF_SECONDS,
    )


def generate_from_brief(brief_id: int) -> str:
    """Generate the drafts of one brief. Safe to run twice: the claim lets one worker in, and the
    drafts are created in one transaction keyed by the brief. Returns what happened."""
    if not settings.GENERATION_CONFIGURED:
        claim = workflow.claim_brief(brief_id)
        if claim:
            workflow.fail_brief(
                claim.brief,
                claim=claim.token,
                code="generation_not_configured",
                reason="Generation is not configured on this server (OPENAI_API_KEY or OPENAI_BASE_URL).",
            )
        return "failed"
    claim = workflow.claim_brief(brief_id)
    if claim is None:
        return "skipped"
    brief = claim.brief
    try:
        prepared = briefs.prepare(
            {
                "product": brief.product,
                "audience": brief.audience,
                "channel": brief.channel,
                "tone": brief.tone,
                "key_points": brief.key_points,
                "approved_facts": brief.approved_facts,
                "language": brief.language,
            },
            variants=brief.variants,
            masker=pii.get_masker(),
        )
        completion = Client(client_config()).complete(prepared.prompt)
        copies = briefs.restore(completion, prepared.vault, product=brief.product)
        workflow.complete_brief(
            claim,
            copies=[workflow.GeneratedCopy(title=c.title, body=c.body) for c in copies],
            provenance={
                "model": completion.model,
                "prompt_template_version": prepared.prompt.template_version,
                "masked_prompt": prepared.prompt.as_list(),
                "entity_counts": prepared.entity_counts,
                "usage": completion.usage,
                "request_id": completion.request_id,
                "latency_ms": completion.latency_ms,
            },
        )
    except GenerationError as exc:
        logger.warning("brief %s: generation failed (%s, %s attempt(s))", brief.pk, exc.code, exc.attempts)
        workflow.fail_brief(brief, claim=claim.token, code=exc.code, reason=exc.reason)
        return "failed"
    except workflow.WorkflowError as exc:
        if exc.code == "claim_lost":
            return "skipped"
        logger.warning("brief %s: drafts refused by the workflow (%s)", brief.pk, exc.code)
        workflow.fail_brief(brief, claim=claim.token, code=exc.code, reason=exc.message)
        return "failed"
    except Exception as exc:
        # Only the exception's type: its message or traceback locals could carry brief text.
        logger.error("brief %s: unexpected %s during generation", brief.pk, type(exc).__name__)
        workflow.fail_brief(brief, claim=claim.token, code="internal_error", reason=UNEXPECTED)
        return "failed"
    return "done"
