#!/usr/bin/python3
"""Independent SMTP client (smtplib) used by the harness self-tests to check that the sink
and scripted-server wrappers count what was really sent. Run with /usr/bin/python3.

Sends --sessions x --per-session messages to 127.0.0.1:--port; message k (0-based, global)
goes to rcpt<k>@<--domain> (plus --extra-rcpts more recipients) with "Subject: msg <k>".
Prints one JSON line per message: {"k":k,"refused":{addr:[code,text]},"error":null|str},
then "done" once everything is sent.
"""
import argparse
import json
import smtplib


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--sessions", type=int, default=1)
    p.add_argument("--per-session", type=int, default=1)
    p.add_argument("--domain", default="sink.test")
    p.add_argument("--extra-rcpts", type=int, default=0)
    args = p.parse_args()
    k = 0
    for _ in range(args.sessions):
        s = smtplib.SMTP("127.0.0.1", args.port, timeout=30)
        s.ehlo("harness.test")
        for _ in range(args.per_session):
            rcpts = ["rcpt%d@%s" % (k, args.domain)]
            rcpts += ["rcpt%d-%d@%s" % (k, j, args.domain) for j in range(args.extra_rcpts)]
            body = "Subject: msg %d\r\nFrom: <sender@harness.test>\r\n\r\nbody of message %d\r\n" % (k, k)
            result = {"k": k, "refused": {}, "error": None}
            try:
                refused = s.sendmail("sender@harness.test", rcpts, body)
                result["refused"] = {a: [c, t.decode()] for a, (c, t) in refused.items()}
            except smtplib.SMTPRecipientsRefused as e:
                result["refused"] = {a: [c, t.decode()] for a, (c, t) in e.recipients.items()}
                result["error"] = "all recipients refused"
                s.rset()
            except smtplib.SMTPException as e:
                result["error"] = str(e)
            print(json.dumps(result), flush=True)
            k += 1
        s.quit()
    print("done", flush=True)


if __name__ == "__main__":
    main()
