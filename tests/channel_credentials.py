"""Credentials of every channel kind, well formed and each unmistakable in any text, for the
tests of channels written in configuration files."""

PD_KEY = "R0ABCDEFGHIJKLMNOPQRSTUVWXYZ0001"
SLACK_HOOK = "https://hooks.slack.com/services/T0001AAAA/B0002BBBB/" + "s" * 20 + "hook"
SLACK_TOKEN = "xoxb-1111-2222-" + "t" * 20 + "tokn"
WORKFLOW = (
    "https://prod-12.westeurope.logic.azure.com:443/workflows/0a1b2c/triggers/manual/paths/"
    "invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=" + "w" * 30
)
DISCORD = "https://discord.com/api/webhooks/123456789012345678/" + "d" * 40
RECEIVER = "https://alerts.example.com/console-hook/" + "r" * 20
TOKEN = "Bearer " + "h" * 32
# The environment a file's os.environ/NAME credentials are read from.
ENV = {
    "PD_KEY": PD_KEY,
    "SLACK_HOOK": SLACK_HOOK,
    "SLACK_TOKEN": SLACK_TOKEN,
    "TEAMS_URL": WORKFLOW,
    "DISCORD_URL": DISCORD,
    "RECEIVER_URL": RECEIVER,
    "RECEIVER_TOKEN": TOKEN,
}
