"""Hand-made marts that follow docs/marts.md, shared by the publish and report tests.

The dbt marts are built by another part of the pipeline; these few rows let the snapshot and the
report be tested on their own. The numbers are worked out by hand from the payments below, and
the test in this module checks they agree with each other, so a typo here cannot make a report
test assert a wrong "truth".

The seller: USD customers alice (acquired 2025-01-10 with the Course, a second order of
Mentoring on day 31, a partial refund of the first), bob (2025-01-20, one charge) and carol
(2025-06-01, rebill on day 29); EUR customer dave (2025-02-01). The latest payment, and so the
data's `as_of`, is carol's rebill at 2025-06-30 10:00 UTC. On the charge clock alice's refund
counts on her first charge's day (2025-01-10).

Their subscriptions (account shop, the subscription marts' rules in docs/marts.md):
- S1, alice's Course, quarterly: 100.00 on 2025-01-10 (MRR 33.33); its rebill fails on
  2025-04-10 and nothing is collected, so it ends delinquent on 2025-04-24.
- S3, alice's Mentoring, monthly: 50.00 on 2025-02-10 (expansion); its rebill fails on
  2025-03-10 and it ends delinquent on 2025-03-24 (contraction: alice still has S1).
- S4, bob's Mentoring, monthly: 200.00 on 2025-01-20, cancelled on 2025-02-03 (voluntary churn).
- S2, carol's Course, monthly: 80.00 on 2025-06-01 (starting MRR 80.00), a rebill that fails on
  2025-06-27 and is collected on 2025-06-30 at 40.00 (recovered; MRR 40.00 at as_of).
- S5, dave's Buch (EUR), split pay: three yearly instalments of 300.00, the first on
  2025-02-01, two outstanding; EUR has no recurring subscription.

Their costs (docs/costs.md): Stripe keeps 3% + 0.30 of a USD charge and 1.5% + 0.25 of a EUR
one, rounded to the cent; a Course sold in USD costs 20.00 to deliver; a refund returns
neither. So the margins are p1 100.00 − 3.30 − 20.00 = 76.70, p2 50.00 − 1.80 = 48.20,
p3 −20.00, p4 200.00 − 6.30 = 193.70, p5 80.00 − 2.70 − 20.00 = 57.30, p6 40.00 − 1.50 − 20.00
= 18.50 and p7 300.00 − 4.75 = 295.25 EUR.

Their ad spend: facebook 280.00 USD in January 2025 (campaign 'winter sale', which acquired
nobody: alice and bob came untracked), facebook 50.00 USD in June ('spring launch', carol) and
google 400.00 EUR in February ('brand', dave). January's 280.00 over its 2 customers is a CAC
of 140.00, paid back in month 1 (margin 270.40 in January, 298.60 by February's end); carol
paid her 50.00 back in month 0 (75.80); dave's 295.25 has not paid back 400.00.

The reporting currency is USD: dave's payment converts at 1.10 USD per EUR, 330.00 with a
margin of 295.25 × 1.10 = 324.775, 324.78 to the cent.
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
    affiliate_id VARCHAR, source VARCHAR, matched_by VARCHAR, charge_clock_date DATE,
    processor_fee DECIMAL(18,2), product_cost DECIMAL(18,2), margin DECIMAL(18,2),
    amount_reporting DECIMAL(18,2), margin_reporting DECIMAL(18,2));
INSERT INTO fct_payments VALUES
  ('p1', 'shop', 'c_alice', 'alice@example.com', 'o1', 'product', 'P1', 'Course', 'S1',
   'charge', '2025-01-10 09:00', '2025-01-10', 100.00, 0.00, 'USD', 'spring', NULL,
   'csv+webhook', 'order_id', '2025-01-10',
   3.30, 20.00, 76.70, 100.00, 76.70),
  ('p2', 'shop', 'c_alice', 'alice@example.com', 'o5', 'product', 'P2', 'Mentoring', 'S3',
   'charge', '2025-02-10 09:00', '2025-02-10', 50.00, 0.00, 'USD', NULL, NULL,
   'webhook', NULL, '2025-02-10',
   1.80, NULL, 48.20, 50.00, 48.20),
  ('p3', 'shop', 'c_alice', 'alice@example.com', 'o1', 'product', 'P1', 'Course', 'S1',
   'refund', '2025-02-15 12:00', '2025-02-15', -20.00, 0.00, 'USD', 'spring', NULL,
   'csv', NULL, '2025-01-10',
   NULL, NULL, -20.00, -20.00, -20.00),
  ('p4', 'shop', 'c_bob', 'bob@example.com', 'o2', 'product', 'P2', 'Mentoring', 'S4',
   'charge', '2025-01-20 15:30', '2025-01-20', 200.00, 0.00, 'USD', NULL, 'aff1',
   'csv', NULL, '2025-01-20',
   6.30, NULL, 193.70, 200.00, 193.70),
  ('p5', 'shop', 'c_carol', 'carol@example.com', 'o3', 'product', 'P1', 'Course', 'S2',
   'charge', '2025-06-01 08:00', '2025-06-01', 80.00, 0.00, 'USD', 'spring', NULL,
   'csv+webhook', 'order_id', '2025-06-01',
   2.70, 20.00, 57.30, 80.00, 57.30),
  ('p6', 'shop', 'c_carol', 'carol@example.com', 'o3', 'product', 'P1', 'Course', 'S2',
   'rebill', '2025-06-30 10:00', '2025-06-30', 40.00, 0.00, 'USD', 'spring', NULL,
   'webhook', NULL, '2025-06-30',
   1.50, 20.00, 18.50, 40.00, 18.50),
  ('p7', 'shop', 'c_dave', 'dave@example.com', 'o4', 'product', 'P3', 'Buch', 'S5',
   'charge', '2025-02-01 11:00', '2025-02-01', 300.00, 19.00, 'EUR', 'winter', NULL,
   'csv+webhook', 'order_id', '2025-02-01',
   4.75, NULL, 295.25, 330.00, 324.78);

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
   '2025-02-15 12:00', 2),
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
   '2025-02-01 11:00', 1);

CREATE TABLE dim_subscriptions (
    subscription_id VARCHAR PRIMARY KEY, customer_id VARCHAR, product_id VARCHAR,
    product_name VARCHAR, kind VARCHAR, status VARCHAR, started_at TIMESTAMP,
    frequency VARCHAR, amount DECIMAL(18,2), currency VARCHAR, payments_collected INTEGER,
    collected_amount DECIMAL(18,2), last_payment_at TIMESTAMP, cancelled_at TIMESTAMP,
    processor_subscription_id VARCHAR);
INSERT INTO dim_subscriptions VALUES
  ('S1', 'c_alice', 'P1', 'Course', 'recurring', 'active', '2025-01-10 09:00', 'quarter',
   100.00, 'USD', 1, 100.00, '2025-01-10 09:00', NULL, 'sub_stripe_1'),
  ('S2', 'c_carol', 'P1', 'Course', 'recurring', 'active', '2025-06-01 08:00', 'month',
   40.00, 'USD', 2, 120.00, '2025-06-30 10:00', NULL, 'sub_stripe_2'),
  ('S3', 'c_alice', 'P2', 'Mentoring', 'recurring', 'active', '2025-02-10 09:00', 'month',
   50.00, 'USD', 1, 50.00, '2025-02-10 09:00', NULL, 'sub_stripe_3'),
  ('S4', 'c_bob', 'P2', 'Mentoring', 'recurring', 'cancelled', '2025-01-20 15:30', 'month',
   200.00, 'USD', 1, 200.00, '2025-01-20 15:30', '2025-02-03 10:00', 'sub_stripe_4'),
  ('S5', 'c_dave', 'P3', 'Buch', 'limited', 'active', '2025-02-01 11:00', 'year',
   300.00, 'EUR', 1, 300.00, '2025-02-01 11:00', NULL, 'sub_stripe_5');

CREATE TABLE ltv_cohorts_monthly (
    currency VARCHAR, cohort_month DATE, months_since_acquisition INTEGER,
    cohort_customers INTEGER, paying_customers INTEGER, net_revenue DECIMAL(18,2),
    cumulative_net_revenue DECIMAL(18,2), ltv_per_customer DECIMAL(18,2), is_complete BOOLEAN,
    net_revenue_charge_clock DECIMAL(18,2), cumulative_net_revenue_charge_clock DECIMAL(18,2),
    ltv_per_customer_charge_clock DECIMAL(18,2),
    PRIMARY KEY (currency, cohort_month, months_since_acquisition));
INSERT INTO ltv_cohorts_monthly VALUES
  ('USD', '2025-01-01', 0, 2, 2, 300.00, 300.00, 150.00, true, 280.00, 280.00, 140.00),
  ('USD', '2025-01-01', 1, 2, 1, 30.00, 330.00, 165.00, true, 50.00, 330.00, 165.00),
  ('USD', '2025-01-01', 2, 2, 0, 0.00, 330.00, 165.00, true, 0.00, 330.00, 165.00),
  ('USD', '2025-01-01', 3, 2, 0, 0.00, 330.00, 165.00, true, 0.00, 330.00, 165.00),
  ('USD', '2025-01-01', 4, 2, 0, 0.00, 330.00, 165.00, true, 0.00, 330.00, 165.00),
  ('USD', '2025-01-01', 5, 2, 0, 0.00, 330.00, 165.00, false, 0.00, 330.00, 165.00),
  ('USD', '2025-06-01', 0, 1, 1, 120.00, 120.00, 120.00, false, 120.00, 120.00, 120.00),
  ('EUR', '2025-02-01', 0, 1, 1, 300.00, 300.00, 300.00, true, 300.00, 300.00, 300.00),
  ('EUR', '2025-02-01', 1, 1, 0, 0.00, 300.00, 300.00, true, 0.00, 300.00, 300.00),
  ('EUR', '2025-02-01', 2, 1, 0, 0.00, 300.00, 300.00, true, 0.00, 300.00, 300.00),
  ('EUR', '2025-02-01', 3, 1, 0, 0.00, 300.00, 300.00, true, 0.00, 300.00, 300.00),
  ('EUR', '2025-02-01', 4, 1, 0, 0.00, 300.00, 300.00, false, 0.00, 300.00, 300.00);

CREATE TABLE ltv_day_n (
    currency VARCHAR, segment_type VARCHAR, segment_value VARCHAR, day_n INTEGER,
    customers INTEGER, eligible_customers INTEGER, net_revenue DECIMAL(18,2),
    ltv DECIMAL(18,2), net_revenue_charge_clock DECIMAL(18,2), ltv_charge_clock DECIMAL(18,2),
    net_margin DECIMAL(18,2), margin_ltv DECIMAL(18,2));
INSERT INTO ltv_day_n VALUES
  ('USD', 'all', 'all', 0, 3, 3, 380.00, 126.67, 360.00, 120.00,
   327.70, 109.23),
  ('USD', 'all', 'all', 7, 3, 3, 380.00, 126.67, 360.00, 120.00,
   327.70, 109.23),
  ('USD', 'all', 'all', 30, 3, 2, 300.00, 150.00, 280.00, 140.00,
   270.40, 135.20),
  ('USD', 'all', 'all', 60, 3, 2, 330.00, 165.00, 330.00, 165.00,
   298.60, 149.30),
  ('USD', 'all', 'all', 90, 3, 2, 330.00, 165.00, 330.00, 165.00,
   298.60, 149.30),
  ('USD', 'all', 'all', 180, 3, 0, 0.00, NULL, 0.00, NULL,
   0.00, NULL),
  ('USD', 'all', 'all', 365, 3, 0, 0.00, NULL, 0.00, NULL,
   0.00, NULL),
  ('USD', 'cohort_month', '2025-01-01', 0, 2, 2, 300.00, 150.00, 280.00, 140.00,
   270.40, 135.20),
  ('USD', 'cohort_month', '2025-01-01', 30, 2, 2, 300.00, 150.00, 280.00, 140.00,
   270.40, 135.20),
  ('USD', 'cohort_month', '2025-01-01', 90, 2, 2, 330.00, 165.00, 330.00, 165.00,
   298.60, 149.30),
  ('USD', 'cohort_month', '2025-06-01', 0, 1, 1, 80.00, 80.00, 80.00, 80.00,
   57.30, 57.30),
  ('USD', 'cohort_month', '2025-06-01', 30, 1, 0, 0.00, NULL, 0.00, NULL,
   0.00, NULL),
  ('USD', 'first_product', 'P1', 30, 2, 1, 100.00, 100.00, 80.00, 80.00,
   76.70, 76.70),
  ('USD', 'first_product', 'P2', 30, 1, 1, 200.00, 200.00, 200.00, 200.00,
   193.70, 193.70),
  ('USD', 'first_product', 'P1', 90, 2, 1, 130.00, 130.00, 130.00, 130.00,
   104.90, 104.90),
  ('USD', 'first_product', 'P2', 90, 1, 1, 200.00, 200.00, 200.00, 200.00,
   193.70, 193.70),
  ('USD', 'campaign', 'spring', 90, 2, 1, 130.00, 130.00, 130.00, 130.00,
   104.90, 104.90),
  ('USD', 'campaign', NULL, 90, 1, 1, 200.00, 200.00, 200.00, 200.00,
   193.70, 193.70),
  ('USD', 'utm_source', 'facebook', 90, 1, 0, 0.00, NULL, 0.00, NULL,
   0.00, NULL),
  ('USD', 'utm_source', '(not tracked)', 90, 2, 2, 330.00, 165.00, 330.00, 165.00,
   298.60, 149.30),
  ('USD', 'utm_campaign', 'spring launch', 90, 1, 0, 0.00, NULL, 0.00, NULL,
   0.00, NULL),
  ('USD', 'utm_campaign', '(not tracked)', 90, 2, 2, 330.00, 165.00, 330.00, 165.00,
   298.60, 149.30),
  ('EUR', 'all', 'all', 0, 1, 1, 300.00, 300.00, 300.00, 300.00,
   295.25, 295.25),
  ('EUR', 'all', 'all', 30, 1, 1, 300.00, 300.00, 300.00, 300.00,
   295.25, 295.25),
  ('EUR', 'all', 'all', 90, 1, 1, 300.00, 300.00, 300.00, 300.00,
   295.25, 295.25),
  ('EUR', 'all', 'all', 365, 1, 0, 0.00, NULL, 0.00, NULL,
   0.00, NULL),
  ('EUR', 'first_product', 'P3', 90, 1, 1, 300.00, 300.00, 300.00, 300.00,
   295.25, 295.25),
  ('EUR', 'campaign', 'winter', 90, 1, 1, 300.00, 300.00, 300.00, 300.00,
   295.25, 295.25),
  ('EUR', 'utm_source', 'google', 90, 1, 1, 300.00, 300.00, 300.00, 300.00,
   295.25, 295.25),
  ('EUR', 'utm_campaign', 'brand', 90, 1, 1, 300.00, 300.00, 300.00, 300.00,
   295.25, 295.25);

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

CREATE TABLE mrr_monthly (
    account VARCHAR, currency VARCHAR, month DATE, opening_mrr DECIMAL(18,2),
    new_mrr DECIMAL(18,2), expansion_mrr DECIMAL(18,2), reactivation_mrr DECIMAL(18,2),
    contraction_mrr DECIMAL(18,2), churned_mrr DECIMAL(18,2),
    churned_mrr_voluntary DECIMAL(18,2), churned_mrr_delinquent DECIMAL(18,2),
    closing_mrr DECIMAL(18,2), opening_subscribers INTEGER, new_subscribers INTEGER,
    reactivated_subscribers INTEGER, expanded_subscribers INTEGER,
    contracted_subscribers INTEGER, churned_subscribers INTEGER,
    churned_subscribers_voluntary INTEGER, churned_subscribers_delinquent INTEGER,
    closing_subscribers INTEGER, is_month_complete BOOLEAN,
    PRIMARY KEY (account, currency, month));
INSERT INTO mrr_monthly VALUES
  ('shop', 'USD', '2025-01-01', 0.00, 233.33, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 233.33,
   0, 2, 0, 0, 0, 0, 0, 0, 2, true),
  ('shop', 'USD', '2025-02-01', 233.33, 0.00, 50.00, 0.00, 0.00, -200.00, -200.00, 0.00, 83.33,
   2, 0, 0, 1, 0, 1, 1, 0, 1, true),
  ('shop', 'USD', '2025-03-01', 83.33, 0.00, 0.00, 0.00, -50.00, 0.00, 0.00, 0.00, 33.33,
   1, 0, 0, 0, 1, 0, 0, 0, 1, true),
  ('shop', 'USD', '2025-04-01', 33.33, 0.00, 0.00, 0.00, 0.00, -33.33, 0.00, -33.33, 0.00,
   1, 0, 0, 0, 0, 1, 0, 1, 0, true),
  ('shop', 'USD', '2025-05-01', 0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00,
   0, 0, 0, 0, 0, 0, 0, 0, 0, true),
  ('shop', 'USD', '2025-06-01', 0.00, 40.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 40.00,
   0, 1, 0, 0, 0, 0, 0, 0, 1, false);

CREATE TABLE subscription_retention_cohorts (
    account VARCHAR, currency VARCHAR, start_month DATE, months_since_start INTEGER,
    subscribers INTEGER, starting_mrr DECIMAL(18,2), retained_subscribers INTEGER,
    retained_mrr DECIMAL(18,2), logo_retention DECIMAL(18,4),
    net_mrr_retention DECIMAL(18,4), is_month_complete BOOLEAN,
    PRIMARY KEY (account, currency, start_month, months_since_start));
INSERT INTO subscription_retention_cohorts VALUES
  ('shop', 'USD', '2025-01-01', 0, 2, 233.33, 2, 233.33, 1.0000, 1.0000, true),
  ('shop', 'USD', '2025-01-01', 1, 2, 233.33, 1, 83.33, 0.5000, 0.3571, true),
  ('shop', 'USD', '2025-01-01', 2, 2, 233.33, 1, 33.33, 0.5000, 0.1428, true),
  ('shop', 'USD', '2025-01-01', 3, 2, 233.33, 0, 0.00, 0.0000, 0.0000, true),
  ('shop', 'USD', '2025-01-01', 4, 2, 233.33, 0, 0.00, 0.0000, 0.0000, true),
  ('shop', 'USD', '2025-01-01', 5, 2, 233.33, 0, 0.00, 0.0000, 0.0000, false),
  ('shop', 'USD', '2025-06-01', 0, 1, 80.00, 1, 40.00, 1.0000, 0.5000, false);

CREATE TABLE failed_payment_recovery (
    account VARCHAR, currency VARCHAR, kind VARCHAR, failure_month DATE,
    failed_rebills INTEGER, recovered INTEGER, not_recovered INTEGER, pending INTEGER,
    recovery_rate DECIMAL(18,4), recovered_amount DECIMAL(18,2),
    PRIMARY KEY (account, currency, kind, failure_month));
INSERT INTO failed_payment_recovery VALUES
  ('shop', 'USD', 'recurring', '2025-03-01', 1, 0, 1, 0, 0.0000, 0.00),
  ('shop', 'USD', 'recurring', '2025-04-01', 1, 0, 1, 0, 0.0000, 0.00),
  ('shop', 'USD', 'recurring', '2025-06-01', 1, 1, 0, 0, 1.0000, 40.00);

CREATE TABLE split_pay_plans (
    account VARCHAR, currency VARCHAR, product_id VARCHAR, product_name VARCHAR,
    start_month DATE, plans INTEGER, completed INTEGER, cancelled INTEGER, active INTEGER,
    completion_rate DECIMAL(18,4), instalments_collected INTEGER,
    instalments_outstanding INTEGER, outstanding_amount DECIMAL(18,2),
    plans_with_unknown_schedule INTEGER,
    PRIMARY KEY (account, currency, product_id, start_month));
INSERT INTO split_pay_plans VALUES
  ('shop', 'EUR', 'P3', 'Buch', '2025-02-01', 1, 0, 0, 1, NULL, 1, 2, 600.00, 0);

CREATE TABLE cac_cohorts (
    account VARCHAR, currency VARCHAR, cohort_month DATE, channel VARCHAR, campaign VARCHAR,
    spend DECIMAL(18,2), new_customers INTEGER, cac DECIMAL(18,2), net_revenue DECIMAL(18,2),
    net_margin DECIMAL(18,2), ltv_to_date DECIMAL(18,2), margin_ltv_to_date DECIMAL(18,2),
    ltv_30 DECIMAL(18,2), margin_ltv_30 DECIMAL(18,2), ltv_90 DECIMAL(18,2),
    margin_ltv_90 DECIMAL(18,2), ltv_365 DECIMAL(18,2), margin_ltv_365 DECIMAL(18,2),
    margin_ltv_to_cac DECIMAL(18,2), payback_months INTEGER,
    PRIMARY KEY (account, currency, cohort_month, channel, campaign));
INSERT INTO cac_cohorts VALUES
  ('shop', 'USD', '2025-01-01', '(not tracked)', '(not tracked)', 0.00, 2, NULL, 330.00,
   298.60, 165.00, 149.30, 150.00, 135.20, 165.00, 149.30, NULL, NULL, NULL, NULL),
  ('shop', 'USD', '2025-01-01', '(not tracked)', '*', 0.00, 2, NULL, 330.00,
   298.60, 165.00, 149.30, 150.00, 135.20, 165.00, 149.30, NULL, NULL, NULL, NULL),
  ('shop', 'USD', '2025-01-01', 'facebook', 'winter sale', 280.00, 0, NULL, 0.00,
   0.00, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  ('shop', 'USD', '2025-01-01', 'facebook', '*', 280.00, 0, NULL, 0.00,
   0.00, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  ('shop', 'USD', '2025-01-01', '*', '*', 280.00, 2, 140.00, 330.00,
   298.60, 165.00, 149.30, 150.00, 135.20, 165.00, 149.30, NULL, NULL, 1.07, 1),
  ('shop', 'USD', '2025-06-01', 'facebook', 'spring launch', 50.00, 1, 50.00, 120.00,
   75.80, 120.00, 75.80, NULL, NULL, NULL, NULL, NULL, NULL, 1.52, 0),
  ('shop', 'USD', '2025-06-01', 'facebook', '*', 50.00, 1, 50.00, 120.00,
   75.80, 120.00, 75.80, NULL, NULL, NULL, NULL, NULL, NULL, 1.52, 0),
  ('shop', 'USD', '2025-06-01', '*', '*', 50.00, 1, 50.00, 120.00,
   75.80, 120.00, 75.80, NULL, NULL, NULL, NULL, NULL, NULL, 1.52, 0),
  ('shop', 'EUR', '2025-02-01', 'google', 'brand', 400.00, 1, 400.00, 300.00,
   295.25, 300.00, 295.25, 300.00, 295.25, 300.00, 295.25, NULL, NULL, 0.74, NULL),
  ('shop', 'EUR', '2025-02-01', 'google', '*', 400.00, 1, 400.00, 300.00,
   295.25, 300.00, 295.25, 300.00, 295.25, 300.00, 295.25, NULL, NULL, 0.74, NULL),
  ('shop', 'EUR', '2025-02-01', '*', '*', 400.00, 1, 400.00, 300.00,
   295.25, 300.00, 295.25, 300.00, 295.25, 300.00, 295.25, NULL, NULL, 0.74, NULL);

CREATE TABLE ltv_cohorts_all_currencies (
    reporting_currency VARCHAR, cohort_month DATE, months_since_acquisition INTEGER,
    activity_month DATE, cohort_customers INTEGER, net_revenue DECIMAL(18,2),
    cumulative_net_revenue DECIMAL(18,2), ltv_per_customer DECIMAL(18,2),
    net_margin DECIMAL(18,2), cumulative_margin DECIMAL(18,2),
    margin_ltv_per_customer DECIMAL(18,2), is_complete BOOLEAN,
    PRIMARY KEY (cohort_month, months_since_acquisition));
INSERT INTO ltv_cohorts_all_currencies VALUES
  ('USD', '2025-01-01', 0, '2025-01-01', 2, 300.00, 300.00, 150.00, 270.40, 270.40, 135.20, true),
  ('USD', '2025-01-01', 1, '2025-02-01', 2, 30.00, 330.00, 165.00, 28.20, 298.60, 149.30, true),
  ('USD', '2025-01-01', 2, '2025-03-01', 2, 0.00, 330.00, 165.00, 0.00, 298.60, 149.30, true),
  ('USD', '2025-01-01', 3, '2025-04-01', 2, 0.00, 330.00, 165.00, 0.00, 298.60, 149.30, true),
  ('USD', '2025-01-01', 4, '2025-05-01', 2, 0.00, 330.00, 165.00, 0.00, 298.60, 149.30, true),
  ('USD', '2025-01-01', 5, '2025-06-01', 2, 0.00, 330.00, 165.00, 0.00, 298.60, 149.30, false),
  ('USD', '2025-02-01', 0, '2025-02-01', 1, 330.00, 330.00, 330.00, 324.78, 324.78, 324.78, true),
  ('USD', '2025-02-01', 1, '2025-03-01', 1, 0.00, 330.00, 330.00, 0.00, 324.78, 324.78, true),
  ('USD', '2025-02-01', 2, '2025-04-01', 1, 0.00, 330.00, 330.00, 0.00, 324.78, 324.78, true),
  ('USD', '2025-02-01', 3, '2025-05-01', 1, 0.00, 330.00, 330.00, 0.00, 324.78, 324.78, true),
  ('USD', '2025-02-01', 4, '2025-06-01', 1, 0.00, 330.00, 330.00, 0.00, 324.78, 324.78, false),
  ('USD', '2025-06-01', 0, '2025-06-01', 1, 120.00, 120.00, 120.00, 75.80, 75.80, 75.80, false);
"""

