-- One fee rule per (account, processor, currency, valid_from), in force until the next
-- valid_from of the same account, processor and currency; where files repeat a rule, the file
-- loaded last counts (macros/rule_periods.sql).
{{ rule_periods(
    source('inputs', 'processor_fees'),
    ['account', 'processor', 'currency'],
    ['fee_percent', 'fee_fixed']
) }}
