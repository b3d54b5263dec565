"""The code location, loaded on import: for the multiprocess executor's forkserver alone (defs/execution.py).

The forkserver imports this module once per run, before it forks a process for each step; the steps' processes
then start with the definitions built (signals_assets.definitions.preload) rather than each loading the code
location again. Nothing else imports it.
"""

from signals_assets.definitions import preload

preload()
