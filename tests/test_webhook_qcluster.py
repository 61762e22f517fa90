"""The real worker: `manage.py qcluster` as its own process against a file SQLite database delivers an
approval that was committed before it started (the outbox row and its queued task were waiting)."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from standardwebhooks import Webhook

from tests.receiver import Receiver

ROOT = Path(__file__).resolve().parent.parent

SETUP = """
import json
from reviewapp import accounts, webhooks, workflow
writer = accounts.create_user("cora", roles=["copywriter"], name="Cora Copywriter")
rhea = accounts.create_user("rhea", roles=["reviewer"], name="Rhea Reviewer")
endpoint, secret = webhooks.create_endpoint(url=URL, event_types=["copy.approved"])
draft = workflow.submit(author=writer, title="Serum", body="A serum with niacinamide, 30 ml.")
workflow.decide(draft, reviewer=rhea, kind="approve", version=1)
print(json.dumps({"secret": secret, "draft": draft.pk, "sha256": draft.current_version.sha256}))
"""


def stop(process: subprocess.Popen, *, grace: float = 10.0) -> None:
    """Stop a process we started: SIGTERM, then SIGKILL to its whole session if it has not ended in time
    (qcluster's worker processes share the session it was started in)."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=grace)


@pytest.mark.slow
def test_qcluster_delivers_a_committed_approval(tmp_path):
    database = tmp_path / "review.sqlite3"
    env = {
        "PATH": os.environ["PATH"],
        "SECRET_KEY": "qcluster-test-" + "k" * 50,
        "WEBHOOK_SECRET_KEY": Fernet.generate_key().decode(),
        "AUDIT_KEY": "qcluster-test-audit-" + "k" * 40,
        "AUDIT_CHECKPOINT_DIR": str(tmp_path / "audit-checkpoints"),
        "SQLITE_PATH": str(database),
        "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
        "Q_WORKERS": "1",
        # The shell approves as a reviewer without a second factor, which production settings refuse.
        "REQUIRE_2FA_FOR": "",
    }

    def manage(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    manage("migrate", "--no-input", "-v0")
    with Receiver() as receiver:
        created = json.loads(
            manage("shell", "-c", f"URL = {receiver.url()!r}\n{SETUP}").strip().splitlines()[-1]
        )
        assert receiver.received == []  # nothing is sent until a worker runs

        log = (tmp_path / "qcluster.log").open("w")
        cluster = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            (request,) = receiver.wait_for(1, timeout=60)
        finally:
            stop(cluster)
            log.close()

    payload = Webhook(created["secret"]).verify(request.body, request.headers)
    assert payload["type"] == "copy.approved"
    assert payload["data"]["draft_id"] == created["draft"]
    assert payload["data"]["sha256"] == created["sha256"]
    assert payload["data"]["approved_by"] == {"username": "rhea", "name": "Rhea Reviewer"}
    with sqlite3.connect(database) as db:
        states = db.execute("SELECT state, attempt_count FROM reviewapp_webhookdelivery").fetchall()
        msg_ids = [row[0] for row in db.execute("SELECT msg_id FROM reviewapp_webhookmessage")]
    assert states == [("delivered", 1)]
    assert msg_ids == [request.webhook_id]
    assert cluster.returncode is not None
    # The worker's log names deliveries by id, never the body or the URL.
    output = (tmp_path / "qcluster.log").read_text()
    assert "A serum with niacinamide" not in output and receiver.url() not in output