# The build's mart_metadata: as_of is carol's rebill; two fee rules (USD, EUR) and one product
# cost rule (the Course in USD), so p2, p4 and p7 have no cost rule; USD is the reporting
# currency and dave's payment converts at 1.10 USD per EUR on its day.
MART_METADATA_SQL = """
CREATE TABLE mart_metadata (
    as_of TIMESTAMP, as_of_date DATE, reporting_timezone VARCHAR, payments INTEGER,
    customers INTEGER, margin_basis VARCHAR, processor_fee_rules INTEGER,
    product_cost_rules INTEGER, payments_without_fee_rule INTEGER,
    payments_without_cost_rule INTEGER, reporting_currency VARCHAR, fx_rates INTEGER,
    payments_converted_at_earlier_rate INTEGER, payments_not_converted INTEGER);
INSERT INTO mart_metadata VALUES
  ('2025-06-30 10:00', '2025-06-30', 'UTC', 7, 4,
   'revenue less processor fees and product costs', 2, 1, 0, 3, 'USD', 1, 0, 0);
"""

# A variant whose currencies start the day-N control at different days: EUR's marts computed
# at days 0, 30 and 365 only, dave's segments at day 30 (so EUR compares at 30, USD at 90).
EUR_SEGMENTS_AT_DAY_30 = """
DELETE FROM ltv_day_n WHERE currency = 'EUR' AND segment_type = 'all' AND day_n = 90;
UPDATE ltv_day_n SET day_n = 30 WHERE currency = 'EUR' AND day_n = 90;
"""

