"""`dagster ...` as a user runs it, with numerapi's server address pointed at a loopback stand-in and, when a
test sets one, the process's clock.

numerapi reads its server from the module constant `numerapi.base_api.API_TOURNAMENT_URL` (no setting
or environment variable), so a test that starts the real CLI in its own process sets it here from
FAKE_NUMERAI_URL first: `python -m signals_assets_tests.dagster_cli asset materialize ...`. FAKE_NOW (an ISO
instant) starts the process's wall clock there, ticking on (time-machine: the clock every `datetime.now` and
`time.time` reads; sleeps and timeouts keep real time), as when the schedule's tick runs the week.
"""

import os
import sys
from datetime import datetime

import numerapi.base_api
from dagster._cli import main

if __name__ == "__main__":
    if os.environ.get("FAKE_NUMERAI_URL"):
        numerapi.base_api.API_TOURNAMENT_URL = os.environ["FAKE_NUMERAI_URL"]
    if os.environ.get("FAKE_NOW"):
        import time_machine

        time_machine.travel(datetime.fromisoformat(os.environ["FAKE_NOW"]), tick=True).start()
    sys.argv[0] = "dagster"
    sys.exit(main())
