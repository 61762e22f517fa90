"""`make bench` for webhooks: real qcluster processes (2 workers) on the embedded default (a SQLite file,
django-q2's ORM broker) delivering to a receiver on 127.0.0.1.

Measures (1) the delay from approving a draft to the receiver getting copy.approved, approvals one at a
time with the workers idle (target: p95 under 2 s), and (2) deliveries per second when a batch of
approvals commits at once. Everything lives in a temporary directory and is removed afterwards.

    python -m reviewapp.webhooks_bench [--latency-runs 40] [--batch 300] [--workers 2]
    python -m reviewapp.webhooks_bench --postgres postgres://postgres@127.0.0.1:5432/reviewapp

With --postgres the same runs on a scratch PostgreSQL database (created, then dropped), still with the
ORM broker.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_P95_SECONDS = 2.0
COPY = "A lightweight serum with hyaluronic acid and niacinamide, in a 30 ml glass bottle. Edition {n}."


class Arrivals:
    """A local receiver that notes when each webhook-id first arrived, and how many requests came."""

    def __init__(self):
        self.first_seen: dict[str, float] = {}
        self.requests = 0
        self.changed = threading.Condition()
        arrivals = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                now = time.monotonic()
                with arrivals.changed:
                    arrivals.requests += 1
                    arrivals.first_seen.setdefault(self.headers["webhook-id"], now)
                    arrivals.changed.notify_all()
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def wait(self, msg_ids: list[str], *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self.changed:
            while not all(msg_id in self.first_seen for msg_id in msg_ids):
                left = deadline - time.monotonic()
                if left <= 0:
                    missing = sum(msg_id not in self.first_seen for msg_id in msg_ids)
                    raise SystemExit(f"bench: {missing} of {len(msg_ids)} deliveries never arrived")
                self.changed.wait(left)


def start_cluster(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    log = log_path.open("w")
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_cluster(process: subprocess.Popen, *, grace: float = 15.0) -> str:
    """SIGTERM to the process we started; SIGKILL to its session if it has not stopped in time."""
    if process.poll() is not None:
        return f"had already exited with {process.returncode}"
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=grace)
        return f"ignored SIGTERM for {grace:.0f} s: killed"
    return f"stopped on SIGTERM in {time.monotonic() - started:.1f} s"


def scratch_postgres(url: str) -> tuple[str, callable]:
    """A new empty database beside the one `url` names, and a function that drops it."""
    import psycopg

    base, _ = url.rsplit("/", 1)
    name = f"reviewapp_bench_{os.getpid()}"
    with psycopg.connect(f"{base}/postgres", autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(f"{base}/postgres", autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"{base}/{name}", drop


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency-runs", type=int, default=40)
    parser.add_argument("--batch", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--postgres", metavar="URL", help="run on a scratch database on this server")
    args = parser.parse_args()

    from cryptography.fernet import Fernet

    workdir = Path(tempfile.mkdtemp(prefix="webhooks-bench-"))
    env = {
        "PATH": os.environ["PATH"],
        "SECRET_KEY": secrets.token_urlsafe(50),
        "WEBHOOK_SECRET_KEY": Fernet.generate_key().decode(),
        "AUDIT_KEY": secrets.token_urlsafe(32),
        "AUDIT_CHECKPOINT_DIR": str(workdir / "audit-checkpoints"),
        "SQLITE_PATH": str(workdir / "bench.sqlite3"),
        "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
        # The bench's reviewer decides from code, with no session to pass a second factor.
        "REQUIRE_2FA_FOR": "",
        "Q_WORKERS": str(args.workers),
        "LOG_LEVEL": "INFO",
    }
    drop_database = None
    if args.postgres:
        env["DATABASE_URL"], drop_database = scratch_postgres(args.postgres)
    os.environ.update(env)
    os.environ["LOG_LEVEL"] = "WARNING"  # this process enqueues hundreds of tasks; the cluster logs at INFO
    os.environ["DJANGO_SETTINGS_MODULE"] = "reviewapp.settings"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from reviewapp import accounts, webhooks, workflow
    from reviewapp.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookMessage

    call_command("migrate", verbosity=0, interactive=False)
    receiver = Arrivals()
    webhooks.create_endpoint(url=receiver.url, event_types=["copy.approved", "webhook.test"])
    writer = accounts.create_user("bench-writer", roles=["copywriter"], name="Bench Writer")
    reviewer = accounts.create_user("bench-reviewer", roles=["reviewer"], name="Bench Reviewer")
    drafts = [
        workflow.submit(author=writer, title=f"Bench {n}", body=COPY.format(n=n))
        for n in range(args.latency_runs + args.batch)
    ]

    def approve(draft) -> str:
        workflow.decide(draft, reviewer=reviewer, kind="approve", version=1)
        return WebhookMessage.objects.filter(draft=draft).values_list("msg_id", flat=True).get()

    cluster = start_cluster(env, workdir / "qcluster.log")
    try:
        started = time.monotonic()
        with transaction.atomic():
            endpoint = WebhookEndpoint.objects.get()
            warm_up = webhooks.send_test(endpoint, actor=None).msg_id
        receiver.wait([warm_up], timeout=120)
        cold_start = time.monotonic() - started

        delays = []
        for draft in drafts[: args.latency_runs]:
            time.sleep(0.2)  # let the workers go idle, as between real approvals
            before = time.monotonic()
            msg_id = approve(draft)
            receiver.wait([msg_id], timeout=60)
            delays.append(receiver.first_seen[msg_id] - before)

        batch = drafts[args.latency_runs :]
        with transaction.atomic():
            msg_ids = [approve(draft) for draft in batch]
            committing = time.monotonic()
        receiver.wait(msg_ids, timeout=600)
        elapsed = max(receiver.first_seen[msg_id] for msg_id in msg_ids) - committing
    finally:
        stopped = stop_cluster(cluster)

    deliveries = WebhookDelivery.objects.count()
    attempts = WebhookAttempt.objects.count()
    p50, p95 = statistics.median(delays), percentile(delays, 0.95)
    verdict = "met" if p95 < TARGET_P95_SECONDS else "MISSED"
    database = "PostgreSQL" if args.postgres else "SQLite file (WAL)"
    print(
        f"webhooks: qcluster with {args.workers} workers, {database} + django-q2 ORM broker, "
        "receiver on 127.0.0.1"
    )
    print(f"  cluster start to first delivery: {cold_start:.2f} s")
    print(
        f"  approval -> delivery ({len(delays)} approvals, one at a time): p50 {p50 * 1000:.0f} ms, "
        f"p95 {p95 * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms (target p95 < 2 s: {verdict})"
    )
    print(
        f"  throughput: {len(msg_ids)} approvals committed together, delivered in {elapsed:.2f} s = "
        f"{len(msg_ids) / elapsed:.1f} deliveries/s"
    )
    print(f"  attempts {attempts} for {deliveries} deliveries; receiver got {receiver.requests} requests")
    print(f"  qcluster {stopped}")
    if drop_database:
        from django.db import connections

        connections.close_all()
        drop_database()
    if attempts != deliveries or receiver.requests != deliveries:
        raise SystemExit(f"bench: some delivery was attempted more than once (files kept in {workdir})")
    shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
