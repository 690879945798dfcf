"""Hand-made marts that follow docs/marts.md, shared by the publish and report tests.

The dbt marts are built by another part of the pipeline; these few rows let the snapshot and the
report be tested on their own. The numbers are worked out by hand from the payments below, and
the test in this module checks they agree with each other, so a typo here cannot make a report
test assert a wrong "truth".

The seller: USD customers alice (acquired 2025-01-10 with the Course, a second order of
Mentoring on day 31, a partial refund of the first), bob (2025-01-20, one charge) and carol
(2025-06-01, rebill on day 29); EUR customer dave (2025-02-01). The latest payment, and so the
data's `as_of`, is carol's rebill at 2025-06-30 10:00 UTC.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

MARTS_SQL = """
CREATE SCHEMA IF NOT EXISTS {schema};
USE {schema};

CREATE TABLE fct_payments (
    payment_id VARCHAR PRIMARY KEY, account VARCHAR, customer_id VARCHAR, email VARCHAR,
    order_id VARCHAR, item_type VARCHAR, product_id VARCHAR, product_name VARCHAR,
    subscription_id VARCHAR, payment_type VARCHAR, paid_at TIMESTAMP, paid_date DATE,
    amount DECIMAL(18,2), tax_amount DECIMAL(18,2), currency VARCHAR, campaign_id VARCHAR,
    affiliate_id VARCHAR, source VARCHAR, matched_by VARCHAR);
INSERT INTO fct_payments VALUES
  ('p1', 'shop', 'c_alice', 'alice@example.com', 'o1', 'product', 'P1', 'Course', 'S1',
   'charge', '2025-01-10 09:00', '2025-01-10', 100.00, 0.00, 'USD', 'spring', NULL,
   'csv+webhook', 'order_id'),
  ('p2', 'shop', 'c_alice', 'alice@example.com', 'o5', 'product', 'P2', 'Mentoring', NULL,
   'charge', '2025-02-10 09:00', '2025-02-10', 50.00, 0.00, 'USD', NULL, NULL,
   'webhook', NULL),
  ('p3', 'shop', 'c_alice', 'alice@example.com', 'o1', 'product', 'P1', 'Course', 'S1',
   'refund', '2025-02-15 12:00', '2025-02-15', -20.00, 0.00, 'USD', 'spring', NULL,
   'csv', NULL),
  ('p4', 'shop', 'c_bob', 'bob@example.com', 'o2', 'product', 'P2', 'Mentoring', NULL,
   'charge', '2025-01-20 15:30', '2025-01-20', 200.00, 0.00, 'USD', NULL, 'aff1',
   'csv', NULL),
  ('p5', 'shop', 'c_carol', 'carol@example.com', 'o3', 'product', 'P1', 'Course', 'S2',
   'charge', '2025-06-01 08:00', '2025-06-01', 80.00, 0.00, 'USD', 'spring', NULL,
   'csv+webhook', 'order_id'),
  ('p6', 'shop', 'c_carol', 'carol@example.com', 'o3', 'product', 'P1', 'Course', 'S2',
   'rebill', '2025-06-30 10:00', '2025-06-30', 40.00, 0.00, 'USD', 'spring', NULL,
   'webhook', NULL),
  ('p7', 'shop', 'c_dave', 'dave@example.com', 'o4', 'product', 'P3', 'Buch', NULL,
   'charge', '2025-02-01 11:00', '2025-02-01', 300.00, 19.00, 'EUR', 'winter', NULL,
   'csv+webhook', 'order_id');

CREATE TABLE dim_customers (
    customer_id VARCHAR, email VARCHAR, currency VARCHAR, first_name VARCHAR,
    last_name VARCHAR, country VARCHAR, thrivecart_customer_ids VARCHAR[],
    first_paid_at TIMESTAMP, cohort_month DATE, first_order_id VARCHAR,
    first_product_id VARCHAR, first_product_name VARCHAR, acquisition_campaign_id VARCHAR,
    acquisition_affiliate_id VARCHAR, acquisition_utm_source VARCHAR,
    acquisition_utm_medium VARCHAR, acquisition_utm_campaign VARCHAR, orders_count INTEGER,
    rebills_count INTEGER,
    gross_revenue DECIMAL(18,2), refunded_amount DECIMAL(18,2), net_revenue DECIMAL(18,2),
    last_paid_at TIMESTAMP, active_subscriptions INTEGER,
    PRIMARY KEY (customer_id, currency));
