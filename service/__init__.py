"""What the commands do with a site, above the stages they drive (intake, feeds, emails).

    command      the Context a verb is handed, its Exit codes, its lines at the terminal
    daemon       `run`: the jobs on timers, one process per site (a lease), signals, reload
    jobs         the scan and digest jobs, level-triggered; also `run --once`
    worker       `worker`: a process that only sends
    watch        inotify pokes that bring the next scan sooner
    logs         one line per event, text or JSON
    progress     progress of long work, as a bar or as lines
    digest       `digest preview|send|status` at the terminal
    subscribers  `subscribers add|import|list|remove|unsubscribe`
    status       every `--json` answer: the contracts

`scheduler.py` (the command line) builds the Context and hands it here.
"""
