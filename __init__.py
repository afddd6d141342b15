"""postroom: curated posts in, feeds, pages and a weekly digest out.

The repository root is this package: `content/` is `postroom.content`, `scheduler.py`
is `postroom.scheduler`, and so on (pyproject.toml maps them), so the folders keep
the layout the project was asked for while everything installed lives under one
import name. This module imports nothing, so importing one layer loads only the
layers beneath it.

Layers, bottom to top; a package may import only from those below it (a test,
tests/test_layers.py, reads every import to keep it so):

    core      model, config, sanitize, slug, schedule, clock, process, signals
    store     SQLite/PostgreSQL: every SQL statement
    content   intake: files -> posts        feeds   posts -> public/
    emails    digests: issues, messages, outbox, delivery
    service   the long-running jobs         web     `postroom serve`
    scheduler the command line: builds a context, hands it to the layer that acts
"""

__version__ = "0.2.0"
