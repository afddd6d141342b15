"""The long-running service's parts: its log, the folder watcher, the jobs its
schedule runs and the delivery worker. `scheduler.py` composes them."""
