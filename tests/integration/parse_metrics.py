#!/usr/bin/python3
"""Parses a /metrics page with the Prometheus client's own text-format parser (Debian
python3-prometheus-client) and prints what it understood as one JSON object, so the C++
test checks values the way a Prometheus server would read them, not as our renderer meant them.

Output: {"families": {family: type}, "samples": [[sample_name, {label: value}, value], ...]}.
Exit 1 (with the parser's complaint on stderr) when the page does not parse."""
import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families


def main() -> int:
    text = open(sys.argv[1], encoding="utf-8").read()
    families, samples = {}, []
    try:
        for fam in text_string_to_metric_families(text):
            if fam.name in families:
                raise ValueError(f"family {fam.name} appears twice")
            families[fam.name] = fam.type
            for s in fam.samples:
                v = s.value
                samples.append([s.name, s.labels, "+Inf" if math.isinf(v) else v])
    except Exception as e:  # the parser raises ValueError and friends on malformed input
        print(f"parse error: {e!r}", file=sys.stderr)
        return 1
    print(json.dumps({"families": families, "samples": samples}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
