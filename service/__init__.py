"""The service's parts: the clock it reads, its log, the folder watcher and the
reconcilers its scheduled jobs run. `scheduler.py` wires them to APScheduler."""
