"""Demo users and drafts in every status, created through the workflow (real flags, real audit)."""

from dataclasses import dataclass, field

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from reviewapp import accounts, workflow
from reviewapp.models import DecisionKind, Severity, User

DEMO_PASSWORD = "demo-review-2026"  # noqa: S105 (a published demo login, refused outside DEBUG without --force)

USERS = [
    ("maya", "Maya Okafor", ["copywriter"]),
    ("theo", "Theo Lindqvist", ["copywriter"]),
    ("rita", "Rita Alves", ["reviewer"]),
    ("ravi", "Ravi Menon", ["reviewer"]),
    ("casey", "Casey Park", ["copywriter", "reviewer"]),
    ("admin", "Ada Admin", ["admin"]),
    ("campaign-bot", "Campaign tool", ["integration"]),
]


@dataclass(frozen=True)
class Step:
    reviewer: str
    kind: str
    comment: str = ""
    override_blockers: bool = False


@dataclass(frozen=True)
class Demo:
    author: str
    title: str
    channel: str
    campaign: str
    texts: list[str]  # the first is submitted; the rest are later versions
    steps: list[Step] = field(default_factory=list)
    publish: bool = False


APPROVE, CHANGES, REJECT = DecisionKind.APPROVE, DecisionKind.REQUEST_CHANGES, DecisionKind.REJECT

DRAFTS = [
    Demo(
        "maya",
        "Summer glow serum",
        "email",
        "summer-26",
        [
            "The best serum in the world! Clinically proven to erase wrinkles overnight. "
            "Only 3 left, and the offer ends tonight."
        ],
    ),
    Demo(
        "theo",
        "Strider 5 launch",
        "web",
        "running",
        [
            "Meet the Strider 5: lighter foam, a wider toe box and a grippier sole. "
            "9 out of 10 runners prefer it. Hurry, the launch price ends today."
        ],
    ),
    Demo(
        "campaign-bot",
        "Autumn range newsletter",
        "email",
        "autumn-26",
        ["Our autumn range is here: wool blends, recycled packaging and free returns within 30 days."],
    ),
    Demo(
        "maya",
        "Coffee subscription",
        "ad",
        "coffee",
        [
            "The #1 coffee subscription. 73% of customers never go back to supermarket beans!",
            "A coffee subscription from small roasters, delivered every two weeks. Pause or cancel any time.",
        ],
    ),
    Demo(
        "theo",
        "Protein bar ad",
        "ad",
        "fitness",
        ["A miracle snack that melts fat while you sleep. 37 people are viewing this right now."],
        [Step("rita", CHANGES, "Drop the fat-loss claim and the live-viewer count.")],
    ),
    Demo(
        "maya",
        "Flash sale SMS",
        "sms",
        "black-friday",
        ["Last chance! 50% off everything, today only. Don't miss out."],
        [Step("ravi", CHANGES, "Give the real end date and time of the sale.")],
    ),
    Demo(
        "theo",
        "Garden tools email",
        "email",
        "garden",
        ["Our new pruning shears have a carbon-steel blade, a soft-grip handle and a five-year warranty."],
        [Step("rita", APPROVE)],
    ),
    Demo(
        "maya",
        "Sunscreen launch",
        "social",
        "summer-26",
        ["Dermatologist recommended SPF 50 sunscreen with a light, non-greasy finish."],
        [Step("ravi", APPROVE, override_blockers=True)],
    ),
    Demo(
        "theo",
        "Bike helmet post",
        "social",
        "cycling",
        ["The Aero helmet: MIPS liner, 18 vents and a magnetic buckle. Available in four sizes."],
        [Step("rita", APPROVE)],
        publish=True,
    ),
    Demo(
        "campaign-bot",
        "Winter coats banner",
        "web",
        "winter-26",
        ["Winter coats with recycled down fill, now in stores and online."],
        [Step("ravi", APPROVE)],
        publish=True,
    ),
    Demo(
        "maya",
        "Detox tea",
        "ad",
        "wellness",
        ["Cures bloating instantly. 100% guaranteed results or your money back."],
        [Step("rita", REJECT, "Health cure claims: we cannot run this product copy.")],
    ),
    Demo(
        "theo",
        "Trading course push",
        "push",
        "finance",
        ["Only 2 seats left! Learn the secret traders don't want you to know."],
        [
            Step("ravi", CHANGES, "Remove the seat count and the secret."),
            Step("rita", REJECT, "Second round still pressures readers; closing this one."),
        ],
    ),
    Demo(
        "maya",
        "Headphones product page",
        "web",
        "audio",
        [
            "Wireless headphones with 30 hours of battery and active noise cancelling.",
            "Wireless headphones with 30 hours of battery, active noise cancelling and 2x faster "
            "charging than our previous model.",
        ],
        [Step("rita", APPROVE)],
    ),
    Demo(
        "casey",
        "Loyalty programme teaser",
        "email",
        "loyalty",
        ["Join the club: points on every order and early access to sales. Studies show members save more."],
    ),
]