INSERT INTO dim_customers VALUES
  ('c_alice', 'alice@example.com', 'USD', 'Alice', 'A', 'US', ['101'], '2025-01-10 09:00',
   '2025-01-01', 'o1', 'P1', 'Course', 'spring', NULL, '(not tracked)', '(not tracked)',
   '(not tracked)', 2, 0, 150.00, 20.00, 130.00,
   '2025-02-15 12:00', 1),
  ('c_bob', 'bob@example.com', 'USD', 'Bob', 'B', 'US', ['102'], '2025-01-20 15:30',
   '2025-01-01', 'o2', 'P2', 'Mentoring', NULL, 'aff1', '(not tracked)', '(not tracked)',
   '(not tracked)', 1, 0, 200.00, 0.00, 200.00,
   '2025-01-20 15:30', 0),
  ('c_carol', 'carol@example.com', 'USD', 'Carol', 'C', 'CA', ['103'], '2025-06-01 08:00',
   '2025-06-01', 'o3', 'P1', 'Course', 'spring', NULL, 'facebook', 'cpc', 'spring launch',
   1, 1, 120.00, 0.00, 120.00,
   '2025-06-30 10:00', 1),
  ('c_dave', 'dave@example.com', 'EUR', 'Dave', 'D', 'DE', ['104'], '2025-02-01 11:00',
   '2025-02-01', 'o4', 'P3', 'Buch', 'winter', NULL, 'google', 'cpc', 'brand', 1, 0, 300.00,
   0.00, 300.00,
   '2025-02-01 11:00', 0);

CREATE TABLE dim_subscriptions (
    subscription_id VARCHAR PRIMARY KEY, customer_id VARCHAR, product_id VARCHAR,
    product_name VARCHAR, kind VARCHAR, status VARCHAR, started_at TIMESTAMP,
    frequency VARCHAR, amount DECIMAL(18,2), currency VARCHAR, payments_collected INTEGER,
    collected_amount DECIMAL(18,2), last_payment_at TIMESTAMP, cancelled_at TIMESTAMP,
    processor_subscription_id VARCHAR);
INSERT INTO dim_subscriptions VALUES
  ('S1', 'c_alice', 'P1', 'Course', 'recurring', 'active', '2025-01-10 09:00', 'month',
   50.00, 'USD', 1, 100.00, '2025-01-10 09:00', NULL, 'sub_stripe_1'),
  ('S2', 'c_carol', 'P1', 'Course', 'recurring', 'active', '2025-06-01 08:00', 'month',
   40.00, 'USD', 2, 120.00, '2025-06-30 10:00', NULL, 'sub_stripe_2');

CREATE TABLE ltv_cohorts_monthly (
    currency VARCHAR, cohort_month DATE, months_since_acquisition INTEGER,
    cohort_customers INTEGER, paying_customers INTEGER, net_revenue DECIMAL(18,2),
    cumulative_net_revenue DECIMAL(18,2), ltv_per_customer DECIMAL(18,2), is_complete BOOLEAN,
    PRIMARY KEY (currency, cohort_month, months_since_acquisition));
INSERT INTO ltv_cohorts_monthly VALUES
  ('USD', '2025-01-01', 0, 2, 2, 300.00, 300.00, 150.00, true),
  ('USD', '2025-01-01', 1, 2, 1, 30.00, 330.00, 165.00, true),
  ('USD', '2025-01-01', 2, 2, 0, 0.00, 330.00, 165.00, true),
  ('USD', '2025-01-01', 3, 2, 0, 0.00, 330.00, 165.00, true),
  ('USD', '2025-01-01', 4, 2, 0, 0.00, 330.00, 165.00, true),
  ('USD', '2025-01-01', 5, 2, 0, 0.00, 330.00, 165.00, false),
  ('USD', '2025-06-01', 0, 1, 1, 120.00, 120.00, 120.00, false),
  ('EUR', '2025-02-01', 0, 1, 1, 300.00, 300.00, 300.00, true),
  ('EUR', '2025-02-01', 1, 1, 0, 0.00, 300.00, 300.00, true),
  ('EUR', '2025-02-01', 2, 1, 0, 0.00, 300.00, 300.00, true),
  ('EUR', '2025-02-01', 3, 1, 0, 0.00, 300.00, 300.00, true),
  ('EUR', '2025-02-01', 4, 1, 0, 0.00, 300.00, 300.00, false);

