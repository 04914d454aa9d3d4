#!/usr/bin/python3
"""A scripted, fault-injecting SMTP server for ringpost's fault tests (plain asyncio streams,
no aiosmtpd: faults must be byte-exact and the log must show TCP read boundaries).

Listens on 127.0.0.1:--port, prints "ready" once listening, and appends one JSON object per
line to --log, flushed at once:
  {"ev":"connect","session":S,"t":T}
  {"ev":"cmd","session":S,"t":T,"line":"RCPT TO:<b@x>","read":R,"arrived":A}   R = which TCP
        read of this session delivered the line's last byte (commands that share R arrived
        together), A = when that read returned (T is when the line was processed, later if
        the line waited behind a delayed reply)
  {"ev":"reply","session":S,"t":T,"line":"250 2.1.5 Ok"}    (multi-line replies joined by \\n)
  {"ev":"fault","session":S,"t":T,"kind":"drop|421|garbage|drop-mid-data|delay|tls-fail","cmd":C}
  {"ev":"bdat","session":S,"t":T,"size":N,"last":bool}
  {"ev":"message","session":S,"t":T,"mode":"DATA|BDAT","complete":bool,"bytes":N,
        "file":PATH,"mail":"FROM:<a@x> SIZE=12","rcpts":[...],"chunks":[...]}
        bytes/file hold the exact payload: for DATA the dot-stuffed lines as received, without
        the final ".\\r\\n"; for BDAT the concatenated chunk bytes. Logged as soon as the
        content ends (before any DATA-END fault); the reply to it, if one was sent, is the
        session's next "reply" event (a "disconnect" or "cmd" first means there was none).
  {"ev":"disconnect","session":S,"t":T,"by":"client|server","during":"command|data|delay:MAIL|..."}
T is time.monotonic(), comparable between lines of the same run.

Faults (--421-after, --drop-after, --drop-mid-data, --stall-mid-data (DATA only), --delay,
--garbage, --close-after-message, --dribble, a non-220 --greeting)
apply to sessions 1..--fault-sessions only (0, the default, = every session), so a test can
make the first attempt fail and the retry succeed. Command names: GREETING, EHLO, HELO, MAIL,
RCPT, DATA (the reply to DATA itself), DATA-END (the reply to the final dot or BDAT LAST),
BDAT (the reply to a non-LAST chunk), RSET, NOOP, QUIT.

--reply CMD[:match][+SKIP][#N]=TEXT overrides the reply to CMD when its argument contains
`match` (case-insensitive): the first SKIP matching commands (across all sessions) are answered
normally, the next N (default: all) get TEXT. A 421 TEXT also closes the connection.
--caps takes a comma list; KEY=VALUE is advertised as "KEY VALUE" (e.g. SIZE=1000 -> "250-SIZE 1000").
STARTTLS is answered 220 and then breaks the handshake (non-TLS bytes, connection closed).
Every wait is bounded: a session idle for --idle seconds is closed, the process exits after
--lifetime seconds, and one session handles at most 100000 commands.
"""
import asyncio
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from scripted_smtp_base import (Closed, CountedRule, Log, SessionBase, SessionTasks,  # noqa: E402
                                add_bound_args, arg_parser, serve, text)

MAX_COMMAND_LINE = 64 * 1024
MAX_DATA_LINE = 1024 * 1024
MAX_COMMANDS_PER_SESSION = 100000
GARBAGE = b"\x00\x16\x03\x01 garbage \xff\xfe not an SMTP reply\r\n"


class ReplyRule(CountedRule):
    """--reply CMD[:match][+SKIP][#N]=TEXT: skip the first SKIP matching commands, then answer
    TEXT to the next N (default: all) instead of the normal reply."""

    def __init__(self, spec):
        left, sep, reply = spec.partition("=")
        if not sep or not reply:
            raise ValueError("--reply wants CMD[:match][+SKIP][#N]=TEXT, got %r" % spec)
        self.remaining = None
        if "#" in left:
            left, _, n = left.rpartition("#")
            self.remaining = int(n)
        self.skip = 0
        if "+" in left:
            left, _, k = left.rpartition("+")
            self.skip = int(k)
        cmd, _, match = left.partition(":")
        self.cmd = cmd.upper()
        self.match = match.lower()
        self.reply = reply


