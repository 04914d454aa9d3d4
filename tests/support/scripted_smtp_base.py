"""What the scripted asyncio SMTP servers of ringpost's tests share (tests/faults/fault_smtp.py,
tests/shaping/shaping_smtp.py; standard library only, run with /usr/bin/python3): the JSON-lines
event log, the session plumbing, the counting part of a scripted-reply rule, and the serve loop
with its --idle / --lifetime bounds. Each script keeps its own dialogue, rule syntax and log
events; this module only holds what would otherwise be written twice.

A script finds it through sys.path relative to its own file (tests/<area>/x.py ->
tests/support/), so it runs from the source tree with no installation.
"""
import argparse
import asyncio
import json
import signal
import time


def text(b):
    """Bytes from the wire as a str for the log: invalid UTF-8 shows as \\xNN escapes."""
    return b.decode("utf-8", errors="backslashreplace")


class Log:
    """One JSON object per line, flushed at once, so a test reading the file while the server
    runs sees every event that has happened. "t" is time.monotonic() at the write unless the
    event brings its own (taken when the event happened)."""

    def __init__(self, path):
        self._f = open(path, "a", encoding="utf-8")

    def write(self, **event):
        if "t" not in event:
            event["t"] = time.monotonic()
        self._f.write(json.dumps(event, sort_keys=True, ensure_ascii=False) + "\n")
        self._f.flush()


class Closed(Exception):
    """The session is over (the client went away, or we closed it)."""


class SessionBase:
    """One client connection: the server object it belongs to (with .log, a Log), its session
    number (1, 2, ... in accept order) and its streams."""

    def __init__(self, srv, sid, reader, writer):
        self.srv, self.sid, self.reader, self.writer = srv, sid, reader, writer

    def log(self, **ev):
        self.srv.log.write(session=self.sid, **ev)

    def close_writer(self):
        """Closes the connection; it may be gone already."""
        try:
            self.writer.close()
        except Exception:
            pass


class CountedRule:
    """The counting half of a scripted reply: `reply` answers command `cmd` when `match` occurs
    (case-insensitively) in its argument, after the first `skip` matching commands (counted
    across all sessions) were answered normally, for the next `remaining` of them (None: no
    limit) and, given a `period`, only within `period` seconds of the first time it fired.
    Subclasses parse their script's rule syntax and set these fields."""

    cmd = ""
    match = ""
    skip = 0
    remaining = None
    period = None
    reply = ""
    first_fired = None

    def take(self, cmd, arg, now=None):
        """The scripted reply for this command, or None to answer normally. `now`
        (time.monotonic()) is needed only by a rule with a period."""
        if cmd != self.cmd or self.match not in arg.lower():
            return None
        if self.period is not None and self.first_fired is not None and now - self.first_fired > self.period:
            return None
        if self.skip > 0:
            self.skip -= 1
            return None
        if self.remaining is not None:
            if self.remaining <= 0:
                return None
            self.remaining -= 1
        if self.first_fired is None:
            self.first_fired = now
        return self.reply


class SessionTasks:
    """The tasks of the sessions in progress, so that shutdown can cancel them."""

    def __init__(self):
        self.tasks = set()

    async def run(self, session_coro):
        """Runs one session's coroutine in the calling (connection) task, registered meanwhile."""
        task = asyncio.current_task()
        self.tasks.add(task)
        try:
            await session_coro
        finally:
            self.tasks.discard(task)

    def cancel_all(self):
        for t in list(self.tasks):
            t.cancel()


def arg_parser(doc):
    """The script's parser, with its docstring as --help."""
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def add_bound_args(p):
    """--idle and --lifetime: every wait of a scripted server is bounded."""
    p.add_argument("--idle", type=float, default=120.0)
    p.add_argument("--lifetime", type=float, default=900.0)


async def serve(on_client, host, port, lifetime, tasks, **start_kwargs):
    """Listens on host:port, prints "ready" once listening, serves until SIGTERM / SIGINT or for
    at most `lifetime` seconds (then prints "lifetime over"), then stops listening and cancels
    the sessions still running (`tasks`, a SessionTasks)."""
    server = await asyncio.start_server(on_client, host, port, reuse_address=True, **start_kwargs)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    try:
        await asyncio.wait_for(stop.wait(), lifetime)
    except asyncio.TimeoutError:
        print("lifetime over", flush=True)
    server.close()
    tasks.cancel_all()
    await asyncio.sleep(0)
