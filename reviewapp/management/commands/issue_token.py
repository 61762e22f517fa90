from django.core.management.base import BaseCommand, CommandError

from reviewapp import accounts
from reviewapp.models import User


class Command(BaseCommand):
    help = (
        "Give an existing user a new API token (e.g. after revoking a lost one) and print it alone on "
        "the last line of output. Earlier tokens stay valid until revoked in the admin."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--name", default="issue_token", help="A label for the token, e.g. the tool using it"
        )

    def handle(self, *args, username, name, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}; create one with add_user.")
        if not user.is_active or not user.roles:
            raise CommandError(f"{username!r} is inactive or has no role; a token would grant nothing.")
        self.stdout.write(f"API token for {user.username} (shown once; store it now):")
        self.stdout.write(accounts.issue_token(user, name=name[:100]))
