from django.apps import AppConfig
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
