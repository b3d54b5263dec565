"""`dagster ...` as a user runs it, with numerapi's server address pointed at a loopback stand-in.

numerapi reads its server from the module constant `numerapi.base_api.API_TOURNAMENT_URL` (no setting
or environment variable), so a test that starts the real CLI in its own process sets it here from
FAKE_NUMERAI_URL first: `python -m signals_assets_tests.dagster_cli asset materialize ...`.
"""

import os
import sys

import numerapi.base_api
from dagster._cli import main

if __name__ == "__main__":
    if os.environ.get("FAKE_NUMERAI_URL"):
        numerapi.base_api.API_TOURNAMENT_URL = os.environ["FAKE_NUMERAI_URL"]
    sys.argv[0] = "dagster"
    sys.exit(main())