CREATE TABLE ltv_day_n (
    currency VARCHAR, segment_type VARCHAR, segment_value VARCHAR, day_n INTEGER,
    customers INTEGER, eligible_customers INTEGER, net_revenue DECIMAL(18,2),
    ltv DECIMAL(18,2));
INSERT INTO ltv_day_n VALUES
  ('USD', 'all', 'all', 0, 3, 3, 380.00, 126.67),
  ('USD', 'all', 'all', 7, 3, 3, 380.00, 126.67),
  ('USD', 'all', 'all', 30, 3, 2, 300.00, 150.00),
  ('USD', 'all', 'all', 60, 3, 2, 330.00, 165.00),
  ('USD', 'all', 'all', 90, 3, 2, 330.00, 165.00),
  ('USD', 'all', 'all', 180, 3, 0, 0.00, NULL),
  ('USD', 'all', 'all', 365, 3, 0, 0.00, NULL),
  ('USD', 'cohort_month', '2025-01-01', 0, 2, 2, 300.00, 150.00),
  ('USD', 'cohort_month', '2025-01-01', 30, 2, 2, 300.00, 150.00),
  ('USD', 'cohort_month', '2025-01-01', 90, 2, 2, 330.00, 165.00),
  ('USD', 'cohort_month', '2025-06-01', 0, 1, 1, 80.00, 80.00),
  ('USD', 'cohort_month', '2025-06-01', 30, 1, 0, 0.00, NULL),
  ('USD', 'first_product', 'P1', 90, 2, 1, 130.00, 130.00),
  ('USD', 'first_product', 'P2', 90, 1, 1, 200.00, 200.00),
  ('USD', 'campaign', 'spring', 90, 2, 1, 130.00, 130.00),
  ('USD', 'campaign', NULL, 90, 1, 1, 200.00, 200.00),
  ('USD', 'utm_source', 'facebook', 90, 1, 0, 0.00, NULL),
  ('USD', 'utm_source', '(not tracked)', 90, 2, 2, 330.00, 165.00),
  ('USD', 'utm_campaign', 'spring launch', 90, 1, 0, 0.00, NULL),
  ('USD', 'utm_campaign', '(not tracked)', 90, 2, 2, 330.00, 165.00),
  ('EUR', 'all', 'all', 0, 1, 1, 300.00, 300.00),
  ('EUR', 'all', 'all', 30, 1, 1, 300.00, 300.00),
  ('EUR', 'all', 'all', 90, 1, 1, 300.00, 300.00),
  ('EUR', 'all', 'all', 365, 1, 0, 0.00, NULL),
  ('EUR', 'first_product', 'P3', 90, 1, 1, 300.00, 300.00),
  ('EUR', 'campaign', 'winter', 90, 1, 1, 300.00, 300.00),
  ('EUR', 'utm_source', 'google', 90, 1, 1, 300.00, 300.00),
  ('EUR', 'utm_campaign', 'brand', 90, 1, 1, 300.00, 300.00);

CREATE TABLE revenue_daily (
    currency VARCHAR, date DATE, gross_revenue DECIMAL(18,2), refunds DECIMAL(18,2),
    net_revenue DECIMAL(18,2), charges_count INTEGER, rebills_count INTEGER,
    refunds_count INTEGER, new_customers INTEGER, PRIMARY KEY (currency, date));
INSERT INTO revenue_daily VALUES
  ('USD', '2025-01-10', 100.00, 0.00, 100.00, 1, 0, 0, 1),
  ('USD', '2025-01-20', 200.00, 0.00, 200.00, 1, 0, 0, 1),
  ('USD', '2025-02-10', 50.00, 0.00, 50.00, 1, 0, 0, 0),
  ('USD', '2025-02-15', 0.00, 20.00, -20.00, 0, 0, 1, 0),
  ('USD', '2025-06-01', 80.00, 0.00, 80.00, 1, 0, 0, 1),
  ('USD', '2025-06-30', 40.00, 0.00, 40.00, 0, 1, 0, 0),
  ('EUR', '2025-02-01', 300.00, 0.00, 300.00, 1, 0, 0, 1);

