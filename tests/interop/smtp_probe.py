#!/usr/bin/python3
"""Independent SMTP client (Debian's python3 smtplib) for the interop harness self-tests.

Connects to --host:--port, says EHLO and reports every keyword the server offered; with
--starttls it upgrades (verifying the server certificate against --cafile and the host name or
IP when --cafile is given), says EHLO again and reports again; then sends --count messages,
message i (1-based) to every --rcpt with "Subject: <--subject> <i>". One line per fact:

  ehlo-keyword KEYWORD        (before STARTTLS, upper case)
  tls VERSION CIPHER
  tls-ehlo-keyword KEYWORD    (after STARTTLS)
  sent I MESSAGE-ID
  pipelined-reply CODE TEXT   (--pipeline-anyway, one per reply)
  pipelined-closed            (--pipeline-anyway: the server dropped the connection)
  error TEXT                  (then exit 1)
  done

--pipeline-anyway mail-rcpt|whole sends, in one write and whatever the server offered, MAIL FROM
and RCPT TO (mail-rcpt), or a whole transaction with the content before DATA's 354 and QUIT
(whole), instead of messages, and reports the replies: the check that a server enforces
RFC 2920's rules.

Run with /usr/bin/python3.
"""
import argparse
import email.utils
import smtplib
import ssl
import sys


def keywords(client):
    return sorted(k.upper() for k in client.esmtp_features)


def pipeline_anyway(client, args):
    rcpt = args.rcpt[0]
    if args.pipeline_anyway == "mail-rcpt":
        # A legal command group when PIPELINING is offered (RFC 2920 section 3.1), a
        # synchronization error when it is not.
        payload = "MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\n" % (args.sender, rcpt)
        replies = 2
    else:
        # Never legal: the content is sent before DATA's 354 (RFC 2920 section 3.1, DATA is last).
        payload = ("MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\nSubject: pipelined\r\n\r\nbody\r\n.\r\n"
                   "QUIT\r\n" % (args.sender, rcpt))
        replies = 5
    client.send(payload.encode())
    for _ in range(replies):
        try:
            code, text = client.getreply()
        except smtplib.SMTPServerDisconnected:
            print("pipelined-closed")
            return
        print("pipelined-reply", code, text.decode(errors="replace").replace("\n", " "))
        if code == -1 or code >= 400:
            break
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        pass


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--helo", default="probe.ringpost.test")
    p.add_argument("--sender", default="probe@ringpost.test")
    p.add_argument("--rcpt", action="append", required=True)
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--subject", default="interop probe")
    p.add_argument("--starttls", action="store_true")
    p.add_argument("--cafile")
    p.add_argument("--pipeline-anyway", choices=["mail-rcpt", "whole"])
    args = p.parse_args()

    try:
        client = smtplib.SMTP(args.host, args.port, local_hostname=args.helo, timeout=30)
        client.ehlo()
        for k in keywords(client):
            print("ehlo-keyword", k)
        if args.starttls:
            if args.cafile:
                ctx = ssl.create_default_context(cafile=args.cafile)
            else:
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            client.starttls(context=ctx)
            print("tls", client.sock.version(), client.sock.cipher()[0])
            client.ehlo()
            for k in keywords(client):
                print("tls-ehlo-keyword", k)
        if args.pipeline_anyway:
            pipeline_anyway(client, args)
            print("done")
            return 0
        for i in range(1, args.count + 1):
            msgid = email.utils.make_msgid(domain="probe.ringpost.test")
            msg = (
                "From: <%s>\r\nTo: %s\r\nSubject: %s %d\r\nMessage-ID: %s\r\nDate: %s\r\n\r\n"
                "body of message %d\r\n.leading dot line\r\n"
                % (args.sender, ", ".join("<%s>" % r for r in args.rcpt), args.subject, i, msgid,
                   email.utils.formatdate(), i))
            refused = client.sendmail(args.sender, args.rcpt, msg)
            if refused:
                print("error refused", refused)
                return 1
            print("sent", i, msgid)
        client.quit()
    except (smtplib.SMTPException, OSError, ssl.SSLError) as e:
        print("error", type(e).__name__, e)
        return 1
    print("done")
    return 0


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)
    sys.exit(main())
