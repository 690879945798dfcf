-- One product cost rule per (account, item type, product, currency, valid_from), in force until
-- the next valid_from of the same key; where files repeat a rule, the file loaded last counts
-- (macros/rule_periods.sql).
{{ rule_periods(
    source('inputs', 'product_costs'),
    ['account', 'item_type', 'product_id', 'currency'],
    ['cost_per_sale']
) }}
