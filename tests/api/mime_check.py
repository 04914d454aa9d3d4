#!/usr/bin/python3
"""Parses one rendered message with Python's email package and prints what a mail reader
would see, as JSON: decoded subject and address fields, the MIME tree, and every leaf part's
headers and decoded bytes. Used by message_python_test.cc as an independent decoder: nothing
here shares code with the renderer, so agreement means the message is readable, not merely
self-consistent.

usage: mime_check.py MESSAGE_FILE
"""
import base64
import email
import email.policy
import json
import sys


def addresses(msg, name):
    header = msg[name]
    if header is None:
        return None
    return [{"name": a.display_name, "address": a.addr_spec} for a in header.addresses]


def tree(part):
    if part.is_multipart():
        return "%s(%s)" % (part.get_content_type(), ",".join(tree(p) for p in part.iter_parts()))
    return part.get_content_type()


def main():
    with open(sys.argv[1], "rb") as f:
        raw = f.read()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    defects = [repr(d) for d in msg.defects]
    leaves = []
    for part in msg.walk():
        defects += ["%s: %r" % (part.get_content_type(), d) for d in part.defects]
        for name in part.keys():
            # Header parsing defects show up on the parsed header objects.
            defects += ["%s %s: %r" % (part.get_content_type(), name, d) for d in getattr(part[name], "defects", ())]
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        leaves.append({
            "content_type": part.get_content_type(),
            "charset": part.get_content_charset(),
            "cte": part.get("Content-Transfer-Encoding"),
            "disposition": part.get_content_disposition(),
            "filename": part.get_filename(),
            "name_param": part.get_param("name"),
            "content_id": part.get("Content-ID"),
            "bytes_b64": base64.b64encode(payload).decode("ascii"),
            "text": part.get_content() if part.get_content_maintype() == "text" else None,
        })
    related = [p for p in msg.walk() if p.get_content_type() == "multipart/related"]
    out = {
        "defects": defects,
        "subject": msg["Subject"] and str(msg["Subject"]),
        "from": addresses(msg, "From"),
        "to": addresses(msg, "To"),
        "cc": addresses(msg, "Cc"),
        "reply_to": addresses(msg, "Reply-To"),
        "bcc_present": msg["Bcc"] is not None,
        "message_id": msg["Message-ID"] and str(msg["Message-ID"]),
        "date": msg["Date"] and str(msg["Date"]),
        "tree": tree(msg),
        "related_type": related[0].get_param("type") if related else None,
        "leaves": leaves,
    }
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
