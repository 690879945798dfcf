"""Fresh marts with no click: declarative automation, evaluated by a sensor that runs by default.

Raw assets have one partition per landing file and per log day; a rejected file leaves its
partition failed for good. `eager()` would then wait forever, so the dbt models and publish
assets use eager without its "no missing upstream partition" clause: any raw update leads to a
rebuild, whatever else failed.
"""

import dagster as dg

EAGER_DESPITE_MISSING_PARENTS = (
    dg.AutomationCondition.eager()
    .without(~dg.AutomationCondition.any_deps_missing())
    .with_label("eager, despite missing or failed upstream partitions")
)

# Often enough that a webhook reaches the marts within about a minute.
automation_sensor = dg.AutomationConditionSensorDefinition(
    "ltv_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=15,
)

defs = dg.Definitions(sensors=[automation_sensor])
