#!/usr/bin/python3
"""A scripted SMTP server that counts from the far side, for ringpost's traffic-shaping tests
(plain asyncio streams, standard library only; run with /usr/bin/python3).

Listens on --host:--port (any 127.0.0.x), prints "ready" once listening, and appends one JSON
object per line to --log, flushed at once. T is time.monotonic() (CLOCK_MONOTONIC, the same clock
as the C++ test's steady_clock), taken when the event happens:
  {"ev":"connect","session":S,"t":T,"concurrent":C,"max_concurrent":M}
        C = sessions open now (this one included), M = the most ever open at once
  {"ev":"disconnect","session":S,"t":T,"by":"client|server","concurrent":C}
        a session stops counting as open when it ends from our side: when we send the 221 to
        QUIT (or a 421 / non-2xx greeting and close), or when the client closes first
  {"ev":"rcpt","session":S,"t":T,"address":A,"reply":"250 2.1.5 Ok"}   every RCPT command
  {"ev":"fault","session":S,"t":T,"phase":P,"arg":ARG,"reply":R}       a scripted reply was sent
  {"ev":"message","session":S,"t":T,"mail_from":F,"rcpts":[...],"subject":SUBJ,"bytes":N}
        one accepted transaction: T is the end of DATA (the final "." read), just before our 250;
        rcpts are the recipients accepted in this transaction, in RCPT order
  {"ev":"rejected","session":S,"t":T,"rcpts":[...],"reply":R}          DATA-END answered non-2xx

Scripted replies, --reply PHASE[:match][+SKIP][#N][@SECONDS]=TEXT (repeatable; first match wins):
  PHASE is CONNECT (the greeting), MAIL, RCPT, DATA (the reply to the DATA command) or DATA-END
  (the reply to the final "."); `match` must occur (case-insensitively) in the command's argument;
  the first SKIP matching commands (counted across all sessions) are answered normally, the next N
  (default: no limit) get TEXT; @SECONDS limits the rule to SECONDS after the first time it fires
  (a period). A 421 TEXT, or any non-2xx greeting, closes the connection after it is sent.
  Example: --reply "MAIL#1=421 4.7.0 Try again later"   (the first MAIL of the run only)
--control FILE: the same specs, one per line, re-read whenever the file changes (checked before
  every reply); they replace the previous control rules (with fresh counters) and are tried
  before the --reply rules. An empty or missing file means no control rules. Write it atomically
  (write a temporary file, then rename).
--delay PHASE=SECONDS: sleep before answering PHASE (e.g. DATA-END=0.05 makes each message slow).

Capabilities: PIPELINING, 8BITMIME, ENHANCEDSTATUSCODES (no CHUNKING: bodies come with DATA).
Every wait is bounded: a session idle for --idle seconds is closed, the process exits after
--lifetime seconds, and one session handles at most 200000 commands.
"""
import asyncio
import os
import re
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from scripted_smtp_base import (Closed, CountedRule, Log, SessionBase, SessionTasks,  # noqa: E402
                                add_bound_args, arg_parser, serve, text)

MAX_LINE = 1024 * 1024
MAX_COMMANDS_PER_SESSION = 200000
PHASES = ("CONNECT", "MAIL", "RCPT", "DATA", "DATA-END")
# The modifiers are recognised only as a numeric suffix, so a match may hold "@", "+" or "#".
RULE_LEFT = re.compile(r"^([A-Za-z-]+)(?::(.*?))?(?:\+(\d+))?(?:#(\d+))?(?:@(\d+(?:\.\d+)?))?$", re.S)


