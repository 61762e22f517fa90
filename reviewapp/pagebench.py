"""Server time of the review queue and the draft page with a large database (`make bench`).

    python -m reviewapp.pagebench                 # SQLite and, when reachable, PostgreSQL
    python -m reviewapp.pagebench --db sqlite --drafts 2000 --requests 50

Each run builds a fresh database (a temporary SQLite file; a temporary PostgreSQL database that is
dropped afterwards), fills it with `populate()` — bulk inserts, not the workflow, so 10,000 drafts and
100,000 flags take seconds; every row is still valid under the models' constraints — and times
requests through Django's test client, which runs the full middleware, view and template stack
without a network in between. It reports p50/p95/max in milliseconds and the queries per request.

`populate()` is also what the query-count tests use to fill the database with 1,000 drafts.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

PG_URL = os.environ.get("PG_URL", "postgres://postgres@127.0.0.1:5432/reviewapp")
TARGET_P95_MS = 150

SENTENCES = [
    "The best {product} in the world, loved by everyone who tries it.",
    "Clinically proven to work in just seven days.",
    "73% of customers saw results within a week.",
    "Only 3 lamps left, so hurry: the offer ends tonight!",
    "Our {product} comes in a recycled glass bottle with a pump.",
    "Free delivery on orders over 40 pounds, returns within 30 days.",
    "Made with care by a small team in Lisbon.",
    "37 shoppers are viewing this lamp now.",
]
PRODUCTS = ["serum", "trail shoe", "coffee blend", "desk lamp", "rain jacket", "face cream", "yoga mat"]
CATEGORIES = ["exaggeration", "unverifiable", "manipulation", "pii", "sensitive_targeting"]
SEVERITIES = ["blocker", "warning", "warning", "info", "warning"]  # about one flag in five blocks
CHANNELS = ["email", "sms", "push", "ad", "social", "web"]
STATUS_MIX = (
    ["in_review"] * 50
    + ["changes_requested"] * 10
    + ["approved"] * 15
    + ["published"] * 15
    + ["rejected"] * 10
)
REASON = "Evidence and stock feed checked; see the campaign file."


def populate(*, drafts: int, flags_per_draft: int = 10, seed: int = 7, now=None, writers=None) -> dict:
    """Bulk-create `drafts` drafts (1 to 3 versions each, `flags_per_draft` flags on the current one) by
    a few authors (or by `writers`), decided by a few reviewers, spread over the last 30 days; a tenth
    of those in review are claimed. Returns the users it made, by role."""
    from django.db import transaction
    from django.utils import timezone

    from reviewapp import accounts
    from reviewapp.models import Decision, Draft, Flag, Version, sha256_hex

    rng = random.Random(seed)
    now = now or timezone.now()
    tag = next(_runs)  # each call makes its own users
    writers = writers or [
        accounts.create_user(f"bench-writer-{tag}-{i}", roles=["copywriter"]) for i in range(8)
    ]
    reviewers = [accounts.create_user(f"bench-reviewer-{tag}-{i}", roles=["reviewer"]) for i in range(4)]

    with transaction.atomic():
        plans = []
        for index in range(drafts):
            created = now - timedelta(minutes=rng.randrange(60, 30 * 24 * 60))
            plans.append(
                {
                    "author": writers[index % len(writers)],
                    "status": rng.choice(STATUS_MIX),
                    "versions": 1 + index % 3,
                    "created": created,
                    "product": rng.choice(PRODUCTS),
                }
            )
        rows = Draft.objects.bulk_create(
            [
                Draft(
                    title=f"{plan['product'].title()} campaign {index}",
                    channel=CHANNELS[index % len(CHANNELS)],
                    campaign=f"campaign-{index % 40}",
                    author=plan["author"],
                    status="generating",  # no text yet: the constraint allows it until versions exist
                    created_at=plan["created"],
                    updated_at=plan["created"],
                )
                for index, plan in enumerate(plans)
            ],
            batch_size=1000,
        )
        versions = []
        for draft, plan in zip(rows, plans, strict=True):
            for number in range(1, plan["versions"] + 1):
                picked = rng.sample(SENTENCES, 5)
                body = " ".join(s.format(product=plan["product"]) for s in picked) + f" Edition {number}."
                versions.append(
                    Version(
                        draft=draft,
                        number=number,
                        body=body,
                        sha256=sha256_hex(body),
                        created_by=plan["author"],
                        created_at=plan["created"] + timedelta(minutes=40 * (number - 1)),
                    )
                )
        Version.objects.bulk_create(versions, batch_size=1000)
        current = {}
        for version in versions:
            current[version.draft_id] = version  # the last one of each draft
        # In the workflow's order, which the database's gate triggers hold every write to: text
        # first (into review), then flags, then decisions, then the statuses they lead to.
        for draft in rows:
            draft.current_version, draft.status = current[draft.pk], "in_review"
        Draft.objects.bulk_update(rows, ["current_version", "status"], batch_size=500)

        decisions, flags = [], []
        for draft, plan in zip(rows, plans, strict=True):
            version = current[draft.pk]
            reviewer = reviewers[draft.pk % len(reviewers)]
            decided_at = version.created_at + timedelta(minutes=rng.randrange(5, 3 * 24 * 60))
            if decided_at > now:
                decided_at = now - timedelta(minutes=1)
            status = plan["status"]
            approved = status in ("approved", "published")
            words = [(m.start(), m.end()) for m in _WORD.finditer(version.body)]
            for k in range(flags_per_draft):
                start, end = words[(k * 7) % len(words)]
                severity = SEVERITIES[k % len(SEVERITIES)]
                overridden = approved and severity == "blocker"
                flags.append(
                    Flag(
                        version=version,
                        category=CATEGORIES[k % len(CATEGORIES)],
                        rule=f"{CATEGORIES[k % len(CATEGORIES)]}.bench_rule_{k % 7}",
                        severity=severity,
                        start=start,
                        end=end,
                        text=version.body[start:end],
                        message="A finding the reviewer should read before deciding.",
                        suggestion="Say what the product does, with a source.",
                        reference="UK CAP Code 3.7",
                        status="overridden" if overridden else "open",
                        overridden_by=reviewer if overridden else None,
                        override_reason=REASON if overridden else "",
                        overridden_at=decided_at if overridden else None,
                    )
                )
            if status == "in_review":
                continue
            kind = {"changes_requested": "request_changes", "rejected": "reject"}.get(status, "approve")
            decisions.append(
                Decision(
                    draft=draft,
                    version=version,
                    sha256=version.sha256,
                    kind=kind,
                    comment="" if kind == "approve" else "Please give a source for the figures.",
                    reviewer=reviewer,
                    created_at=decided_at,
                )
            )
        Flag.objects.bulk_create(flags, batch_size=2000)
        Decision.objects.bulk_create(decisions, batch_size=1000)
        approvals = {d.draft_id: d for d in decisions if d.kind == "approve"}

        for draft, plan in zip(rows, plans, strict=True):
            version = current[draft.pk]
            draft.status = "approved" if plan["status"] == "published" else plan["status"]
            draft.updated_at = version.created_at
            if draft.pk in approvals:
                draft.approved_version = version
                draft.approval = approvals[draft.pk]
            if plan["status"] == "in_review" and draft.pk % 10 == 0:
                draft.claimed_by = reviewers[(draft.pk // 10) % len(reviewers)]
                draft.claimed_until = now + timedelta(minutes=10)
        Draft.objects.bulk_update(
            rows,
            ["status", "updated_at", "approved_version", "approval", "claimed_by", "claimed_until"],
            batch_size=500,
        )
        published = [
            pk
            for pk, plan in zip((row.pk for row in rows), plans, strict=True)
            if plan["status"] == "published"
        ]
        Draft.objects.filter(pk__in=published).update(status="published")
        # Bulk inserts bypass workflow.py, which keeps the queue's sort key: compute it once here.
        Draft.objects.filter(pk__in=[row.pk for row in rows]).refresh_risk()
    return {"writers": writers, "reviewers": reviewers, "drafts": rows}


_WORD = re.compile(r"\w+")
_runs = itertools.count(1)


# --- Timing ---------------------------------------------------------------------------------------


def _time(client, path: str, repeat: int) -> tuple[list[float], int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(path)  # warm up: the first request of a process opens the connection and loads templates
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    queries = len(captured)  # read now: the next request clears the connection's query log
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} answered {response.status_code}")
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        client.get(path)
        timings.append((time.perf_counter() - started) * 1000)
    return timings, queries


def measure(*, drafts: int, flags_per_draft: int, requests: int) -> list[tuple[str, list[float], int]]:
    from django.db import connection
    from django.test import Client

    from reviewapp.models import Draft, Flag

    started = time.perf_counter()
    made = populate(drafts=drafts, flags_per_draft=flags_per_draft)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")  # as autovacuum would after a bulk load: index-only scans
    print(
        f"  populated {Draft.objects.count():,} drafts and {Flag.objects.count():,} flags "
        f"in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    client = Client()
    client.force_login(made["reviewers"][0])
    in_review = list(
        Draft.objects.filter(status="in_review").values_list("pk", flat=True)[:: max(drafts // 50, 1)]
    )
    results = []
    for label, path in [
        ("queue, by risk", "/queue"),
        ("queue, by age", "/queue?sort=age"),
        ("queue, manipulation + email", "/queue?category=manipulation&channel=email"),
        ("queue, any status, page 100", "/queue?status=any&page=100"),
    ]:
        timings, queries = _time(client, path, requests)
        results.append((label, timings, queries))
    timings, queries = [], 0
    per_draft = max(requests // len(in_review), 1)
    for pk in in_review:
        more, queries = _time(client, f"/drafts/{pk}", per_draft)
        timings += more
    results.append(("draft page (10 flags, 1-3 versions)", timings, queries))
    return results


def report(name: str, results) -> bool:
    ok = True
    print(f"\n{name}: server time per request (ms), Django test client, full middleware + template")
    print(f"  {'page':<38} {'n':>5} {'p50':>7} {'p95':>7} {'max':>7} {'queries':>8}")
    for label, timings, queries in results:
        ordered = sorted(timings)
        p95 = ordered[max(int(len(ordered) * 0.95) - 1, 0)]
        ok &= p95 < TARGET_P95_MS
        print(
            f"  {label:<38} {len(ordered):>5} {statistics.median(ordered):>7.1f} {p95:>7.1f} "
            f"{ordered[-1]:>7.1f} {queries:>8}"
        )
    return ok


# --- Databases ------------------------------------------------------------------------------------


def _setup(env: dict) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "reviewapp.settings",
            "SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
            "AUDIT_KEY": "bench-only-audit-key-0123456789-abcdefghijklmnopqrstuvwxyz",
            "SECURE_SSL_REDIRECT": "false",
            "SECURE_COOKIES": "false",
            "ALLOWED_HOSTS": "testserver",
            "LOG_LEVEL": "WARNING",
            **env,
        }
    )
    import django
    from django.core.management import call_command

    django.setup()
    from django.conf import settings

    # The test client needs no hashed static names (the pages only link to them).
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    call_command("migrate", verbosity=0)


def run_sqlite(args) -> bool:
    with tempfile.TemporaryDirectory(prefix="pagebench-") as folder:
        _setup({"SQLITE_PATH": str(Path(folder) / "bench.sqlite3"), "DATABASE_URL": ""})
        results = measure(drafts=args.drafts, flags_per_draft=args.flags, requests=args.requests)
        from django.db import connection

        connection.close()
    return report("SQLite (WAL, file in a temporary folder)", results)


def run_postgres(args) -> bool | None:
    import psycopg

    admin_url = PG_URL.rsplit("/", 1)[0] + "/postgres"
    name = f"reviewapp_pagebench_{os.getpid()}"
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        print(f"\nPostgreSQL: SKIPPED, not reachable at {PG_URL}")
        return None
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        _setup({"DATABASE_URL": PG_URL.rsplit("/", 1)[0] + f"/{name}"})
        results = measure(drafts=args.drafts, flags_per_draft=args.flags, requests=args.requests)
        from django.db import connections

        connections.close_all()
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return report(f"PostgreSQL {PG_URL.rsplit('@', 1)[-1]}", results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], help="one database only (default: both)")
    parser.add_argument("--drafts", type=int, default=10_000)
    parser.add_argument("--flags", type=int, default=10, help="flags per draft")
    parser.add_argument("--requests", type=int, default=100, help="timed requests per page")
    args = parser.parse_args(argv)
    if args.db is None:
        print(f"Page bench: {args.drafts:,} drafts x {args.flags} flags, target p95 < {TARGET_P95_MS} ms")
    # Django is configured once per process, so each database runs in its own child process.
    if args.db is None:
        import subprocess

        code = 0
        for db in ("sqlite", "postgres"):
            command = [sys.executable, "-m", "reviewapp.pagebench", "--db", db]
            command += [
                "--drafts",
                str(args.drafts),
                "--flags",
                str(args.flags),
                "--requests",
                str(args.requests),
            ]
            code |= subprocess.call(command)  # noqa: S603 (our own module, fixed arguments)
        return code
    ok = run_sqlite(args) if args.db == "sqlite" else run_postgres(args)
    if ok is False:
        print(f"  p95 above the {TARGET_P95_MS} ms target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
