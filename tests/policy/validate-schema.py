#!/usr/bin/env python3
"""Validate wisp policies against policies/wisp-policy.schema.json.

    validate-schema.py SCHEMA VALID.json... [--invalid INVALID.json...]

Uses a real JSON Schema validator (python3-jsonschema, Draft 2020-12): the schema
must itself be a valid 2020-12 schema, every VALID file must validate, and every
INVALID file must not (so the schema cannot pass by accepting everything).
Exit status 0 on success, 1 on any failure.
"""
import json
import sys

try:
    import jsonschema
except ImportError:
    print("validate-schema: python3-jsonschema is not installed (run scripts/install-deps.sh)")
    sys.exit(1)


def main(argv):
    schema_path, rest = argv[1], argv[2:]
    valid, invalid = rest, []
    if "--invalid" in rest:
        i = rest.index("--invalid")
        valid, invalid = rest[:i], rest[i + 1:]
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    validator_class = jsonschema.Draft202012Validator
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    failed = 0
    for path in valid:
        with open(path, encoding="utf-8") as f:
            errors = sorted(validator.iter_errors(json.load(f)), key=lambda e: list(e.path))
        for e in errors:
            where = ".".join(str(p) for p in e.path) or "(root)"
            print(f"{path}: {where}: {e.message}")
        failed += bool(errors)
    for path in invalid:
        with open(path, encoding="utf-8") as f:
            if validator.is_valid(json.load(f)):
                print(f"{path}: accepted by the schema, but it is invalid")
                failed += 1
    print(f"validate-schema: {len(valid)} valid and {len(invalid)} invalid policies checked, "
          f"{failed} failure(s)")
    return 1 if failed or not valid else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
