"""Outgoing requests never put their URL in the logs, whatever the log level (webhook URLs carry receivers'
tokens). Real webhooks go to the local receiver with the settings' LOGGING in force and the root logger at
DEBUG; every record any logger emits is captured and searched for the token and the path."""

import copy
import logging
import logging.config
import re
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import requests
import requests_hardened
import urllib3
from django.conf import settings
from django_q.conf import Conf

from reviewapp import webhooks, workflow
from reviewapp.log_filters import HTTP_CLIENT_LOGGERS, WithoutUrls
from reviewapp.models import DecisionKind, WebhookAttempt
from tests.conftest import SAFE_COPY, make_user, submit
from tests.receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "tok-5ec2e7-d0-not-log"  # a marker to search the logs for
PATH = "/acme-private-path-7f3/in"


@pytest.fixture(autouse=True)
def local_receivers(settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture
def everything_logged(caplog):
    """The settings' LOGGING applied again with the root logger at DEBUG (LOG_LEVEL=DEBUG), and every
    record that reaches the root logger captured."""
    config = copy.deepcopy(settings.LOGGING)
    config["root"]["level"] = "DEBUG"
    logging.config.dictConfig(config)
    caplog.set_level(logging.DEBUG)
    yield caplog
    logging.config.dictConfig(settings.LOGGING)


def logged_text(caplog) -> str:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    # Formatted as a handler writes them: with any exception and stack trace.
    return "\n".join(handler.format(record) for record in caplog.records)


def send_a_webhook(url: str) -> WebhookAttempt:
    webhooks.create_endpoint(url=url, description="CMS")
    writer = make_user(roles=["copywriter"])
    reviewer = make_user(roles=["reviewer"])
    draft = submit(author=writer, body=SAFE_COPY)
    workflow.decide(draft, reviewer=reviewer, kind=DecisionKind.APPROVE, version=1)
    return WebhookAttempt.objects.get()


def test_a_delivery_logs_neither_the_token_nor_the_path_at_debug(everything_logged):
    with Receiver() as receiver:
        attempt = send_a_webhook(f"{receiver.url(PATH)}?token={TOKEN}")
        (request,) = receiver.wait_for(1)
    assert request.path == f"{PATH}?token={TOKEN}" and attempt.succeeded

    text = logged_text(everything_logged)
    assert "webhook delivery" in text  # the app's own line about the attempt is there, at INFO
    assert TOKEN not in text
    assert PATH not in text
    assert f":{receiver.port}" not in text  # nor where it connected


def broken_headers(handler: BaseHTTPRequestHandler) -> None:
    """A 200 whose header block has a line without a colon: urllib3 warns, naming the request's URL."""
    handler.wfile.write(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Broken header\r\nConnection: close\r\n\r\nok"
    )


def test_a_warning_about_the_answer_keeps_its_wording_but_not_the_url(everything_logged):
    with Receiver(broken_headers) as receiver:
        send_a_webhook(f"{receiver.url(PATH)}?token={TOKEN}")
        receiver.wait_for(1)

    warnings = [r for r in everything_logged.records if r.name.startswith("urllib3")]
    assert [r.levelname for r in warnings] == ["WARNING"]
    assert "Failed to parse headers" in warnings[0].getMessage()
    text = logged_text(everything_logged)
    assert TOKEN not in text and PATH not in text and f":{receiver.port}" not in text


def test_every_logger_of_the_http_clients_is_filtered():
    """A filter on a logger applies to records created on it, not to those its children pass up: every
    module of urllib3, requests and requests-hardened that makes a logger must be listed, and each logger
    they have made is filtered."""
    import httpcore
    import httpx
    import openai

    making_loggers = set()
    for package in (urllib3, requests, requests_hardened, httpx, httpcore, openai):
        root = Path(package.__file__).parent
        for source in root.rglob("*.py"):
            text = source.read_text(encoding="utf-8")
            if "getLogger(__name__)" in text:
                parts = source.relative_to(root.parent).with_suffix("").parts
                making_loggers.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
            making_loggers.update(re.findall(r'getLogger\("([^"]+)"\)', text))
    assert {"urllib3", "urllib3.connectionpool", "requests", "requests_hardened.ip_filter"} <= making_loggers
    assert {"httpx", "openai._base_client"} <= making_loggers
    assert making_loggers <= set(HTTP_CLIENT_LOGGERS)

    packages = {"urllib3", "requests", "requests_hardened", "httpx", "httpcore", "openai"}
    for name, logger in logging.root.manager.loggerDict.items():
        if name.split(".")[0] in packages and isinstance(logger, logging.Logger):
            assert any(isinstance(f, WithoutUrls) for f in logger.filters), name
