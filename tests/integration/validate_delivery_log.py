#!/usr/bin/python3
"""Validates delivery log files line by line against docs/delivery-log.schema.json.

usage: validate_delivery_log.py SCHEMA FILE...

Prints one JSON object: {"lines": N, "errors": ["file:line: message", ...]} and exits 1 when
any line is not JSON or does not match the schema (or the schema itself is invalid), else 0.
Uses Debian's python3-jsonschema only.
"""
import json
import sys

import jsonschema


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    lines = 0
    errors = []
    for path in argv[2:]:
        with open(path, "rb") as f:
            data = f.read()
        if data and not data.endswith(b"\n"):
            errors.append(f"{path}: does not end with a newline (a torn line)")
        for number, raw in enumerate(data.splitlines(), start=1):
            lines += 1
            try:
                doc = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                errors.append(f"{path}:{number}: not JSON: {e}")
                continue
            for e in validator.iter_errors(doc):
                # A line fails oneOf as a whole; the branch for its "type" says what is wrong.
                if e.context:
                    e = jsonschema.exceptions.best_match(e.context)
                where = "/".join(str(p) for p in e.absolute_path) or "(line)"
                errors.append(f"{path}:{number}: {where}: {e.message}")
    print(json.dumps({"lines": lines, "errors": errors[:50]}))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
