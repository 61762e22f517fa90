from django.apps import AppConfig


class ReviewAppConfig(AppConfig):
    name = "reviewapp"
    verbose_name = "Copy review"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from reviewapp import checks, signals  # noqa: F401  (registers system checks and signal handlers)
        from reviewapp.flagging import load_rules

        # A rule pack that fails validation stops start-up here with a message naming the file and rule.
        load_rules()