class Command(BaseCommand):
    help = "Create demo users (printing their logins) and a dozen drafts in every status."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="Allow seeding with DEBUG off (never in production)"
        )

    def handle(self, *args, force, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo creates users with a published password; run it with DEBUG=true or --force."
            )
        if settings.REQUIRE_2FA_FOR:
            # The demo's reviewers have no second factor, so their decisions would be refused.
            raise CommandError(
                "seed_demo's reviewers have no second factor: run it with REQUIRE_2FA_FOR= (empty), as "
                "DEBUG=true does by default."
            )
        if User.objects.filter(username="rita").exists():
            self.stdout.write("Demo data is already present.")
            # The first run's token was shown once; a fresh one keeps `make run` usable every time.
            bot = User.objects.filter(username="campaign-bot", is_active=True).first()
            self._print_logins(token=accounts.issue_token(bot, name="demo") if bot else None)
            return
        users = {}
        for username, name, roles in USERS:
            users[username] = accounts.create_user(username, roles=roles, name=name, password=DEMO_PASSWORD)
        token = accounts.issue_token(users["campaign-bot"], name="demo")
        for demo in DRAFTS:
            draft = workflow.submit(
                author=users[demo.author],
                title=demo.title,
                body=demo.texts[0],
                channel=demo.channel,
                campaign=demo.campaign,
            )
            self._play(draft, users, demo)
        self.stdout.write(self.style.SUCCESS(f"Created {len(USERS)} users and {len(DRAFTS)} drafts."))
        self._print_logins(token=token)

    def _play(self, draft, users, demo: Demo):
        pending_texts = list(demo.texts[1:])
        for step in demo.steps:
            draft.refresh_from_db()
            overrides = []
            if step.override_blockers:
                overrides = [
                    workflow.Override(flag.pk, "Backed by the panel study on file, ref. DERM-2026-04.")
                    for flag in draft.current_version.flags.filter(severity=Severity.BLOCKER)
                ]
            workflow.decide(
                draft,
                reviewer=users[step.reviewer],
                kind=step.kind,
                version=draft.current_version.number,
                comment=step.comment,
                overrides=overrides,
            )
            if step.kind == CHANGES and pending_texts:
                workflow.add_version(draft, author=draft.author, body=pending_texts.pop(0))
        for text in pending_texts:  # e.g. an approved draft edited again: back to review
            workflow.add_version(draft, author=draft.author, body=text)
        if demo.publish:
            workflow.publish(draft, actor=draft.author)

    def _print_logins(self, *, token):
        self.stdout.write(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
        for username, name, roles in USERS:
            if "integration" not in roles:
                self.stdout.write(f"  {username:<13} {name:<16} {', '.join(roles)}")
        if token:
            self.stdout.write(f"\nAPI token of campaign-bot (integration), shown once:\n  {token}")