class Rule(CountedRule):
    """PHASE[:match][+SKIP][#N][@SECONDS]=TEXT."""

    def __init__(self, spec):
        left, sep, reply = spec.partition("=")
        if not sep or not reply or len(reply) < 3 or not reply[:3].isdigit():
            raise ValueError("a rule wants PHASE[:match][+SKIP][#N][@SECONDS]=NNN text, got %r" % spec)
        self.spec = spec
        m = RULE_LEFT.match(left)
        if not m:
            raise ValueError("a rule wants PHASE[:match][+SKIP][#N][@SECONDS]=NNN text, got %r" % spec)
        phase, match, skip, n, period = m.groups()
        self.cmd = phase.upper()
        if self.cmd not in PHASES:
            raise ValueError("unknown phase %r in %r (one of %s)" % (phase, spec, ", ".join(PHASES)))
        self.match = (match or "").lower()
        self.skip = int(skip) if skip else 0
        self.remaining = int(n) if n else None
        self.period = float(period) if period else None
        self.reply = reply
        self.first_fired = None


class Session(SessionBase):
    def __init__(self, srv, sid, reader, writer):
        super().__init__(srv, sid, reader, writer)
        self.ended = False
        self.mail = None
        self.rcpts = []

    def end(self, by):
        """The session stops counting as open (idempotent)."""
        if self.ended:
            return
        self.ended = True
        self.srv.open_sessions -= 1
        self.log(ev="disconnect", by=by, concurrent=self.srv.open_sessions)
        self.close_writer()

    async def send(self, line):
        try:
            self.writer.write((line + "\r\n").encode("utf-8"))
            await self.writer.drain()
        except (ConnectionError, OSError):
            self.end("client")
            raise Closed()

    async def readline(self):
        try:
            line = await asyncio.wait_for(self.reader.readuntil(b"\n"), self.srv.args.idle)
        except asyncio.TimeoutError:
            self.end("server")
            raise Closed()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, OSError):
            self.end("client")
            raise Closed()
        return line

    async def answer(self, phase, arg, normal):
        """Sends the scripted reply for this phase if a rule says so, else `normal`. Returns the
        reply sent. A 421 closes the session."""
        delay = self.srv.delays.get(phase)
        if delay:
            await asyncio.sleep(delay)
        scripted = self.srv.scripted(phase, arg)
        reply = scripted if scripted is not None else normal
        if scripted is not None:
            self.log(ev="fault", phase=phase, arg=arg, reply=scripted)
        await self.send(reply)
        if reply.startswith("421") or (phase == "CONNECT" and not reply.startswith("2")):
            self.end("server")
            raise Closed()
        return reply

    async def run(self):
        try:
            await self.answer("CONNECT", "", "220 shaping.test ESMTP shaping_smtp")
            for _ in range(MAX_COMMANDS_PER_SESSION):
                raw = await self.readline()
                line = text(raw).rstrip("\r\n")
                verb, _, arg = line.partition(" ")
                verb = verb.upper()
                if verb in ("EHLO", "HELO"):
                    self.mail, self.rcpts = None, []
                    if verb == "HELO":
                        await self.send("250 shaping.test")
                    else:
                        await self.send("250-shaping.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
                                        "250 ENHANCEDSTATUSCODES")
                elif verb == "MAIL":
                    r = await self.answer("MAIL", arg, "250 2.1.0 Ok")
                    if r.startswith("2"):
                        self.mail, self.rcpts = arg, []
                elif verb == "RCPT":
                    address = arg
                    lt, gt = arg.find("<"), arg.find(">")
                    if 0 <= lt < gt:
                        address = arg[lt + 1:gt]
                    if self.mail is None:
                        r = "503 5.5.1 Error: need MAIL command"
                        await self.send(r)
                    else:
                        r = await self.answer("RCPT", arg, "250 2.1.5 Ok")
                        if r.startswith("2"):
                            self.rcpts.append(address)
                    self.log(ev="rcpt", address=address, reply=r)
                elif verb == "DATA":
                    await self.do_data(arg)
                elif verb == "RSET":
                    self.mail, self.rcpts = None, []
                    await self.send("250 2.0.0 Ok")
                elif verb == "NOOP":
                    await self.send("250 2.0.0 Ok")
                elif verb == "QUIT":
                    await self.send("221 2.0.0 Bye")
                    self.end("server")
                    return
                else:
                    await self.send("502 5.5.2 Error: command not recognized")
            self.end("server")
        except Closed:
            pass

    async def do_data(self, arg):
        if self.mail is None:
            await self.send("503 5.5.1 Error: need MAIL command")
            return
        if not self.rcpts:
            await self.send("554 5.5.1 Error: no valid recipients")
            self.mail = None
            return
        r = await self.answer("DATA", arg, "354 End data with <CR><LF>.<CR><LF>")
        if not r.startswith("354"):
            self.mail, self.rcpts = None, []
            return
        size = 0
        subject = None
        in_headers = True
        while True:
            raw = await self.readline()
            if raw in (b".\r\n", b".\n"):
                break
            size += len(raw)
            if in_headers:
                if raw in (b"\r\n", b"\n"):
                    in_headers = False
                elif subject is None and raw[:8].lower() == b"subject:":
                    subject = text(raw[8:]).strip()
        t_end = time.monotonic()
        mail_from = self.mail
        lt, gt = mail_from.find("<"), mail_from.find(">")
        if 0 <= lt < gt:
            mail_from = mail_from[lt + 1:gt]
        rcpts = self.rcpts
        self.mail, self.rcpts = None, []
        delay = self.srv.delays.get("DATA-END")
        if delay:
            await asyncio.sleep(delay)
        scripted = self.srv.scripted("DATA-END", "")
        if scripted is not None:
            self.log(ev="fault", phase="DATA-END", arg="", reply=scripted)
            self.log(ev="rejected", rcpts=rcpts, reply=scripted)
            await self.send(scripted)
            if scripted.startswith("421"):
                self.end("server")
                raise Closed()
            return
        self.log(ev="message", t=t_end, mail_from=mail_from, rcpts=rcpts, subject=subject, bytes=size)
        await self.send("250 2.0.0 Ok: queued")


