"""`newsletter --help` starts quickly: it lists every command without building the app or importing a service.

The time itself is measured by bench/cli_start.py; here the cause is checked: which modules a help run loads.
"""

from __future__ import annotations

import json
import subprocess
import sys

from newsletter import cli

HEAVY = (
    "newsletter.delivery",
    "newsletter.bounces",
    "newsletter.editions",
    "newsletter.subscribers",
    "newsletter.models",
    "sqlalchemy",
    "flask_migrate",
    "mjml",
    "flufl",
    "apscheduler",
    "cryptography",
)
PROBE = """
import json, sys
import newsletter
try:
    newsletter.main(["--help"])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def test_help_lists_every_command_and_imports_nothing_heavy():
    run = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True)
    loaded = json.loads(run.stderr.strip().splitlines()[-1])
    assert [name for name in loaded if name.startswith(HEAVY)] == []
    for name in [*cli.COMMANDS, *cli.EXTENSION_COMMANDS, "shell", "routes"]:
        assert f"  {name} " in run.stdout


def test_a_listed_command_runs_when_invoked(runner):
    """The lazy table and the real commands agree: each name loads a command of that name."""
    for name in cli.COMMANDS:
        assert cli.load(name).name == name
    assert runner.invoke(args=["editions", "list", "--json"]).exit_code == 0
