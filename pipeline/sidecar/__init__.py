"""The webhook sidecar: receives ThriveCart deliveries and appends them, durably, to the log.

`app.py` is the ASGI app, `records.py` the pure delivery-to-record logic shared with
`replay.py`, `metrics.py` the Prometheus counters, `cli.py` the `ltv webhooks` commands.
"""
