"""The forkserver's first preload when a cold `run --once` starts it early
(`pool.start_forkserver_early`): its cyclic collector off from here on.

What it imports next (the scan's readers, the build's renderers, the store: 0.4 s, 100,000
objects that live as long as it does) would otherwise be walked by 150 collections on
the way, 0.05 s of the stretch the scan's workers wait for. The forkserver makes nothing
after that but workers, and its cycles are few (a collection at the end found 550 of
them). Each worker turns the collector back on as it starts (`pool._started`), with what
it inherits frozen.

Only a forkserver told so (`OFF_IN`, set in its environment by the process starting it
and taken out here, so nothing it forks inherits it) turns it off: any other process
importing every module (the test suite's zygote does) keeps its collector.
"""

from __future__ import annotations

import gc
import os

#: the environment variable by which `pool.start_forkserver_early` tells its forkserver
OFF_IN = "POSTROOM_FORKSERVER_UNSWEPT"

if os.environ.pop(OFF_IN, None) == "1":
    gc.disable()
