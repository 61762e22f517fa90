from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.db.backends.signals import connection_created


class ReviewAppConfig(AppConfig):
    name = "reviewapp"
    verbose_name = "Copy review"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from reviewapp import checks, signals  # noqa: F401  (registers system checks and signal handlers)
        from reviewapp.flagging import load_rules

        connection_created.connect(_register_sql_functions, dispatch_uid="reviewapp_sql_functions")
        # A rule pack that fails validation stops start-up here with a message naming the file and rule.
        load_rules()


def _register_sql_functions(sender, connection, **kwargs) -> None:
    """The gate's triggers call these on SQLite (reviewapp/sqlfunctions.py)."""
    if connection.vendor == "sqlite":
        from reviewapp import sqlfunctions

        sqlfunctions.register(connection.connection)


class ReviewAdminConfig(admin_apps.AdminConfig):
    """Django's admin app with the site of reviewapp/admin_site.py as `admin.site`."""

    default = False  # not reviewapp's own config: INSTALLED_APPS names it in place of django.contrib.admin
    default_site = "reviewapp.admin_site.AdminSite"