CREATE TABLE source_reconciliation (
    date DATE, payment_type VARCHAR, currency VARCHAR, csv_only_count INTEGER,
    csv_only_amount DECIMAL(18,2), webhook_only_count INTEGER,
    webhook_only_amount DECIMAL(18,2), matched_count INTEGER, matched_amount DECIMAL(18,2),
    PRIMARY KEY (date, payment_type, currency));
INSERT INTO source_reconciliation VALUES
  ('2025-01-10', 'charge', 'USD', 0, 0.00, 0, 0.00, 1, 100.00),
  ('2025-01-20', 'charge', 'USD', 1, 200.00, 0, 0.00, 0, 0.00),
  ('2025-02-10', 'charge', 'USD', 0, 0.00, 1, 50.00, 0, 0.00),
  ('2025-02-15', 'refund', 'USD', 1, -20.00, 0, 0.00, 0, 0.00),
  ('2025-06-01', 'charge', 'USD', 0, 0.00, 0, 0.00, 1, 80.00),
  ('2025-06-30', 'rebill', 'USD', 0, 0.00, 1, 40.00, 0, 0.00),
  ('2025-02-01', 'charge', 'EUR', 0, 0.00, 0, 0.00, 1, 300.00);

CREATE TABLE repeat_purchase_cohorts (
    account VARCHAR, currency VARCHAR, cohort_month DATE, customers INTEGER,
    repeat_customers INTEGER, repeat_rate DECIMAL(18,4), median_days_to_second_order DECIMAL(18,1),
    orders INTEGER, avg_orders_per_customer DECIMAL(18,2),
    PRIMARY KEY (account, currency, cohort_month));
INSERT INTO repeat_purchase_cohorts VALUES
  ('shop', 'USD', '2025-01-01', 2, 1, 0.5000, 31.0, 3, 1.50),
  ('shop', 'USD', '2025-06-01', 1, 0, 0.0000, NULL, 1, 1.00),
  ('shop', 'EUR', '2025-02-01', 1, 0, 0.0000, NULL, 1, 1.00);

CREATE TABLE customers_by_order_count (
    account VARCHAR, currency VARCHAR, orders_count INTEGER, customers INTEGER,
    PRIMARY KEY (account, currency, orders_count));
INSERT INTO customers_by_order_count VALUES
  ('shop', 'USD', 1, 2),
  ('shop', 'USD', 2, 1),
  ('shop', 'EUR', 1, 1);

CREATE TABLE product_paths (
    account VARCHAR, currency VARCHAR, first_product_id VARCHAR, first_product_name VARCHAR,
    next_product_id VARCHAR, next_product_name VARCHAR, customers INTEGER,
    first_product_buyers INTEGER, share_of_first_product_buyers DECIMAL(18,4),
    median_days_between DECIMAL(18,1),
    PRIMARY KEY (account, currency, first_product_id, next_product_id));
INSERT INTO product_paths VALUES
  ('shop', 'USD', 'P1', 'Course', 'P2', 'Mentoring', 1, 2, 0.5000, 31.0),
  ('shop', 'USD', 'P1', 'Course', '(none)', NULL, 1, 2, 0.5000, NULL),
  ('shop', 'USD', 'P2', 'Mentoring', '(none)', NULL, 1, 1, 1.0000, NULL),
  ('shop', 'EUR', 'P3', 'Buch', '(none)', NULL, 1, 1, 1.0000, NULL);
