#!/usr/bin/env python3
"""Hold policies/wisp-policy.schema.json to the policy key tables.

    check-schema-keys.py SCHEMA KEYS-DUMP-EXE

KEYS-DUMP-EXE prints WISP_POLICY_STREAM_KEYS, WISP_POLICY_RETRY_KEYS and
WISP_POLICY_TRUST_STORE_KEYS (include/wisp/policy.h) one row per line: "table key
kind roles min max dflt". The schema's clientStream and serverStream must list
exactly the stream keys for their role, $defs.retry and $defs.trustStore exactly the
retry and trust store keys, each with the type its kind implies, and for integers
the same range and default. Exit 0 when they agree.
"""
import json
import subprocess
import sys

# Where the schema says more than a range can: a client's port must be 1..65535 (the
# loader checks that when the stream closes, since the table row is shared with
# servers, which may use 0), and a default that depends on "tls" is not a constant.
CLIENT_MIN = {"port": 1}
NO_DEFAULT = {"port"}


def resolve(schema, node):
    """The property schema with a top-level $ref merged in (its own keys win)."""
    while "$ref" in node:
        target = schema
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        merged = dict(target)
        merged.update({k: v for k, v in node.items() if k != "$ref"})
        node = merged
    return node


def check_row(schema, role, key, kind, lo, hi, dflt, prop):
    p = resolve(schema, prop)
    errors = []

    def want(cond, what):
        if not cond:
            errors.append(f"{role}.{key} ({kind}): {what}; schema has {json.dumps(prop)}")

    if kind == "BOOL":
        want(p.get("type") == "boolean" or "const" in p, "a boolean")
        if "default" in p:
            want(p["default"] == bool(dflt), f"default {bool(dflt)}")
        elif key != "server":
            want(False, f"default {bool(dflt)}")
    elif kind == "DELAYS":
        items = resolve(schema, p.get("items", {}))
        want(p.get("type") == "array" and p.get("minItems") == 1, "an array of 1 or more")
        want(items.get("minimum") == lo and items.get("maximum") == hi, f"items {lo}..{hi}")
    elif kind == "CONCEAL":
        ints = [o for o in p.get("oneOf", []) if o.get("type") == "integer"]
        want(len(ints) == 1 and ints[0].get("minimum") == lo and ints[0].get("maximum") == hi,
             f"an integer {lo}..{hi}")
        want({"const": "forever"} in p.get("oneOf", []), 'or "forever"')
    elif kind == "CERTS":
        want(p.get("type") == "array" and p.get("items", {}).get("$ref") == "#/$defs/name",
             "an array of names")
    elif kind == "UINT":
        if "enum" in p:
            vals = p["enum"]
            want(all(isinstance(v, int) for v in vals), "integers")
            want(min(vals) == lo and max(vals) == hi, f"range {lo}..{hi}")
        else:
            want(p.get("type") == "integer", "an integer")
            want(p.get("minimum") == (CLIENT_MIN.get(key, lo) if role == "client" else lo),
                 f"minimum {lo}")
            want(p.get("maximum") == hi, f"maximum {hi}")
        if key in NO_DEFAULT:
            want("default" not in p, "no constant default")
        else:
            want(p.get("default") == dflt, f"default {dflt}")
    elif kind == "ENUM":
        want(isinstance(p.get("enum"), list) and all(isinstance(v, str) for v in p["enum"]),
             "an enum of strings")
    elif kind in ("HOST", "URL"):
        want(p.get("type") == "string", "a string")
    elif kind in ("TRUST", "CERT", "KEY", "RETRY"):
        want(prop.get("$ref") == "#/$defs/name", "a name ($defs/name)")
    elif kind in ("HEADERS", "METADATA"):
        want(p.get("type") == "object", "an object")
    elif kind == "STATUS":
        want(p.get("type") == "array" and p.get("minItems") == 2 and p.get("maxItems") == 2,
             "an array of two")
    else:
        want(False, "a known kind")
    return errors


def main(argv):
    with open(argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    rows = subprocess.run([argv[2]], check=True, capture_output=True, text=True).stdout
    table = [line.split() for line in rows.splitlines() if line.strip()]
    errors = []
    for role, tname, roles, defn in (("client", "stream", ("CLIENT", "BOTH"), "clientStream"),
                                     ("server", "stream", ("SERVER", "BOTH"), "serverStream"),
                                     ("retry", "retry", ("-",), "retry"),
                                     ("trust", "trust", ("-",), "trustStore")):
        props = schema["$defs"][defn]["properties"]
        rows_of = [r[1:] for r in table if r[0] == tname]
        keys = {r[0] for r in rows_of if r[2] in roles}
        for extra in sorted(set(props) - keys):
            errors.append(f"{role}.{extra}: in the schema, not in the {tname} key table")
        for missing in sorted(keys - set(props)):
            errors.append(f"{role}.{missing}: in the {tname} key table, not in the schema")
        for key, kind, r, lo, hi, dflt in rows_of:
            if r in roles and key in props:
                errors += check_row(schema, role, key, kind, int(lo), int(hi), int(dflt),
                                    props[key])
    for e in errors:
        print(e)
    print(f"check-schema-keys: {len(table)} keys, {len(errors)} mismatch(es)")
    return 1 if errors or not table else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
