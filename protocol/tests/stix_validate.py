#!/usr/bin/env python3
"""Validate STIX 2.1 bundles exported by `liaison_protocol::stix`.

Usage: stix_validate.py [-v] BUNDLE.json [BUNDLE.json ...]   (-v lists every warning)

Each file must pass three checks:

1. the OASIS `stix2-validator`: STIX 2.1 JSON schemas, every MUST, every default SHOULD
   check, the strict `custom-prefix` naming check and `enforce_refs`. Any error fails;
   any warning fails too, except the ones in ACCEPTED_WARNINGS, accepted on purpose;
2. the OASIS `stix2` library: `stix2.parse(..., allow_custom=True)` must build the bundle
   and keep every object;
3. self-containment: every `*_ref`/`*_refs` value and every extension-definition key in
   `extensions` names an object in the same bundle (the OASIS TLP 2.0 extension excepted:
   marking definitions name it by its well-known id).

Exit status: 0 all files valid, 1 a file is invalid, 2 usage error or packages missing.
Needs `pip install stix2 stix2-validator`.
"""

import json
import re
import sys

try:
    import stix2
    from stix2validator import ValidationOptions, validate_string
except ImportError as e:  # environment problem, not a bundle problem
    print(
        f"stix_validate.py: {e}. Install the validators with: pip install stix2 stix2-validator",
        file=sys.stderr,
    )
    sys.exit(2)

# SHOULD-level findings accepted on purpose, with the reason. Everything else fails the run.
#
# uuid-check (103): STIX 2.1 section 2.9 says SDOs, SMOs and bundles SHOULD use UUIDv4, and
# allows other versions to producers that use a namespace of their own (never the SCO
# namespace). Liaison's export must be deterministic (same message, byte-identical bundle),
# so its ids are UUIDv5 in Liaison's namespace, named by the message id. Only the "not
# UUIDv4" complaint is accepted; the check that SCOs use UUIDv5 still applies.
ACCEPTED_WARNINGS = [
    ("uuid-check", re.compile(r"\{103\} Given ID value \S+ is not a valid UUIDv4 ID\.$")),
]

TLP2_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"


def accepted(message):
    return any(rx.search(message) for _, rx in ACCEPTED_WARNINGS)


def run_validator(text, n_objects, verbose):
    """Check 1: stix2-validator. Returns a list of problems."""
    options = ValidationOptions(
        version="2.1",
        enabled="all,custom-prefix",
        enforce_refs=True,
        strict=False,
    )
    try:
        results = validate_string(text, options)
    except Exception as e:  # the validator raises on input it cannot process at all
        return [f"stix2-validator raised {type(e).__name__}: {e}"]
    errors = [str(e) for e in results.errors]
    warnings = [str(w) for w in results.warnings]
    kept = [w for w in warnings if not accepted(w)]
    print(
        f"  stix2-validator: {'valid' if results.is_valid else 'INVALID'}, "
        f"{n_objects} object(s), {len(errors)} error(s), {len(warnings)} warning(s) "
        f"of which {len(warnings) - len(kept)} accepted (uuid-check on UUIDv5 ids)"
    )
    if verbose:
        for w in warnings:
            print(f"    {'accepted' if accepted(w) else 'WARNING'}: {w}")
    problems = [f"stix2-validator error: {e}" for e in errors]
    if not results.is_valid and not problems:
        problems.append("stix2-validator: invalid")
    problems += [f"stix2-validator warning: {w}" for w in kept]
    return problems


def run_stix2(text, n_objects):
    """Check 2: the stix2 library parses the bundle and keeps every object."""
    try:
        parsed = stix2.parse(text, allow_custom=True, version="2.1")
    except Exception as e:  # stix2 raises many exception types; all are failures here
        return [f"stix2.parse: {type(e).__name__}: {e}"]
    n = len(parsed.get("objects", []))
    print(f"  stix2.parse: {type(parsed).__name__} with {n} object(s)")
    if n != n_objects:
        return [f"stix2.parse kept {n} of {n_objects} objects"]
    return []


def check_refs(objects):
    """Check 3: references and extension keys resolve inside the bundle."""
    ids = {o.get("id") for o in objects}
    problems = []
    for o in objects:
        oid = o.get("id")
        for key, value in o.items():
            if key.endswith("_refs"):
                refs = value
            elif key.endswith("_ref"):
                refs = [value]
            elif key == "extensions":
                refs = [k for k in value if k.startswith("extension-definition--")]
                refs = [k for k in refs if k != TLP2_EXTENSION]
            else:
                refs = []
            problems += [f"{oid}: {key} -> {r} is not in the bundle" for r in refs if r not in ids]
    return problems


def check_file(path, verbose):
    """Returns the problems found in one bundle file (empty when it is valid)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        bundle = json.loads(text)
    except (OSError, ValueError) as e:
        return [f"cannot read JSON: {e}"]
    if not isinstance(bundle, dict) or bundle.get("type") != "bundle":
        return ["not a STIX bundle (top-level type must be 'bundle')"]
    objects = bundle.get("objects", [])
    return (
        run_validator(text, len(objects), verbose)
        + run_stix2(text, len(objects))
        + check_refs(objects)
    )


def main(argv):
    # Line-buffer so our lines stay in order with anything the libraries log to stderr.
    sys.stdout.reconfigure(line_buffering=True)
    args = argv[1:]
    verbose = bool(args) and args[0] in ("-v", "--verbose")
    if verbose:
        args = args[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    failed = 0
    for path in args:
        print(f"== {path}")
        problems = check_file(path, verbose)
        for p in problems:
            print(f"  FAIL {p}")
        print("  OK" if not problems else f"  INVALID ({len(problems)} problem(s))")
        failed += bool(problems)
    print(f"stix_validate.py: {len(args) - failed} valid, {failed} invalid")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
