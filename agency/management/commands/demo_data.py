from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from agency.demo import demo_data_load


class Command(BaseCommand):
    help = (
        "Load the demo agency, brands, sandbox accounts and one user per role; idempotent, "
        "prints the logins."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset-passwords",
            action="store_true",
            help="Set the demo users' passwords back to the printed ones.",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Load even with DEBUG off (the demo passwords are public: never in production).",
        )

    def handle(self, *args, reset_passwords=False, force=False, **options):
        if not (settings.DEBUG or force):
            raise CommandError(
                "demo_data creates users whose passwords are public; it runs only with "
                "DJANGO_DEBUG=1 (or --force on a machine nobody else can reach)."
            )
        demo_data_load(stdout=self.stdout, reset_passwords=reset_passwords)