class Server:
    def __init__(self, args):
        self.args = args
        self.log = Log(args.log)
        self.rules = [Rule(s) for s in args.reply]
        self.control_rules = []
        self.control_stamp = None
        self.delays = {}
        for d in args.delay:
            phase, _, secs = d.partition("=")
            if phase.upper() not in PHASES:
                raise ValueError("unknown phase in --delay %r" % d)
            self.delays[phase.upper()] = float(secs)
        self.sessions = 0
        self.open_sessions = 0
        self.max_open = 0
        self.tasks = SessionTasks()

    def reload_control(self):
        path = self.args.control
        if not path:
            return
        try:
            st = os.stat(path)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            stamp = None
        if stamp == self.control_stamp:
            return
        self.control_stamp = stamp
        rules = []
        if stamp is not None:
            try:
                with open(path, encoding="utf-8") as f:
                    for line in f.read().splitlines()[:1000]:
                        if line.strip():
                            rules.append(Rule(line.strip()))
            except (OSError, ValueError) as e:
                self.log.write(ev="error", what="control file", detail=str(e))
                rules = []
        self.control_rules = rules
        self.log.write(ev="control", rules=[r.spec for r in rules])

    def scripted(self, phase, arg):
        self.reload_control()
        now = time.monotonic()
        for rule in self.control_rules + self.rules:
            r = rule.take(phase, arg, now)
            if r is not None:
                return r
        return None

    async def on_client(self, reader, writer):
        self.sessions += 1
        self.open_sessions += 1
        self.max_open = max(self.max_open, self.open_sessions)
        s = Session(self, self.sessions, reader, writer)
        s.log(ev="connect", concurrent=self.open_sessions, max_concurrent=self.max_open)
        try:
            await self.tasks.run(s.run())
        finally:
            s.end("server")


async def main():
    p = arg_parser(__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--reply", action="append", default=[])
    p.add_argument("--control", default="")
    p.add_argument("--delay", action="append", default=[])
    add_bound_args(p)
    args = p.parse_args()
    if not args.host.startswith("127."):
        p.error("loopback only: --host must be 127.x.x.x")
    try:
        srv = Server(args)
    except ValueError as e:
        p.error(str(e))
    await serve(srv.on_client, args.host, args.port, args.lifetime, srv.tasks, limit=MAX_LINE, backlog=512)


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
