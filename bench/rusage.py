#!/usr/bin/python3
"""bench/rusage.py CMD...: run CMD with its stdout discarded, then print its wall time
and CPU time (user + system, from the kernel's accounting of the child) as the
"key value" lines bench/run.sh reads. Exits with CMD's status."""
import os
import resource
import subprocess
import sys
import time

t0 = time.monotonic()
with open(os.devnull, "wb") as null:
    rc = subprocess.call(sys.argv[1:], stdout=null)
wall = time.monotonic() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print("wall_us %d" % int(wall * 1e6))
print("cpu_us %d" % int((ru.ru_utime + ru.ru_stime) * 1e6))
print("maxrss_kb %d" % ru.ru_maxrss)
sys.exit(rc)
