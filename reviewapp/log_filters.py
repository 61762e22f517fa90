"""Logging filters (settings.LOGGING attaches them).

`WithoutUrls` sits on the HTTP client libraries' loggers (urllib3, requests, requests-hardened, and
httpx, httpcore and openai under the OpenAI client). Their
records name the request: urllib3 logs `"POST /hooks?token=… HTTP/1.1" 200` and "Starting new HTTPS
connection (1): host:port" at DEBUG, and the URL in warnings too (a receiver that answers with a broken
header makes urllib3 warn "Failed to parse headers (url=…)"). A webhook URL often carries the receiver's
token, so every argument of these records is replaced before any handler sees them: the message keeps its
wording, never its values, and an exception attached to the record is reduced to its type.
"""

import logging
import re

REDACTED = "[withheld]"
# Every logger of these libraries, each named: a filter on a logger applies only to the records created
# on that very logger, never to those its children pass up (tests/test_outgoing_logs.py checks that every
# logger these libraries create is listed).
HTTP_CLIENT_LOGGERS = (
    "urllib3",
    "urllib3.connection",
    "urllib3.connectionpool",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
    "urllib3.contrib.pyopenssl",
    "urllib3.contrib.emscripten.response",
    "urllib3.http2.connection",
    "requests",
    "requests_hardened",
    "requests_hardened.ip_filter",
    # The OpenAI client (generation): httpx logs every request's URL at INFO, openai the request options
    # (the prompt among them) at DEBUG.
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
    "openai",
    "openai._base_client",
    "openai._legacy_response",
    "openai._response",
    "openai.audio.transcriptions",
    "openai.lib.parsing",
    "openai.resources.beta.realtime.realtime",
    "openai.resources.beta.responses.responses",
    "openai.resources.live.forks",
    "openai.resources.live.live",
    "openai.resources.live.sideband",
    "openai.resources.realtime.realtime",
    "openai.resources.realtime.translations.translations",
    "openai.resources.responses.responses",
    "openai.resources.uploads.uploads",
)
# Whatever still looks like a URL or a path once the arguments are gone (a message built with an f-string).
_URLISH = re.compile(r"\S*(?:://|/|\?)\S*")


class WithoutUrls(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            count = len(record.args) if isinstance(record.args, tuple) else 1
            try:
                record.msg = str(record.msg) % ((REDACTED,) * count)
            except (TypeError, ValueError, KeyError):  # %d, %(name)s…: the wording cannot be kept
                record.msg = f"{record.name} {record.levelname.lower()}: details {REDACTED}"
            record.args = ()
        elif not isinstance(record.msg, str):
            record.msg = f"{type(record.msg).__name__} {REDACTED}"  # an object logged as the message
        if record.exc_info:
            kind = record.exc_info[0]
            record.msg = f"{record.msg} ({kind.__name__ if kind else 'error'}, details {REDACTED})"
            record.exc_info = None
        record.msg = _URLISH.sub(REDACTED, str(record.msg))
        record.exc_text = None
        record.stack_info = None
        return True