class Session(SessionBase):
    def __init__(self, srv, sid, reader, writer):
        super().__init__(srv, sid, reader, writer)
        self.buf = bytearray()
        self.buf_start = 0       # absolute stream offset of buf[0]
        self.read_ends = []      # (absolute end offset, read number), ascending
        self.reads = 0
        self.gone = False        # disconnect logged
        self.mail = None
        self.rcpts = []
        self.messages = 0
        self.bdat_payload = None  # content of the BDAT transaction in progress
        self.bdat_chunks = []

    # ---- plumbing ---------------------------------------------------------------------

    def faulty(self):
        n = self.srv.args.fault_sessions
        return n == 0 or self.sid <= n

    def disconnect(self, by, during):
        if self.gone:
            return
        self.gone = True
        self.log(ev="disconnect", by=by, during=during)
        self.close_writer()

    async def close(self, during):
        self.disconnect("server", during)
        raise Closed()

    async def fill(self, timeout, during):
        """One read. True: bytes added; None: timed out; raises Closed on EOF/reset."""
        try:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
        except asyncio.TimeoutError:
            return None
        except (ConnectionError, OSError):
            data = b""
        if not data:
            self.disconnect("client", during)
            raise Closed()
        self.reads += 1
        self.buf += data
        self.read_ends.append((self.buf_start + len(self.buf), self.reads, time.monotonic()))
        return True

    def take(self, n):
        """Removes n bytes from the buffer; returns (bytes, (read number, arrival time) of the
        read that delivered the last of them)."""
        out = bytes(self.buf[:n])
        end = self.buf_start + n
        del self.buf[:n]
        self.buf_start = end
        arrival = (self.reads, time.monotonic())
        for e, r, t in self.read_ends:
            if e >= end:
                arrival = (r, t)
                break
        self.read_ends = [x for x in self.read_ends if x[0] > end]
        return out, arrival

    async def readline(self, limit, during):
        deadline = time.monotonic() + self.srv.args.idle
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                return self.take(i + 1)
            if len(self.buf) > limit:
                self.log(ev="fault", kind="line-too-long", cmd=during)
                await self.close(during)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or await self.fill(remaining, during) is None:
                await self.close("idle")

    async def read_exact(self, n, during):
        deadline = time.monotonic() + self.srv.args.idle
        while len(self.buf) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or await self.fill(remaining, during) is None:
                await self.close("idle")
        return self.take(n)[0]

    async def send(self, reply):
        """Sends one reply (str, may hold several lines separated by \\n) or raw bytes."""
        if isinstance(reply, bytes):
            data, shown = reply, text(reply)
        else:
            lines = reply.split("\n")
            data = "".join(l + "\r\n" for l in lines).encode("utf-8")
            shown = reply
        self.log(ev="reply", line=shown)
        try:
            if self.srv.args.dribble and self.faulty():
                # One byte per TCP segment (asyncio sets TCP_NODELAY): the client's reply parser
                # must reassemble replies, multi-line ones included, across many reads.
                for i in range(len(data)):
                    self.writer.write(data[i:i + 1])
                    await self.writer.drain()
                    await asyncio.sleep(0.002)
            else:
                self.writer.write(data)
            await self.writer.drain()
        except (ConnectionError, OSError):
            self.disconnect("client", "write")
            raise Closed()

    async def sleep_watching(self, seconds, during):
        """Sleeps `seconds` while still reading, so a client that gives up is logged when it
        does (not when we next write). Bytes that arrive meanwhile are kept for later."""
        self.log(ev="fault", kind="delay", cmd=during, seconds=seconds)
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            await self.fill(remaining, "delay:" + during)

    def override(self, cmd, arg):
        for rule in self.srv.rules:
            r = rule.take(cmd, arg)
            if r is not None:
                return r
        return None

    async def before_reply(self, cmd):
        """Faults that replace or precede the reply to `cmd`. True: reply normally."""
        a = self.srv.args
        if not self.faulty():
            return True
        if cmd in a.drop_after:
            self.log(ev="fault", kind="drop", cmd=cmd)
            await self.close("drop-after:" + cmd)
        if cmd in a.after_421:
            self.log(ev="fault", kind="421", cmd=cmd)
            await self.send("421 4.3.0 fault.test fault injected, closing connection")
            await self.close("421-after:" + cmd)
        if cmd in self.srv.delays:
            await self.sleep_watching(self.srv.delays[cmd], cmd)
        if cmd in a.garbage:
            self.log(ev="fault", kind="garbage", cmd=cmd)
            await self.send(GARBAGE)
            return False
        return True

    async def reply(self, cmd, arg, default):
        """The reply to cmd after faults; returns the reply sent (None for garbage)."""
        if not await self.before_reply(cmd):
            return None
        r = self.override(cmd, arg) or default
        await self.send(r)
        if r.startswith("421"):
            # RFC 5321 §3.8: 421 announces that the server closes the channel.
            await self.close("421-reply:" + cmd)
        return r

    # ---- the dialogue -----------------------------------------------------------------

    async def run(self):
        self.log(ev="connect")
        a = self.srv.args
        try:
            if self.faulty() and "GREETING" in self.srv.delays:
                await self.sleep_watching(self.srv.delays["GREETING"], "GREETING")
            greeting = a.greeting if (a.greeting and self.faulty()) else "220 fault.test ESMTP fault_smtp"
            if self.faulty() and "GREETING" in a.garbage:
                self.log(ev="fault", kind="garbage", cmd="GREETING")
                await self.send(GARBAGE)
            else:
                await self.send(greeting)
                if greeting.startswith("421"):
                    await self.close("greeting")
            serving = greeting.startswith("220")
            for _ in range(MAX_COMMANDS_PER_SESSION):
                raw, (read_no, arrived) = await self.readline(MAX_COMMAND_LINE, "command")
                line = text(raw.rstrip(b"\r\n"))
                self.log(ev="cmd", line=line, read=read_no, arrived=arrived)
                verb, _, arg = line.partition(" ")
                verb = verb.upper()
                if not serving and verb != "QUIT":
                    await self.send("503 5.5.1 no service")
                    continue
                handler = getattr(self, "do_" + verb, None)
                if handler is None:
                    await self.send("502 5.5.2 command not recognized")
                    continue
                await handler(arg)
            await self.close("too-many-commands")
        except Closed:
            pass
        except Exception as e:  # a bug here must not look like a ringpost failure silently
            self.log(ev="error", error=repr(e))
            self.disconnect("server", "error")

    async def do_EHLO(self, arg):
        # "SIZE=1000" on the command line is the EHLO line "SIZE 1000" (RFC 1870 §4: keyword,
        # space, parameter); a literal "=" would be an unknown keyword to a conforming client.
        caps = [c.replace("=", " ", 1) for c in self.srv.caps]
        default = "\n".join(["250-fault.test"] + ["250-" + c for c in caps[:-1]] + ["250 " + caps[-1]]) \
            if caps else "250 fault.test"
        self.mail, self.rcpts = None, []
        await self.reply("EHLO", arg, default)

    async def do_HELO(self, arg):
        self.mail, self.rcpts = None, []
        await self.reply("HELO", arg, "250 fault.test")

    async def do_NOOP(self, arg):
        await self.reply("NOOP", arg, "250 2.0.0 Ok")

    async def do_RSET(self, arg):
        self.mail, self.rcpts = None, []
        self.bdat_payload = None  # RFC 3030 §2: RSET discards the chunks received so far
        await self.reply("RSET", arg, "250 2.0.0 Ok")

    async def do_STARTTLS(self, arg):
        # Answered 220 (unless --reply overrides it), then the client's TLS ClientHello gets a
        # non-TLS answer and the connection is closed: the handshake always fails. Advertise
        # STARTTLS with --caps to test the opportunistic-TLS fallback.
        r = await self.reply("STARTTLS", arg, "220 2.0.0 Ready to start TLS")
        if r and r.startswith("220"):
            # Wait for the ClientHello (bounded), as a TLS server would, so the garbage is the
            # answer to it and not stray text right behind the 220.
            try:
                await asyncio.wait_for(self.reader.read(4096), timeout=5)
            except (asyncio.TimeoutError, ConnectionError):
                pass
            self.log(ev="fault", kind="tls-fail", cmd="STARTTLS")
            await self.send(GARBAGE)
            await self.close("tls-fail")

    async def do_QUIT(self, arg):
        await self.reply("QUIT", arg, "221 2.0.0 Bye")
        await self.close("quit")

    async def do_MAIL(self, arg):
        if self.mail is not None:
            await self.reply("MAIL", arg, "503 5.5.1 Error: nested MAIL command")
            return
        default = "250 2.1.0 Ok"
        limit = self.srv.size_limit
        if limit is not None:
            for p in arg.split()[1:]:
                k, _, v = p.partition("=")
                if k.upper() == "SIZE" and v.isdigit() and int(v) > limit:
                    default = "552 5.3.4 Message size exceeds fixed limit"
        r = await self.reply("MAIL", arg, default)
        if r is not None and r.startswith("2"):
            self.mail, self.rcpts = arg, []

    async def do_RCPT(self, arg):
        default = "250 2.1.5 Ok" if self.mail is not None else "503 5.5.1 Error: need MAIL command"
        r = await self.reply("RCPT", arg, default)
        if r is not None and r.startswith("2") and self.mail is not None:
            self.rcpts.append(arg)

    def save(self, payload, mode, complete, chunks):
        self.messages += 1
        path = os.path.join(self.srv.args.msgdir, "s%d-m%d%s.eml" % (self.sid, self.messages,
                                                                     "" if complete else ".partial"))
        with open(path, "wb") as f:
            f.write(payload)
        return dict(ev="message", mode=mode, complete=complete, bytes=len(payload), file=path,
                    mail=self.mail, rcpts=list(self.rcpts), chunks=chunks)

    async def finish_message(self, payload, mode, chunks):
        """After the whole message arrived: the log entry, then faults on DATA-END and the reply.
        Logged first so that a client that has seen the reply always finds the message in the
        log (the reply line itself is logged before its bytes are written)."""
        self.log(**self.save(payload, mode, True, chunks))
        mail, rcpts = self.mail, self.rcpts
        self.mail, self.rcpts = None, []
        if not rcpts:
            await self.reply("DATA-END", "", "554 5.5.1 Error: no valid recipients")
        else:
            await self.reply("DATA-END", mail or "", "250 2.0.0 Ok: queued as S%dM%d" % (self.sid, self.messages))
        if self.srv.args.close_after_message and self.faulty():
            # Like a server that drops idle clients at once: no 421, just FIN.
            self.log(ev="fault", kind="close-after-message", cmd="DATA-END")
            await self.close("close-after-message")

    def mid_data_limit(self):
        n = self.srv.args.drop_mid_data
        return n if (n is not None and self.faulty()) else None

    async def do_DATA(self, arg):
        if self.mail is None:
            await self.reply("DATA", arg, "503 5.5.1 Error: need MAIL command")
            return
        if not self.rcpts:
            await self.reply("DATA", arg, "554 5.5.1 Error: no valid recipients")
            self.mail = None
            return
        r = await self.reply("DATA", arg, "354 End data with <CR><LF>.<CR><LF>")
        if r is None or not r.startswith("354"):
            return
        payload = bytearray()
        limit = self.mid_data_limit()
        stall = self.srv.stall if self.faulty() else None
        try:
            while True:
                raw, _ = await self.readline(MAX_DATA_LINE, "data")
                if raw in (b".\r\n", b".\n"):
                    break
                payload += raw
                if stall is not None and len(payload) >= stall[0]:
                    # Stop reading (not even watching for EOF) so that the kernel buffers fill
                    # and the client's writes block: its data-block timeout must fire.
                    self.log(ev="fault", kind="stall", cmd="DATA", bytes=len(payload), seconds=stall[1])
                    await asyncio.sleep(stall[1])
                    stall = None
                if limit is not None and len(payload) >= limit:
                    self.log(ev="fault", kind="drop-mid-data", cmd="DATA", bytes=len(payload))
                    await self.close("data")
        except Closed:
            self.log(**self.save(bytes(payload), "DATA", False, []))
            self.mail, self.rcpts = None, []
            raise
        await self.finish_message(bytes(payload), "DATA", [])

    async def do_BDAT(self, arg):
        # RFC 3030 §2: "BDAT <size> [LAST]", followed by exactly <size> octets.
        parts = arg.split()
        if not parts or not parts[0].isdigit() or len(parts) > 2 or (len(parts) == 2 and parts[1].upper() != "LAST"):
            await self.send("501 5.5.4 Syntax: BDAT <size> [LAST]")
            await self.close("bad-bdat")
        size, last = int(parts[0]), len(parts) == 2
        self.log(ev="bdat", size=size, last=last)
        if self.bdat_payload is None:
            self.bdat_payload, self.bdat_chunks = bytearray(), []
        limit = self.mid_data_limit()
        try:
            if limit is not None and len(self.bdat_payload) + size > limit:
                take = max(limit - len(self.bdat_payload), 0)
                self.bdat_payload += await self.read_exact(take, "data")
                self.log(ev="fault", kind="drop-mid-data", cmd="BDAT", bytes=len(self.bdat_payload))
                await self.close("data")
            chunk = await self.read_exact(size, "data")
        except Closed:
            self.log(**self.save(bytes(self.bdat_payload), "BDAT", False, self.bdat_chunks))
            self.bdat_payload = None
            self.mail, self.rcpts = None, []
            raise
        self.bdat_payload += chunk
        self.bdat_chunks.append(size)
        if self.mail is None:
            self.bdat_payload = None
            await self.reply("BDAT", arg, "503 5.5.1 Error: need MAIL command")
            return
        if not last:
            await self.reply("BDAT", arg, "250 2.0.0 %d octets received" % size)
            return
        payload, chunks = bytes(self.bdat_payload), self.bdat_chunks
        self.bdat_payload = None
        await self.finish_message(payload, "BDAT", chunks)


