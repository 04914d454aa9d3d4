#!/usr/bin/python3
"""A scripted SMTP server for ringpost integration tests (aiosmtpd; run with /usr/bin/python3).

Behaviour is chosen with --mode:
  accept               accept every recipient and message
  tempfail-first N     answer "451 4.7.1" to RCPT for the first N attempts per recipient,
                       then accept (attempts are counted per address, across sessions)
  reject               answer "550 5.1.1" to every RCPT

Every event is appended to --log as one JSON object per line and flushed at once, so the
test reads what this server saw from the far side:
  {"event":"connect","session":S}        {"event":"disconnect","session":S}
  {"event":"rcpt","session":S,"address":A,"attempt":K,"reply":"451 ..."}
  {"event":"message","session":S,"mail_from":F,"rcpt_tos":[...],"size":B,"subject":...}
Prints "ready" on stdout once listening. Stops on SIGTERM/SIGINT.
"""
import argparse
import asyncio
import email.parser
import itertools
import json
import signal
import sys

from aiosmtpd.smtp import SMTP


class Log:
    def __init__(self, path):
        self._f = open(path, "a", encoding="utf-8")

    def write(self, **event):
        self._f.write(json.dumps(event, sort_keys=True) + "\n")
        self._f.flush()


class Handler:
    def __init__(self, mode, first_n, log):
        self.mode = mode
        self.first_n = first_n
        self.log = log
        self.attempts = {}  # address (lower-cased) -> RCPT commands seen

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        # Our 4xx/5xx replies carry RFC 3463 codes, so say so (RFC 2034).
        responses.insert(-1, "250-ENHANCEDSTATUSCODES")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        key = address.lower()
        attempt = self.attempts.get(key, 0) + 1
        self.attempts[key] = attempt
        if self.mode == "reject":
            reply = "550 5.1.1 <%s>: Recipient address rejected: no such user" % address
        elif self.mode == "tempfail-first" and attempt <= self.first_n:
            reply = "451 4.7.1 <%s>: try again later (attempt %d)" % (address, attempt)
        else:
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(rcpt_options)
            reply = "250 2.1.5 Ok"
        self.log.write(event="rcpt", session=session.ringpost_id, address=address, attempt=attempt, reply=reply)
        return reply

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content or b""
        msg = email.parser.BytesHeaderParser().parsebytes(content)
        self.log.write(event="message", session=session.ringpost_id, mail_from=envelope.mail_from,
                       rcpt_tos=list(envelope.rcpt_tos), size=len(content),
                       subject=msg.get("Subject"), message_id=msg.get("Message-ID"))
        return "250 2.0.0 Ok: queued"


class CountingSMTP(SMTP):
    """Gives each session a number and logs connects and disconnects."""

    counter = itertools.count(1)
    log = None

    def connection_made(self, transport):
        super().connection_made(transport)
        self.session.ringpost_id = next(CountingSMTP.counter)
        CountingSMTP.log.write(event="connect", session=self.session.ringpost_id)

    def connection_lost(self, error):
        sid = getattr(self.session, "ringpost_id", None) if self.session else None
        CountingSMTP.log.write(event="disconnect", session=sid)
        super().connection_lost(error)


async def serve(args):
    log = Log(args.log)
    CountingSMTP.log = log
    handler = Handler(args.mode, args.first_n, log)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: CountingSMTP(handler, hostname="scripted.test", ident="scripted-smtp"),
        host=args.host, port=args.port, reuse_address=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    await stop.wait()
    server.close()
    await server.wait_closed()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--log", required=True, help="JSON-lines event log (appended)")
    p.add_argument("--mode", nargs="+", default=["accept"],
                   help="accept | reject | tempfail-first N")
    args = p.parse_args()
    args.first_n = 0
    mode = args.mode
    if mode[0] == "tempfail-first" and len(mode) == 2 and mode[1].isdigit():
        args.mode, args.first_n = "tempfail-first", int(mode[1])
    elif mode[0] in ("accept", "reject") and len(mode) == 1:
        args.mode = mode[0]
    else:
        p.error("bad --mode %r" % " ".join(mode))
    asyncio.run(serve(args))


if __name__ == "__main__":
    sys.exit(main())
