"""`ltv run`: one shot. Load everything pending, build every model, publish the marts.

`command` is the click command, `driver` runs the same Dagster assets the sensors launch (in
process, on the persistent instance, so its runs show in the UI and count for the sensors),
`summary` is what it prints, `lock` keeps two of them from running at once.
"""
