"""Domain events: the one seam where the outcome of a transition is announced to the outside.

Workflow functions call `emit` from `transaction.on_commit`, so an event only leaves once its change
is durable. Webhooks (a later issue) subscribe here; until then events are only logged. Event data
holds ids, codes and labels, never copy text or personal data.
"""

import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)

Handler = Callable[[str, dict], None]
_handlers: list[Handler] = []


def subscribe(handler: Handler) -> Handler:
    if handler not in _handlers:
        _handlers.append(handler)
    return handler


def unsubscribe(handler: Handler) -> None:
    if handler in _handlers:
        _handlers.remove(handler)


def emit(event_type: str, data: dict) -> None:
    logger.info("event %s %s", event_type, {k: v for k, v in data.items() if k in ("brief", "draft", "code")})
    for handler in list(_handlers):
        try:
            handler(event_type, data)
        except Exception:
            # One failing subscriber must not stop the others or undo the committed change.
            logger.exception("event handler %r failed for %s", handler, event_type)
