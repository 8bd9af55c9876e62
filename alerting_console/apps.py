from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig
from django.core import checks

from alerting_console import checks as console_checks


class ConsoleConfig(AppConfig):
    name = "alerting_console"
    verbose_name = "Alerting Console"

    def ready(self) -> None:
        checks.register(console_checks.check_secret_key, checks.Tags.security, deploy=False)
        checks.register(console_checks.check_debug_hosts, checks.Tags.security)
        checks.register(console_checks.check_base_url)
        checks.register(console_checks.check_embedded_services)
        checks.register(console_checks.check_proxy_ssl_header, checks.Tags.security, deploy=True)


class ConsoleAdminConfig(AdminConfig):
    """Django's admin, with the console's own site: a home page that shows the state."""

    default_site = "alerting_console.admin_site.ConsoleAdminSite"
