"""The one place that reads configuration.

Every entry point (the CLI, the sidecar, Dagster, the dbt profile, tests) gets its paths and
options from :func:`load_settings`, so Dagster and dbt always open the same absolute warehouse
file whatever their working directory is. Values come from the environment, then from a `.env`
file at the project root, then from defaults that work out of the box.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

from dotenv import dotenv_values

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

DEFAULT_DAY_N = (0, 7, 30, 60, 90, 180, 365)
DEFAULT_DELINQUENCY_DAYS = 14
# DuckDB takes up to 80% of RAM by default, and keeps what it reads and writes in its buffer
# pool up to that limit. With a limit it spills to disk instead (bench/README.md, "Memory").
DEFAULT_MEMORY_LIMIT = "3GB"
_MEMORY_LIMIT = re.compile(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)
# The warehouses the dbt project builds on (LTV_ENGINE); the first is the default.
ENGINES = ("duckdb", "postgres", "spark")
DEFAULT_DUCKDB_WAREHOUSE = "warehouse/ltv.duckdb"
# With LTV_ENGINE=postgres or spark: the DuckDB file the loads validate into, beside the snapshot.
LOCAL_WAREHOUSE = "ltv.duckdb"
# With LTV_ENGINE=spark: the storage path of Spark's tables, and the Spark master dbt runs on.
DEFAULT_SPARK_STORAGE = "warehouse/spark"
DEFAULT_SPARK_MASTER = "local[2]"
# A ThriveCart account as LTV_ACCOUNTS names it: its subdomain, lower case.
_ACCOUNT = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_POSTGRES_URL_EXAMPLE = "postgresql://ltv@localhost:5432/ltv"


class SettingsError(ValueError):
    """A setting is present but unusable; the message names the variable and the fix."""


@dataclass(frozen=True)
class SparkWarehouse:
    """Where dbt builds with LTV_ENGINE=spark: the storage path of every table (LTV_WAREHOUSE;
    Spark's warehouse folder and table catalog are under it) and the Spark master dbt-spark's
    session runs on (LTV_SPARK_MASTER: `local[2]`, or a cluster's master URL)."""

    storage: Path
    master: str


@dataclass(frozen=True)
class PostgresWarehouse:
    """Where a PostgreSQL database is: the warehouse (LTV_WAREHOUSE with LTV_ENGINE=postgres)
    or Dagster's run, event and schedule storage (DAGSTER_POSTGRES_URL).

    No password: one in a URL ends up in process lists, logs and dbt's `--vars`. libpq finds it
    in `~/.pgpass` or `PGPASSWORD` instead, as for `psql`.
    """

    host: str
    port: int
    user: str
    database: str

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"

    def connect_kwargs(self) -> dict[str, object]:
        """psycopg2.connect() arguments (a host starting with `/` is a socket folder)."""
        return {"host": self.host, "port": self.port, "user": self.user, "dbname": self.database}


@dataclass(frozen=True)
class Settings:
    """Resolved configuration. Paths are absolute."""

    landing_dir: Path
    warehouse: Path
    marts_snapshot: Path
    dagster_home: Path
    timezone: str = "UTC"
    csv_timezone: str = "UTC"
    # account subdomain -> secret word; key "*" is a secret accepted for any account.
    secrets: dict[str, str] = field(default_factory=dict)
    match_tolerance_minutes: int = 1440
    day_n: tuple[int, ...] = DEFAULT_DAY_N
    # Days a failed rebill has to be collected before the subscription counts as lost to
    # failed payment (delinquent churn) and the failure as not recovered.
    delinquency_days: int = DEFAULT_DELINQUENCY_DAYS
    archive_dir: Path | None = None
    memory_limit: str = DEFAULT_MEMORY_LIMIT
    # How an export's ambiguous dates (no day above 12) are read: "MDY" or "DMY".
    csv_date_order: str = "MDY"
    # ISO 4217 code the marts' *_reporting columns convert to ("" = no conversion).
    reporting_currency: str = ""
    # The warehouse dbt builds in: "duckdb" (the file `warehouse`), "postgres" (`postgres`) or
    # "spark" (`spark`). With the latter two the loaders still validate into the DuckDB file at
    # `warehouse` (named LOCAL_WAREHOUSE, beside the snapshot), from where the raw tables go
    # over (pipeline/engines/) and where the published marts are copied back to.
    engine: str = "duckdb"
    postgres: PostgresWarehouse | None = None
    spark: SparkWarehouse | None = None
    # Dagster's storage in PostgreSQL instead of SQLite files in `dagster_home`.
    dagster_postgres: PostgresWarehouse | None = None
    # LTV_ACCOUNTS: the ThriveCart accounts kept apart, each in a pipeline of its own
    # (`for_account`). Empty: one pipeline for whatever arrives, as for a single account.
    accounts: tuple[str, ...] = ()
    # The account these settings are scoped to (set by `for_account`), else None.
    account: str | None = None

    def for_account(self, account: str | None) -> Settings:
        """The settings of one account's pipeline: its own landing folder (exports, webhook
        log, rejected files), warehouse, snapshot and archive, in a subfolder named after it
        beside where a single account's would be. Dagster's home stays shared. `None` (no
        accounts configured) or the account these already are: these settings, unchanged."""
        if account is None or account == self.account:
            return self
        if self.account is not None:
            raise SettingsError(f"settings of account {self.account!r} asked for {account!r}.")
        if account not in self.accounts:
            raise SettingsError(
                f"account {account!r} is not in LTV_ACCOUNTS ({', '.join(self.accounts)})."
            )
        return replace(
            self,
            landing_dir=self.landing_dir / account,
            warehouse=self.warehouse.parent / account / self.warehouse.name,
            marts_snapshot=self.marts_snapshot.parent / account / self.marts_snapshot.name,
            archive_dir=self.archive_dir / account if self.archive_dir else None,
            spark=replace(self.spark, storage=self.spark.storage / account) if self.spark else None,
            account=account,
        )

    def pipelines(self) -> list[Settings]:
        """The settings of every pipeline: one per account, or these alone."""
        if self.account is not None:
            return [self]
        return [self.for_account(a) for a in self.accounts] or [self]

    @property
    def webhooks_dir(self) -> Path:
        """Where the sidecar appends its JSONL segments."""
        return self.landing_dir / "webhooks"

    @property
    def rejected_dir(self) -> Path:
        """Where files that cannot be loaded are moved, each with an `.error.txt` beside it."""
        return self.landing_dir / "rejected"

    def dbt_vars(self) -> dict[str, object]:
        """Everything dbt reads from the settings, passed with `--vars`: the models' options,
        and the warehouse path and memory limit the profile connects with."""
        models = {
            "ltv_timezone": self.timezone,
            "csv_timezone": self.csv_timezone,
            "match_tolerance_minutes": self.match_tolerance_minutes,
            "day_n": list(self.day_n),
            "delinquency_days": self.delinquency_days,
            "reporting_currency": self.reporting_currency,
        }
        if self.account:  # a pipeline of LTV_ACCOUNTS: every row is that account's
            models["ltv_account"] = self.account
        if self.spark is not None:
            return {
                **models,
                "ltv_engine": "spark",
                "ltv_spark_storage": str(self.spark.storage),
                "ltv_spark_master": self.spark.master,
                "ltv_spark_driver_memory": f"{megabytes(self.memory_limit)}m",
            }
        if self.postgres is None:
            # DuckDB is the profile's default target, so these vars are those of a DuckDB-only
            # project: nothing a build or its fingerprints compare changes.
            return {
                **models,
                "ltv_warehouse": str(self.warehouse),
                "ltv_memory_limit": self.memory_limit,
            }
        return {
            **models,
            "ltv_engine": "postgres",
            "ltv_postgres_host": self.postgres.host,
            "ltv_postgres_port": self.postgres.port,
            "ltv_postgres_user": self.postgres.user,
            "ltv_postgres_database": self.postgres.database,
        }

    @property
    def shared_snapshot(self) -> Path:
        """LTV_MARTS_SNAPSHOT as configured: with LTV_ACCOUNTS, the snapshot of every account
        together (each account's own is in its subfolder beside it)."""
        if self.account is None:
            return self.marts_snapshot
        return self.marts_snapshot.parent.parent / self.marts_snapshot.name

    def account_snapshots(self) -> dict[str, Path]:
        """Each account's own snapshot, by account (none without LTV_ACCOUNTS)."""
        shared = self.shared_snapshot
        return {a: shared.parent / a / shared.name for a in self.accounts}


def account_pipeline(settings: Settings, account: str | None) -> Settings:
    """The pipeline a command's `--account` names: one is needed when LTV_ACCOUNTS lists
    accounts, and none makes sense without."""
    if settings.accounts and not account:
        names = ", ".join(settings.accounts)
        raise SettingsError(f"several accounts are configured: add --account ({names}).")
    if account and not settings.accounts:
        raise SettingsError("--account needs LTV_ACCOUNTS: no accounts are configured.")
    return settings.for_account(account.strip().lower() if account else None)


def parse_secrets(raw: str) -> dict[str, str]:
    """Parse `THRIVECART_SECRET`.

    Either one secret word (accepted for any account) or a comma-separated list of
    `account:secret` pairs for sellers with several ThriveCart accounts.
    """
    raw = raw.strip()
    if not raw:
        return {}
    if ":" not in raw:
        return {"*": raw}
    secrets: dict[str, str] = {}
    for part in raw.split(","):
        account, sep, secret = part.strip().partition(":")
        if not sep or not account.strip() or not secret.strip():
            raise SettingsError(
                f"THRIVECART_SECRET: {part.strip()!r} is not 'account:secret'. Use one secret "
                "word, or 'account1:secret1,account2:secret2'."
            )
        secrets[account.strip().lower()] = secret.strip()
    return secrets


def parse_accounts(raw: str) -> tuple[str, ...]:
    """Parse `LTV_ACCOUNTS`: ThriveCart account subdomains, comma-separated, in order."""
    accounts: list[str] = []
    for part in raw.split(","):
        account = part.strip().lower()
        if not account:
            continue
        if not _ACCOUNT.fullmatch(account):
            raise SettingsError(
                f"LTV_ACCOUNTS: {part.strip()!r} is not a ThriveCart account; give each "
                "account's subdomain (letters, digits, hyphens), e.g. 'acme,acme-eu'."
            )
        if account in accounts:
            raise SettingsError(f"LTV_ACCOUNTS names {account!r} twice.")
        accounts.append(account)
    return tuple(accounts)


def _check_accounts(accounts: tuple[str, ...], secrets: dict[str, str], engine: str) -> None:
    """Several accounts need a secret each (or one for all), and a warehouse per account."""
    if not accounts:
        return
    if engine == "postgres":
        raise SettingsError(
            "LTV_ACCOUNTS works with LTV_ENGINE=duckdb or spark only (a warehouse per account); "
            "unset LTV_ACCOUNTS or use one of those."
        )
    if unknown := sorted(set(secrets) - {"*", *accounts}):
        raise SettingsError(
            f"THRIVECART_SECRET has a secret for {', '.join(unknown)}, which LTV_ACCOUNTS does "
            "not list: add the account to LTV_ACCOUNTS or remove its secret."
        )


def _parse_int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}={raw!r} is not a whole number.") from exc


def _check_timezone(name: str, value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SettingsError(
            f"{name}={value!r} is not an IANA time zone; use e.g. 'UTC' or 'Europe/Berlin'."
        ) from exc
    return value


def _check_memory_limit(value: str) -> str:
    if not _MEMORY_LIMIT.fullmatch(value.strip()):
        raise SettingsError(
            f"LTV_MEMORY_LIMIT={value!r} is not an amount of memory; use e.g. '3GB' or '512MB'."
        )
    return value.strip()


def _check_date_order(value: str) -> str:
    order = value.strip().upper()
    if order not in ("MDY", "DMY"):
        raise SettingsError(
            f"LTV_CSV_DATE_ORDER={value!r} is not a date order; use 'MDY' (month first, "
            "4/23/2024) or 'DMY' (day first, 23/4/2024)."
        )
    return order


def _check_currency(value: str) -> str:
    code = value.strip().upper()
    if code and not re.fullmatch("[A-Z]{3}", code):
        raise SettingsError(
            f"LTV_REPORTING_CURRENCY={value!r} is not a currency code; use an ISO 4217 code "
            "such as 'USD' or 'EUR', or leave it empty to convert nothing."
        )
    return code


def _spark_storage(value: str) -> Path:
    """LTV_WAREHOUSE with LTV_ENGINE=spark: a folder for Spark's tables, never a DuckDB file (a
    .env written for DuckDB still names one)."""
    path = _path(value)
    if path.suffix == ".duckdb" or path.is_file():
        raise SettingsError(
            f"LTV_WAREHOUSE={value!r} is a file; with LTV_ENGINE=spark it is the folder that "
            f"holds Spark's tables, e.g. {DEFAULT_SPARK_STORAGE!r}."
        )
    return path


def megabytes(limit: str) -> int:
    """A memory limit as LTV_MEMORY_LIMIT spells it ("3GB", "512 MiB"), in whole megabytes
    (MiB): the JVM's spelling (`-Xmx3072m`) takes no fractions and no SI units."""
    match = _MEMORY_LIMIT.fullmatch(limit.strip())
    assert match is not None, f"not a checked memory limit: {limit!r}"
    number, unit = float(limit.strip()[: match.start(2)]), match.group(2)[0].upper()
    factor = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}[unit]
    return max(1, int(number * factor))


def _check_engine(value: str) -> str:
    engine = value.strip().lower()
    if engine not in ENGINES:
        raise SettingsError(
            f"LTV_ENGINE={value!r} is not a warehouse engine; use one of {', '.join(ENGINES)}."
        )
    return engine


def parse_postgres_url(value: str, name: str = "LTV_WAREHOUSE") -> PostgresWarehouse:
    """`postgresql://user@host:port/database` -> PostgresWarehouse; port 5432 by default.

    `name` is the setting the URL came from, for the error messages.
    """
    problem = f"{name}={value!r} is not a PostgreSQL URL like {_POSTGRES_URL_EXAMPLE!r}"
    try:
        url = urlsplit(value.strip())
        port = url.port or 5432
    except ValueError as exc:
        raise SettingsError(f"{problem}: {exc}.") from exc
    database = unquote(url.path.lstrip("/"))
    if url.scheme not in ("postgresql", "postgres") or not url.hostname or not url.username:
        raise SettingsError(f"{problem} (scheme, user and host are needed).")
    if not database or "/" in database or url.query or url.fragment:
        raise SettingsError(f"{problem} (one database name after the port, nothing else).")
    if url.password is not None:
        raise SettingsError(
            f"{name} holds a password; remove it and put it in ~/.pgpass or "
            f"PGPASSWORD, where PostgreSQL's client looks for it (e.g. {_POSTGRES_URL_EXAMPLE!r})."
        )
    return PostgresWarehouse(unquote(url.hostname), port, unquote(url.username), database)


def _path(value: str) -> Path:
    path = Path(value).expanduser()
    return (path if path.is_absolute() else PROJECT_ROOT / path).resolve()


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Resolve settings from `env` (default: the process environment) over `.env` over defaults."""
    source: dict[str, str] = {
        k: v for k, v in dotenv_values(PROJECT_ROOT / ".env").items() if v is not None
    }
    source.update(os.environ if env is None else env)

    def get(name: str, default: str) -> str:
        value = source.get(name, "")
        return value if value.strip() else default

    day_n = tuple(
        sorted({_parse_int("LTV_DAY_N", d) for d in get("LTV_DAY_N", "").split(",") if d.strip()})
    )
    archive = get("LTV_ARCHIVE_DIR", "")
    engine = _check_engine(get("LTV_ENGINE", ENGINES[0]))
    warehouse = get("LTV_WAREHOUSE", DEFAULT_DUCKDB_WAREHOUSE)
    dagster_url = get("DAGSTER_POSTGRES_URL", "")
    snapshot = _path(get("LTV_MARTS_SNAPSHOT", "warehouse/marts.duckdb"))
    secrets = parse_secrets(get("THRIVECART_SECRET", ""))
    accounts = parse_accounts(get("LTV_ACCOUNTS", ""))
    _check_accounts(accounts, secrets, engine)
    postgres = None
    if engine == "postgres":
        postgres = parse_postgres_url(warehouse)
        warehouse = str(snapshot.with_name(LOCAL_WAREHOUSE))
    spark = None
    if engine == "spark":
        spark = SparkWarehouse(
            storage=_spark_storage(get("LTV_WAREHOUSE", DEFAULT_SPARK_STORAGE)),
            master=get("LTV_SPARK_MASTER", DEFAULT_SPARK_MASTER).strip(),
        )
        warehouse = str(snapshot.with_name(LOCAL_WAREHOUSE))
    return Settings(
        landing_dir=_path(get("LTV_LANDING_DIR", "landing")),
        warehouse=_path(warehouse),
        marts_snapshot=snapshot,
        dagster_home=_path(get("DAGSTER_HOME", ".dagster")),
        timezone=_check_timezone("LTV_TIMEZONE", get("LTV_TIMEZONE", "UTC")),
        csv_timezone=_check_timezone("LTV_CSV_TIMEZONE", get("LTV_CSV_TIMEZONE", "UTC")),
        secrets=secrets,
        match_tolerance_minutes=_parse_int(
            "LTV_MATCH_TOLERANCE_MINUTES", get("LTV_MATCH_TOLERANCE_MINUTES", "1440")
        ),
        day_n=day_n or DEFAULT_DAY_N,
        delinquency_days=_parse_int(
            "LTV_DELINQUENCY_DAYS", get("LTV_DELINQUENCY_DAYS", str(DEFAULT_DELINQUENCY_DAYS))
        ),
        archive_dir=_path(archive) if archive else None,
        memory_limit=_check_memory_limit(get("LTV_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT)),
        csv_date_order=_check_date_order(get("LTV_CSV_DATE_ORDER", "MDY")),
        reporting_currency=_check_currency(get("LTV_REPORTING_CURRENCY", "")),
        engine=engine,
        postgres=postgres,
        spark=spark,
        dagster_postgres=(
            parse_postgres_url(dagster_url, "DAGSTER_POSTGRES_URL") if dagster_url else None
        ),
        accounts=accounts,
    )
