"""The `ltv` command line.

Subcommands live beside the code they drive and are imported only when invoked, so
`ltv webhooks serve` starts without importing Dagster or dbt.
"""

from __future__ import annotations

import importlib

import click

# name -> "module:attribute" of a click command or group.
COMMANDS: dict[str, str] = {
    "demo-data": "pipeline.demo.cli:demo_data",
    "forget": "pipeline.run.forget_command:forget",
    "webhooks": "pipeline.sidecar.cli:webhooks",
    "report": "pipeline.report.cli:report",
    "run": "pipeline.run.command:run",
    "up": "pipeline.up:up",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        return getattr(importlib.import_module(module_name), attr)


@click.group(cls=LazyGroup)
@click.version_option(package_name="thrivecart-ltv")
def main() -> None:
    """ThriveCart customer-lifetime-value pipeline.

    Settings come from the environment or .env (see .env.example).
    """


if __name__ == "__main__":
    main()