MART_NAMES = (
    "cac_cohorts",
    "customers_by_order_count",
    "dim_customers",
    "dim_subscriptions",
    "failed_payment_recovery",
    "fct_payments",
    "ltv_cohorts_all_currencies",
    "ltv_cohorts_monthly",
    "ltv_day_n",
    "mrr_monthly",
    "product_paths",
    "repeat_purchase_cohorts",
    "revenue_daily",
    "source_reconciliation",
    "split_pay_plans",
    "subscription_retention_cohorts",
)
ROW_COUNTS = {
    "cac_cohorts": 11,
    "customers_by_order_count": 3,
    "dim_customers": 4,
    "dim_subscriptions": 5,
    "failed_payment_recovery": 3,
    "fct_payments": 7,
    "ltv_cohorts_all_currencies": 12,
    "ltv_cohorts_monthly": 12,
    "ltv_day_n": 30,
    "mrr_monthly": 6,
    "product_paths": 4,
    "repeat_purchase_cohorts": 3,
    "revenue_daily": 7,
    "source_reconciliation": 7,
    "split_pay_plans": 1,
    "subscription_retention_cohorts": 7,
}


def build_fixture_marts(database: Path, schema: str = "marts", metadata: bool = False) -> Path:
    """Create the fixture marts in schema `schema` of the DuckDB file `database`; with
    `metadata`, mart_metadata too (outside the contract marts, so the publish tests' lists of
    tables leave it out)."""
    database.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(database)) as con:
        con.execute(MARTS_SQL.format(schema=schema))
        if metadata:
            con.execute(MART_METADATA_SQL)
    return database


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    return con.execute(sql).fetchone()[0]


