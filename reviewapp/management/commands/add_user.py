import sys

from django.core.management.base import BaseCommand, CommandError

from reviewapp import accounts


class Command(BaseCommand):
    help = (
        "Create a user with one or more roles (copywriter, reviewer, admin, integration). "
        "With --token, prints a new API token alone on the last line of output."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, help="Comma-separated roles, e.g. copywriter,reviewer")
        parser.add_argument("--name", default="", help='Full name, e.g. "Rita Reviewer"')
        parser.add_argument("--token", action="store_true", help="Also create an API token and print it")
        parser.add_argument(
            "--password-stdin", action="store_true", help="Read a password for web sign-in from stdin"
        )

    def handle(self, *args, username, role, name, token, password_stdin, **options):
        password = sys.stdin.readline().rstrip("\n") if password_stdin else None
        try:
            roles = accounts.parse_roles(role)
            user = accounts.create_user(username, roles=roles, name=name, password=password)
        except accounts.AccountError as exc:
            raise CommandError(str(exc)) from None
        except Exception as exc:  # model validation of the username
            raise CommandError(f"Cannot create {username!r}: {exc}") from None
        self.stdout.write(f"Created {user.username} with role(s) {', '.join(roles)}.")
        if token:
            self.stdout.write("API token (shown once; store it now):")
            self.stdout.write(accounts.issue_token(user, name="add_user"))