class Server:
    def __init__(self, args):
        self.args = args
        self.log = Log(args.log)
        self.rules = [ReplyRule(s) for s in args.reply]
        self.delays = {}
        for d in args.delay:
            cmd, _, secs = d.partition("=")
            self.delays[cmd.upper()] = float(secs)
        self.caps = [c for c in args.caps.split(",") if c] if args.caps else []
        self.size_limit = None
        for c in self.caps:
            k, _, v = c.partition("=")
            if k.upper() == "SIZE" and v.isdigit() and int(v) > 0:
                self.size_limit = int(v)
        self.stall = None
        if args.stall_mid_data:
            n, _, secs = args.stall_mid_data.partition("=")
            self.stall = (int(n), float(secs))
        self.sessions = 0
        self.tasks = SessionTasks()

    async def on_client(self, reader, writer):
        self.sessions += 1
        s = Session(self, self.sessions, reader, writer)
        try:
            await self.tasks.run(s.run())
        finally:
            s.close_writer()


async def main():
    p = arg_parser(__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--msgdir", required=True)
    p.add_argument("--caps", default="PIPELINING,8BITMIME,ENHANCEDSTATUSCODES")
    p.add_argument("--greeting", default="")
    p.add_argument("--reply", action="append", default=[])
    p.add_argument("--421-after", dest="after_421", action="append", default=[], type=str.upper)
    p.add_argument("--drop-after", action="append", default=[], type=str.upper)
    p.add_argument("--drop-mid-data", type=int, default=None)
    p.add_argument("--delay", action="append", default=[])
    p.add_argument("--stall-mid-data", default="", help="BYTES=SECONDS: stop reading DATA content after BYTES")
    p.add_argument("--garbage", action="append", default=[], type=str.upper)
    p.add_argument("--dribble", action="store_true", help="send every reply one byte at a time")
    p.add_argument("--close-after-message", action="store_true",
                   help="close the connection (no 421) right after replying to each message")
    p.add_argument("--fault-sessions", type=int, default=0)
    add_bound_args(p)
    args = p.parse_args()
    os.makedirs(args.msgdir, exist_ok=True)
    srv = Server(args)
    await serve(srv.on_client, "127.0.0.1", args.port, args.lifetime, srv.tasks)


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