def test_fixture_marts_agree_with_their_payments(tmp_path: Path) -> None:
    """Every aggregate mart row is what the marts.md definitions give for fct_payments."""
    with duckdb.connect(str(build_fixture_marts(tmp_path / "w.duckdb"))) as con:
        con.execute("USE marts")
        counts = {t: _scalar(con, f"SELECT count(*) FROM {t}") for t in ROW_COUNTS}
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


def _violations(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    """Rows of `sql` (each one a broken rule), so a failure shows which rows disagree."""
    return con.execute(sql).fetchall()


def test_fixture_charge_clock_agrees_with_its_payments(tmp_path: Path) -> None:
    """Both clocks of the cohorts and of day N are the sums docs/marts.md defines: the cash
    clock dates a payment by paid_date, the charge clock by charge_clock_date."""
    with duckdb.connect(str(build_fixture_marts(tmp_path / "w.duckdb"))) as con:
        con.execute("USE marts")
        for clock, date in (("", "paid_date"), ("_charge_clock", "charge_clock_date")):
            assert not _violations(
                con,
                f"""WITH monthly AS (
                     SELECT p.currency, c.cohort_month,
                            date_diff('month', c.cohort_month, {date}) AS months_since_acquisition,
                            sum(p.amount) AS net
                     FROM fct_payments p JOIN dim_customers c USING (customer_id, currency)
                     GROUP BY ALL),
                 running AS (
                     SELECT *, sum(net_revenue{clock}) OVER (
                         PARTITION BY currency, cohort_month ORDER BY months_since_acquisition
                     ) AS running_net
                     FROM ltv_cohorts_monthly)
                 SELECT l.* FROM running l LEFT JOIN monthly m
                     USING (currency, cohort_month, months_since_acquisition)
                 WHERE l.net_revenue{clock} <> coalesce(m.net, 0)
                    OR l.cumulative_net_revenue{clock} <> l.running_net
                    OR l.ltv_per_customer{clock}
                       <> round(l.cumulative_net_revenue{clock} / l.cohort_customers, 2)""",
            )
            assert not _violations(
                con,
                f"""WITH as_of AS (SELECT max(paid_at)::DATE AS day FROM fct_payments),
                 windows AS (
                     SELECT d.currency, d.day_n, sum(p.amount) AS net
                     FROM ltv_day_n d
                     JOIN dim_customers c ON c.currency = d.currency
                     JOIN fct_payments p
                         ON p.customer_id = c.customer_id AND p.currency = c.currency
                     CROSS JOIN as_of
                     WHERE d.segment_type = 'all'
                       AND c.first_paid_at::DATE + d.day_n <= as_of.day
                       AND p.{date} <= c.first_paid_at::DATE + d.day_n
                     GROUP BY ALL)
                 SELECT d.* FROM ltv_day_n d LEFT JOIN windows w USING (currency, day_n)
                 WHERE d.segment_type = 'all'
                   AND (d.net_revenue{clock} <> coalesce(w.net, 0)
                        OR d.ltv{clock} IS DISTINCT FROM CASE WHEN d.eligible_customers > 0
                           THEN round(d.net_revenue{clock} / d.eligible_customers, 2) END)""",
            )


def test_fixture_subscription_marts_hold_their_identities(tmp_path: Path) -> None:
    """The subscription marts follow the identities of docs/marts.md and agree with each other
    and with dim_subscriptions and fct_payments."""
    with duckdb.connect(str(build_fixture_marts(tmp_path / "w.duckdb"))) as con:
        con.execute("USE marts")
        # Months run without a gap to as_of's month, the only incomplete one; each opens at the
        # previous closing and the movements add up to the closing.
        assert not _violations(
            con,
            """WITH m AS (
                 SELECT *,
                     lag(closing_mrr, 1, 0) OVER w AS previous_mrr,
                     lag(closing_subscribers, 1, 0) OVER w AS previous_subscribers,
                     lag(month) OVER w AS previous_month,
                     max(month) OVER (PARTITION BY account, currency) AS last_month
                 FROM mrr_monthly WINDOW w AS (PARTITION BY account, currency ORDER BY month))
             SELECT * FROM m
             WHERE opening_mrr <> previous_mrr OR opening_subscribers <> previous_subscribers
                OR closing_mrr <> opening_mrr + new_mrr + expansion_mrr + reactivation_mrr
                                  + contraction_mrr + churned_mrr
                OR churned_mrr <> churned_mrr_voluntary + churned_mrr_delinquent
                OR closing_subscribers <> opening_subscribers + new_subscribers
                                          + reactivated_subscribers - churned_subscribers
                OR churned_subscribers <> churned_subscribers_voluntary
                                          + churned_subscribers_delinquent
                OR contraction_mrr > 0 OR churned_mrr_voluntary > 0 OR churned_mrr_delinquent > 0
                OR month <> coalesce(previous_month + INTERVAL 1 MONTH, month)
                OR is_month_complete <> (month < last_month)""",
        )
        assert _scalar(con, "SELECT max(month) FROM mrr_monthly") == _scalar(
            con, "SELECT date_trunc('month', max(paid_at))::DATE FROM fct_payments"
        )
        # The retention cohorts: rates are the stated quotients, every month since the start
        # is there, and the cohorts together are the month's closing MRR and subscribers.
        assert not _violations(
            con,
            """SELECT * FROM subscription_retention_cohorts
             WHERE logo_retention <> round(retained_subscribers / subscribers, 4)
                OR net_mrr_retention IS DISTINCT FROM
                   round(retained_mrr / nullif(starting_mrr, 0), 4)
                OR retained_subscribers > subscribers""",
        )
        assert not _violations(
            con,
            """WITH cohorts AS (
                 SELECT account, currency,
                        (start_month + INTERVAL (months_since_start) MONTH)::DATE AS month,
                        sum(retained_mrr) AS mrr, sum(retained_subscribers) AS subscribers,
                        bool_and(is_month_complete) AS complete
                 FROM subscription_retention_cohorts GROUP BY ALL)
             SELECT * FROM mrr_monthly m FULL JOIN cohorts c USING (account, currency, month)
             WHERE c.mrr IS DISTINCT FROM m.closing_mrr
                OR c.subscribers IS DISTINCT FROM m.closing_subscribers
                OR c.complete IS DISTINCT FROM m.is_month_complete""",
        )
        # Each subscriber's start month and starting MRR come from their recurring
        # subscriptions' first payments above zero, normalised to a month.
        assert not _violations(
            con,
            """WITH firsts AS (
                 SELECT s.customer_id, s.currency, p.account, p.paid_date,
                        round(p.amount / CASE s.frequency WHEN 'month' THEN 1
                              WHEN 'quarter' THEN 3 WHEN 'year' THEN 12 END, 2)::DECIMAL(18, 2)
                            AS mrr
                 FROM dim_subscriptions s
                 JOIN fct_payments p USING (subscription_id)
                 WHERE s.kind = 'recurring' AND p.amount > 0
                 QUALIFY row_number() OVER (
                     PARTITION BY subscription_id ORDER BY p.paid_at) = 1),
             subscribers AS (
                 SELECT customer_id, currency, account,
                        date_trunc('month', min(paid_date))::DATE AS start_month
                 FROM firsts GROUP BY ALL),
             cohorts AS (
                 SELECT s.account, s.currency, s.start_month,
                        count(DISTINCT s.customer_id) AS subscribers, sum(f.mrr) AS starting_mrr
                 FROM subscribers s JOIN firsts f USING (customer_id, currency, account)
                 WHERE date_trunc('month', f.paid_date) = s.start_month GROUP BY ALL)
             SELECT * FROM cohorts c FULL JOIN (
                 SELECT DISTINCT account, currency, start_month, subscribers, starting_mrr
                 FROM subscription_retention_cohorts) r USING (account, currency, start_month)
             WHERE c.subscribers IS DISTINCT FROM r.subscribers
                OR c.starting_mrr IS DISTINCT FROM r.starting_mrr""",
        )
        # Failed rebills are recovered, not recovered or pending; split-pay plans completed,
        # cancelled or active, with the instalments dim_subscriptions counts.
        assert not _violations(
            con,
            """SELECT * FROM failed_payment_recovery
             WHERE failed_rebills <> recovered + not_recovered + pending
                OR recovery_rate IS DISTINCT FROM
                   round(recovered / nullif(recovered + not_recovered, 0), 4)""",
        )
        assert not _violations(
            con,
            """WITH plans AS (
                 SELECT s.currency, s.product_id, p.account,
                        date_trunc('month', s.started_at)::DATE AS start_month,
                        count(*) AS plans, sum(s.payments_collected) AS collected
                 FROM dim_subscriptions s JOIN fct_payments p USING (subscription_id)
                 WHERE s.kind = 'limited' AND p.amount > 0 GROUP BY ALL)
             SELECT * FROM split_pay_plans sp
             FULL JOIN plans USING (account, currency, product_id, start_month)
             WHERE sp.plans IS DISTINCT FROM plans.plans
                OR sp.plans <> sp.completed + sp.cancelled + sp.active
                OR sp.instalments_collected IS DISTINCT FROM plans.collected
                OR sp.completion_rate IS DISTINCT FROM
                   round(sp.completed / nullif(sp.completed + sp.cancelled, 0), 4)""",
        )
        # Dave's one plan: three instalments, one collected, two of 300.00 outstanding.
        assert _scalar(
            con,
            """SELECT sp.outstanding_amount = sp.instalments_outstanding * s.amount
                      AND sp.instalments_outstanding = 3 - s.payments_collected
               FROM split_pay_plans sp JOIN dim_subscriptions s USING (currency, product_id)
               WHERE s.kind = 'limited'""",
        )


def test_fixture_margins_agree_with_their_payments(tmp_path: Path) -> None:
    """Each payment's margin is its amount less its fee and cost; day N's margin of segment
    `all` is the margins' sum in each window (cash clock); the converted cohorts add up the
    converted payments."""
    with duckdb.connect(str(build_fixture_marts(tmp_path / "w.duckdb"))) as con:
        con.execute("USE marts")
        assert not _violations(
            con,
            """SELECT * FROM fct_payments
             WHERE margin <> amount - coalesce(processor_fee, 0) - coalesce(product_cost, 0)
                OR (amount < 0 AND (processor_fee IS NOT NULL OR product_cost IS NOT NULL))
                OR (currency = 'USD' AND (amount_reporting <> amount
                                          OR margin_reporting <> margin))
                OR (currency = 'EUR' AND (amount_reporting <> round(amount * 1.10, 2)
                                          OR margin_reporting <> round(margin * 1.10, 2)))""",
        )
        assert not _violations(
            con,
            """WITH as_of AS (SELECT max(paid_at)::DATE AS day FROM fct_payments),
             windows AS (
                 SELECT d.currency, d.day_n, sum(p.margin) AS margin
                 FROM ltv_day_n d
                 JOIN dim_customers c ON c.currency = d.currency
                 JOIN fct_payments p
                     ON p.customer_id = c.customer_id AND p.currency = c.currency
                 CROSS JOIN as_of
                 WHERE d.segment_type = 'all'
                   AND c.first_paid_at::DATE + d.day_n <= as_of.day
                   AND p.paid_date <= c.first_paid_at::DATE + d.day_n
                 GROUP BY ALL)
             SELECT d.* FROM ltv_day_n d LEFT JOIN windows w USING (currency, day_n)
             WHERE (d.segment_type = 'all' AND d.net_margin <> coalesce(w.margin, 0))
                OR d.margin_ltv IS DISTINCT FROM CASE WHEN d.eligible_customers > 0
                   THEN round(d.net_margin / d.eligible_customers, 2) END
                OR d.net_margin > d.net_revenue""",
        )
        assert not _violations(
            con,
            """WITH monthly AS (
                 SELECT c.cohort_month, date_trunc('month', p.paid_date)::DATE AS activity_month,
                        sum(p.amount_reporting) AS revenue, sum(p.margin_reporting) AS margin
                 FROM fct_payments p JOIN dim_customers c USING (customer_id, currency)
                 GROUP BY ALL),
             cohorts AS (
                 SELECT cohort_month, count(*) AS customers FROM dim_customers GROUP BY ALL)
             SELECT a.* FROM ltv_cohorts_all_currencies a
             LEFT JOIN monthly m USING (cohort_month, activity_month)
             JOIN cohorts c USING (cohort_month)
             WHERE a.net_revenue <> coalesce(m.revenue, 0)
                OR a.net_margin <> coalesce(m.margin, 0)
                OR a.cohort_customers <> c.customers
                OR a.cumulative_net_revenue <> (SELECT sum(b.net_revenue)
                    FROM ltv_cohorts_all_currencies b WHERE b.cohort_month = a.cohort_month
                      AND b.months_since_acquisition <= a.months_since_acquisition)
                OR a.cumulative_margin <> (SELECT sum(b.net_margin)
                    FROM ltv_cohorts_all_currencies b WHERE b.cohort_month = a.cohort_month
                      AND b.months_since_acquisition <= a.months_since_acquisition)
                OR a.ltv_per_customer <> round(a.cumulative_net_revenue / a.cohort_customers, 2)
                OR a.margin_ltv_per_customer
                   <> round(a.cumulative_margin / a.cohort_customers, 2)""",
        )


def test_fixture_cac_cohorts_agree_with_customers_spend_and_margins(tmp_path: Path) -> None:
    """cac_cohorts follows docs/marts.md: a channel's customers are dim_customers' of its
    utm_source, their margin the payments'; '*' rows add up their parts; CAC, margin to CAC and
    payback (the first month by whose end the cumulative margin reaches the spend) are the
    stated quotients."""
    with duckdb.connect(str(build_fixture_marts(tmp_path / "w.duckdb"))) as con:
        con.execute("USE marts")
        assert not _violations(
            con,
            """WITH customers AS (
                 SELECT currency, cohort_month, acquisition_utm_source AS channel,
                        count(*) AS n, sum(net_revenue) AS revenue
                 FROM dim_customers GROUP BY ALL),
             margins AS (
                 SELECT currency, cohort_month, acquisition_utm_source AS channel,
                        sum(margin) AS margin
                 FROM dim_customers JOIN fct_payments USING (customer_id, currency)
                 GROUP BY ALL)
             SELECT k.* FROM cac_cohorts k
             LEFT JOIN customers c USING (currency, cohort_month, channel)
             LEFT JOIN margins m USING (currency, cohort_month, channel)
             WHERE k.channel <> '*' AND k.campaign = '*'
               AND (k.new_customers <> coalesce(c.n, 0)
                    OR k.net_revenue <> coalesce(c.revenue, 0)
                    OR k.net_margin <> coalesce(m.margin, 0))""",
        )
        assert not _violations(
            con,
            """WITH parts AS (
                 SELECT account, currency, cohort_month, channel,
                        sum(spend) AS spend, sum(new_customers) AS n, sum(net_margin) AS margin
                 FROM cac_cohorts WHERE campaign <> '*' GROUP BY ALL
                 UNION ALL
                 SELECT account, currency, cohort_month, '*', sum(spend), sum(new_customers),
                        sum(net_margin)
                 FROM cac_cohorts WHERE campaign = '*' AND channel <> '*' GROUP BY ALL)
             SELECT * FROM parts p
             FULL JOIN (SELECT * FROM cac_cohorts WHERE campaign = '*') k
                 USING (account, currency, cohort_month, channel)
             WHERE p.spend IS DISTINCT FROM k.spend OR p.n IS DISTINCT FROM k.new_customers
                OR p.margin IS DISTINCT FROM k.net_margin""",
        )
        assert not _violations(
            con,
            """WITH monthly AS (
                 SELECT c.currency, c.cohort_month,
                        date_diff('month', c.cohort_month, p.paid_date) AS month,
                        sum(p.margin) AS margin
                 FROM dim_customers c JOIN fct_payments p USING (customer_id, currency)
                 GROUP BY ALL),
             paid_back AS (
                 SELECT k.currency, k.cohort_month, k.channel, k.campaign,
                        min(m.month) AS month
                 FROM cac_cohorts k JOIN monthly m USING (currency, cohort_month)
                 WHERE k.cac IS NOT NULL AND (
                     SELECT sum(e.margin) FROM monthly e WHERE e.currency = m.currency
                       AND e.cohort_month = m.cohort_month AND e.month <= m.month) >= k.spend
                 GROUP BY ALL)
             SELECT k.* FROM cac_cohorts k
             LEFT JOIN paid_back b USING (currency, cohort_month, channel, campaign)
             WHERE k.cac IS DISTINCT FROM CASE WHEN k.spend > 0 AND k.new_customers > 0
                       THEN round(k.spend / k.new_customers, 2) END
                OR k.margin_ltv_to_date IS DISTINCT FROM CASE WHEN k.new_customers > 0
                       THEN round(k.net_margin / k.new_customers, 2) END
                OR k.margin_ltv_to_cac IS DISTINCT FROM CASE WHEN k.cac IS NOT NULL
                       THEN round(k.net_margin / k.spend, 2) END
                OR (k.channel = '*' AND k.payback_months IS DISTINCT FROM b.month)""",
        )
