"""The webhook sidecar: receives ThriveCart deliveries and appends them, durably, to the log.

`records.py` turns one delivery into one record (pure, shared by the server and the replay),
`app.py` is the Starlette app, `server.py` runs it under uvicorn, `metrics.py` holds the
Prometheus counters, `replay.py` replays recorded deliveries, `cli.py` is `ltv webhooks`.
The log itself (segments, writer, reader) is `pipeline.webhook_log`.
"""