"""

MART_NAMES = (
    "customers_by_order_count",
    "dim_customers",
    "dim_subscriptions",
    "fct_payments",
    "ltv_cohorts_monthly",
    "ltv_day_n",
    "product_paths",
    "repeat_purchase_cohorts",
    "revenue_daily",
    "source_reconciliation",
)
ROW_COUNTS = {
    "customers_by_order_count": 3,
    "dim_customers": 4,
    "dim_subscriptions": 2,
    "fct_payments": 7,
    "ltv_cohorts_monthly": 12,
    "ltv_day_n": 28,
    "product_paths": 4,
    "repeat_purchase_cohorts": 3,
    "revenue_daily": 7,
    "source_reconciliation": 7,
}


def build_fixture_marts(database: Path, schema: str = "marts") -> Path:
    """Create the fixture marts in schema `schema` of the DuckDB file `database`."""
    database.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(database)) as con:
        con.execute(MARTS_SQL.format(schema=schema))
    return database


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    return con.execute(sql).fetchone()[0]


def test_fixture_marts_agree_with_their_payments(tmp_path: Path) -> None:
    """Every aggregate mart row is what the marts.md definitions give for fct_payments."""
    with duckdb.connect(str(build_fixture_marts(tmp_path / "w.duckdb"))) as con:
        con.execute("USE marts")
        counts = {t: _scalar(con, f"SELECT count(*) FROM {t}") for t in MART_NAMES}
        assert counts == ROW_COUNTS
        # revenue_daily and dim_customers add up to the payments, per currency.
        assert (
            _scalar(
                con,
                """SELECT count(*) FROM (
                 SELECT currency, paid_date AS date, sum(amount) AS net FROM fct_payments
                 GROUP BY ALL) p
               FULL JOIN revenue_daily r USING (currency, date)
               WHERE p.net IS DISTINCT FROM r.net_revenue
                  OR r.net_revenue <> r.gross_revenue - r.refunds""",
            )
            == 0
        )
        assert (
            _scalar(
                con,
                """SELECT count(*) FROM (
                 SELECT customer_id, currency, sum(amount) AS net FROM fct_payments GROUP BY ALL
               ) p FULL JOIN dim_customers c USING (customer_id, currency)
               WHERE p.net IS DISTINCT FROM c.net_revenue""",
            )
            == 0
        )
        # Ratios are the stated quotients, rounded to cents.
        assert (
            _scalar(
                con,
                """SELECT count(*) FROM ltv_day_n WHERE ltv IS DISTINCT FROM
                 CASE WHEN eligible_customers > 0
                      THEN round(net_revenue / eligible_customers, 2) END""",
            )
            == 0
        )
        assert (
            _scalar(
                con,
                """SELECT count(*) FROM ltv_cohorts_monthly
               WHERE ltv_per_customer <> round(cumulative_net_revenue / cohort_customers, 2)""",
            )
            == 0
        )
        # Every payment is seen by the reconciliation exactly once.
        assert (
            _scalar(
                con,
                """SELECT sum(csv_only_count + webhook_only_count + matched_count)
               FROM source_reconciliation""",
            )
            == counts["fct_payments"]
        )
        # The repeat-purchase marts count each acquired customer's orders that collected more
        # than zero; the rates and averages are the stated quotients.
        orders = """WITH orders AS (
                        SELECT currency, customer_id, count(DISTINCT order_id) AS n
                        FROM fct_payments WHERE amount > 0 GROUP BY ALL)"""
        assert (
            _scalar(
                con,
                f"""{orders}, counted AS (
                     SELECT currency, n AS orders_count, count(*) AS customers
                     FROM orders GROUP BY ALL)
                 SELECT count(*) FROM counted
                 FULL JOIN customers_by_order_count c USING (currency, orders_count)
                 WHERE counted.customers IS DISTINCT FROM c.customers""",
            )
            == 0
        )
        assert (
            _scalar(
                con,
                f"""{orders}, cohorts AS (
                     SELECT currency, cohort_month, count(*) AS customers, sum(n) AS orders,
                            count(*) FILTER (WHERE n >= 2) AS repeat_customers
                     FROM dim_customers JOIN orders USING (currency, customer_id) GROUP BY ALL)
                 SELECT count(*) FROM cohorts
                 FULL JOIN repeat_purchase_cohorts r USING (currency, cohort_month)
                 WHERE cohorts.customers IS DISTINCT FROM r.customers
                    OR cohorts.orders IS DISTINCT FROM r.orders
                    OR cohorts.repeat_customers IS DISTINCT FROM r.repeat_customers
                    OR r.repeat_rate <> round(r.repeat_customers / r.customers, 4)
                    OR r.avg_orders_per_customer <> round(r.orders / r.customers, 2)""",
            )
            == 0
        )
        # Each first product's paths add up to its buyers in dim_customers.
        assert (
            _scalar(
                con,
                """SELECT count(*) FROM (
                     SELECT currency, first_product_id, sum(customers) AS customers,
                            min(first_product_buyers) AS fewest, max(first_product_buyers) AS most
                     FROM product_paths GROUP BY ALL) p
                 FULL JOIN (
                     SELECT currency, first_product_id, count(*) AS buyers FROM dim_customers
                     GROUP BY ALL) d USING (currency, first_product_id)
                 WHERE d.buyers IS DISTINCT FROM p.customers
                    OR p.customers <> p.fewest OR p.customers <> p.most""",
            )
            == 0
        )
