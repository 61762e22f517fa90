"""The generation task through django-q2's real machinery: the ORM broker and a qcluster process."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from reviewapp import workflow
from reviewapp.models import Brief, BriefStatus, Draft
from tests.conftest import make_user
from tests.openai_stub import StubOpenAI

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_a_qcluster_worker_turns_a_queued_brief_into_drafts(postgres, settings):
    """Needs a database another process can open: the PostgreSQL run of `make test` has one."""
    stub = StubOpenAI().start()
    settings.GENERATION_CONFIGURED = True
    writer = make_user(roles=["copywriter"])
    brief = workflow.request_brief(
        requester=writer, product="Linen bedding", audience="For Ottilie Vanderwaal"
    )
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
        ),
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": stub.base_url,
        "OPENAI_TIMEOUT_SECONDS": "5",
        "Q_WORKERS": "1",
    }
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            brief.refresh_from_db()
            if not brief.is_pending:
                break
            time.sleep(0.5)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
        stub.stop()
    assert brief.status == BriefStatus.DONE, (brief.status, brief.error)
    assert Draft.objects.filter(brief=brief).count() == 3
    assert all("Vanderwaal" not in body for body in stub.bodies)
    assert Brief.objects.get(pk=brief.pk).attempts == 1
