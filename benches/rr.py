#!/usr/bin/env python3
"""Paired CPU time of commands that run in a few milliseconds.

On a shared machine a command's time drifts from one minute to the next,
so timing one command after the other (as hyperfine does) compares
different moments. This runs each command `perf stat -r 30` in turn, for
ROUNDS rounds, and prints the median of each one's task-clock over the
rounds.

usage: benches/rr.py ROUNDS CMD...   (each CMD one string, split on spaces)
"""
import re
import statistics
import subprocess
import sys


def task_clock(cmd):
    run = subprocess.run(
        ["perf", "stat", "-r", "30", "-x,", "-e", "task-clock"] + cmd.split(),
        capture_output=True,
        text=True,
    )
    found = re.search(r"^([0-9.]+),msec,task-clock", run.stderr, re.M)
    if not found:
        sys.exit(f"perf stat gave no task-clock for {cmd!r}:\n{run.stderr}")
    return float(found.group(1))


def main():
    rounds, cmds = int(sys.argv[1]), sys.argv[2:]
    times = {cmd: [] for cmd in cmds}
    for _ in range(rounds):
        for cmd in cmds:
            times[cmd].append(task_clock(cmd))
    for cmd in cmds:
        print(f"{statistics.median(times[cmd]):.3f} ms  {cmd}")


if __name__ == "__main__":
    main()
