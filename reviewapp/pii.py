"""The Django side of masking: one masker per process, on the same spaCy pipeline as flagging."""

from django.conf import settings

from generation import masking
from reviewapp import flagging


def get_masker() -> masking.Masker:
    """The process's masker. `flagging.load_nlp()` is cached, so flagging and masking share one
    pipeline; the allow-list of brand and product names comes from MASKING_ALLOW_LIST."""
    return masking.get_masker(flagging.load_nlp(), allow_list=settings.MASKING_ALLOW_LIST)
