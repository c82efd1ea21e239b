#!/usr/bin/env python3
"""Check a Liaison inclusion or consistency proof file independently of Liaison's code, from docs/AUDIT.md.

Usage: audit_check.py --ca CA.crt [--ca CA.crt ...] [--tamper-test] PROOF.json

A consistency proof file (`liaison audit consistency --out`, format
liaison-consistency-proof/1) is checked instead as follows: the node certificates as below;
both notes open with the node's key, with the sizes the file states; and the proof shows the
newer tree extends the older one (RFC 9162 section 2.1.4.2). Its --tamper-test flips a bit
of a proof hash, and swaps the two notes.

Checks, in order: every node certificate is signed by one of the given network CAs (the
CA of the network its node id names) and all name the same node; the checkpoint note's
origin is `liaison/<node id>`; the node's signature line verifies over the note body; and
every entry's leaf is included in the tree the checkpoint signs (RFC 9162 section 2.1.3.2),
starts with leaf version 1, states its own index, and has an event about the message.

--tamper-test checks the file as above, then checks that a copy with one bit of a path
hash flipped, and a copy with one bit of the node's signature flipped, are both rejected.

Exit status: 0 the proof holds (OK ...), 1 it does not (FAILED: ...), 2 usage error or the
`cryptography` package is missing. Uses only the standard library and `cryptography`.
"""

import argparse
import base64
import binascii
import copy
import datetime
import hashlib
import json
import re
import sys

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    from cryptography.x509.oid import NameOID
except ImportError as e:  # environment problem, not a proof problem
    print(f"audit_check.py: {e}. Install it with: pip install cryptography", file=sys.stderr)
    sys.exit(2)

FORMAT = "liaison-inclusion-proof/1"
CONSISTENCY_FORMAT = "liaison-consistency-proof/1"
LEAF_VERSION = 1
SIG_PREFIX = "\u2014 "  # em dash and a space
PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


class Invalid(Exception):
    """The proof does not hold; the message says where."""


def b64(text, what):
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError, TypeError) as e:
        raise Invalid(f"{what} is not base64: {e}") from None


def leaf_hash(leaf):
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def utc(cert, field):
    """A validity bound as an aware datetime (`*_utc` since cryptography 42)."""
    t = getattr(cert, field + "_utc", None)
    return t if t is not None else getattr(cert, field).replace(tzinfo=datetime.timezone.utc)


def not_before(c):
    return utc(c, "not_valid_before")


def not_after(c):
    return utc(c, "not_valid_after")


def raw_ed25519(public_key, what):
    if not isinstance(public_key, Ed25519PublicKey):
        raise Invalid(f"{what}: not an Ed25519 key")
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def load_cas(paths):
    """Network CAs by network name (the CA's subject common name)."""
    cas = {}
    for path in paths:
        with open(path, "rb") as f:
            blocks = PEM_CERT.findall(f.read())
        if not blocks:
            raise Invalid(f"{path}: no PEM certificate")
        for pem in blocks:
            ca = x509.load_pem_x509_certificate(pem)
            try:
                bc = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
            except x509.ExtensionNotFound:
                raise Invalid(f"{path}: not a CA certificate (no basic constraints)") from None
            if not bc.ca:
                raise Invalid(f"{path}: not a CA certificate")
            cns = ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            if len(cns) != 1:
                raise Invalid(f"{path}: a network CA has one common name (its network)")
            cas[cns[0].value] = ca
    return cas


def node_key(der, cas, i):
    """(node id, raw Ed25519 key) of a node certificate signed by its network's CA."""
    try:
        cert = x509.load_der_x509_certificate(der)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except (ValueError, x509.ExtensionNotFound) as e:
        raise Invalid(f"node certificate {i}: {e}") from None
    names = sans.value.get_values_for_type(x509.DNSName)
    if len(names) != 1 or names[0].count(".") != 1:
        raise Invalid(f"node certificate {i}: names no single node id <centre>.<network>")
    node = names[0]
    network = node.split(".")[1]
    ca = cas.get(network)
    if ca is None:
        raise Invalid(f"node certificate {i}: {node} is in network {network}, no CA given for it")
    if cert.issuer != ca.subject:
        raise Invalid(f"node certificate {i}: not issued by the CA of {network}")
    try:
        ca.public_key().verify(cert.signature, cert.tbs_certificate_bytes)
    except InvalidSignature:
        raise Invalid(f"node certificate {i}: the CA's signature does not verify") from None
    if not not_before(ca) <= not_before(cert) <= not_after(ca):
        raise Invalid(f"node certificate {i}: issued outside its CA's validity")
    return node, raw_ed25519(cert.public_key(), f"node certificate {i}")


def key_id(name, public_key):
    return hashlib.sha256(name.encode() + b"\n\x01" + public_key).digest()[:4]


def open_note(note, origin, keys):
    """(body, size, root) of a checkpoint note signed by one of `keys` (raw Ed25519)."""
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise Invalid("checkpoint: not a signed note (no blank line before the signatures)")
    body, lines = note[: split + 1], note[split + 2 : -1].split("\n")
    ids = {key_id(origin, k): k for k in keys}
    good = 0
    for line in lines:
        if not line.startswith(SIG_PREFIX) or line.count(" ") != 2:
            raise Invalid(f"checkpoint: malformed signature line {line!r}")
        name, sig = line[len(SIG_PREFIX) :].split(" ")
        raw = b64(sig, "checkpoint: a signature")
        if name != origin or raw[:4] not in ids:
            continue  # another key's signature (a cosignature): not checked here
        try:
            Ed25519PublicKey.from_public_bytes(ids[raw[:4]]).verify(raw[4:], body.encode())
        except InvalidSignature:
            who = f"{origin}+{raw[:4].hex()}"
            raise Invalid(f"checkpoint: the signature by {who} does not verify") from None
        good += 1
    if not good:
        raise Invalid(f"checkpoint: no signature by {origin} with a key of its certificates")
    parts = body[:-1].split("\n")
    if len(parts) < 3:
        raise Invalid("checkpoint: the body needs an origin, a size and a root hash")
    if parts[0] != origin:
        raise Invalid(f"checkpoint: the note's origin is {parts[0]!r}, not {origin!r}")
    if not re.fullmatch(r"0|[1-9][0-9]*", parts[1]):
        raise Invalid(f"checkpoint: bad tree size {parts[1]!r}")
    root = b64(parts[2], "checkpoint: the root hash")
    if len(root) != 32:
        raise Invalid("checkpoint: the root hash is not 32 bytes")
    return body, int(parts[1]), root


def verify_inclusion(h, index, size, path, root):
    """RFC 9162 section 2.1.3.2; returns a problem, or None."""
    if index >= size:
        return f"index {index} is outside a tree of {size}"
    fn, sn, r = index, size - 1, h
    for p in path:
        if sn == 0:
            return "the path is too long"
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        return "the path is too short"
    return None if r == root else "the path leads to a different root"


def varint(b, at):
    """A postcard (LEB128) unsigned varint at `at`: (value, next position)."""
    value = shift = 0
    for i in range(at, min(len(b), at + 10)):
        value |= (b[i] & 0x7F) << shift
        shift += 7
        if not b[i] & 0x80:
            return value, i + 1
    raise Invalid("a leaf holds a bad varint")


def leaf_index_and_ids(leaf):
    """A leaf's stated index and the message ids its event is about (AUDIT.md section 3)."""
    if not leaf or leaf[0] != LEAF_VERSION:
        raise Invalid(f"leaf version is not {LEAF_VERSION}")
    index, at = varint(leaf, 1)
    _, at = varint(leaf, at)  # the time the node logged it
    event, at = varint(leaf, at)

    def ids(at, n):
        if at + 32 * n > len(leaf):
            raise Invalid("a leaf ends inside a message id")
        return [leaf[at + 32 * i : at + 32 * (i + 1)] for i in range(n)]

    if event in (0, 1, 2, 7, 9):  # Sent, Received, Relayed (msg.id first), Acknowledged, Purged
        return index, ids(at, 1)
    if event == 3:  # Refused: id is an Option
        return index, ids(at + 1, 1) if leaf[at : at + 1] == b"\x01" else []
    if event in (4, 5):  # ReceiptSent/ReceiptReceived: receipt, peer, status, ids
        length, at = varint(leaf, at + 32)
        _, at = varint(leaf, at + length)
        count, at = varint(leaf, at)
        return index, ids(at, count)
    if event == 6:  # RefusalReceived: refusal, then the refused message's id
        return index, ids(at + 32, 1)
    if event == 8:  # Admin
        return index, []
    raise Invalid(f"unknown event variant {event}")


def check(proof, cas):
    """Checks a proof file (parsed JSON); returns a one-line summary or raises Invalid."""
    if not isinstance(proof, dict) or proof.get("format") != FORMAT:
        raise Invalid(f"not a {FORMAT} file")
    message = proof.get("message", "")
    if not re.fullmatch(r"[0-9a-f]{64}", message):
        raise Invalid("message: not 64 lower-case hex digits")
    node, keys = None, []
    for i, c in enumerate(proof.get("node_certificates", []), 1):
        n, k = node_key(b64(c, f"node certificate {i}"), cas, i)
        if node not in (None, n):
            raise Invalid(f"node certificate {i}: names {n}, another names {node}")
        node = n
        keys.append(k)
    if node is None:
        raise Invalid("the proof carries no node certificate")
    origin = "liaison/" + node
    _, size, root = open_note(proof.get("checkpoint", ""), origin, keys)
    entries = proof.get("entries", [])
    if not entries:
        raise Invalid("the proof holds no entries")
    for e in entries:
        index = e["index"]
        leaf = b64(e["leaf"], f"entry {index}: leaf")
        path = [b64(p, f"entry {index}: a path hash") for p in e["path"]]
        if any(len(p) != 32 for p in path):
            raise Invalid(f"entry {index}: a path hash is not 32 bytes")
        problem = verify_inclusion(leaf_hash(leaf), index, size, path, root)
        if problem:
            raise Invalid(f"entry {index}: not included in the checkpoint's tree: {problem}")
        try:
            stated, about = leaf_index_and_ids(leaf)
        except Invalid as e:
            raise Invalid(f"entry {index}: {e}") from None
        if stated != index:
            raise Invalid(f"entry {index}: the leaf says it is entry {stated}")
        if bytes.fromhex(message) not in about:
            raise Invalid(f"entry {index}: the event is not about message {message}")
    return (
        f"{len(entries)} entries about message {message} are in the log of {node} "
        f"(checkpoint of {size} entries, root {root.hex()}, signed by the node)"
    )


def verify_consistency(first, second, proof, first_hash, second_hash):
    """RFC 9162 section 2.1.4.2; returns a problem, or None."""
    if first > second:
        return f"the older size {first} is larger than the newer {second}"
    if first == second:
        if proof:
            return "a proof between equal sizes must be empty"
        return None if first_hash == second_hash else "equal sizes with different roots"
    if first == 0:
        return None if not proof else "a proof from the empty tree must be empty"
    if not proof:
        return "the proof is empty"
    if first & (first - 1) == 0:
        proof = [first_hash] + proof
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return "the proof is too long"
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        return "the proof is too short"
    if fr != first_hash:
        return "the proof does not lead to the older root"
    if sr != second_hash:
        return "the proof does not lead to the newer root"
    return None


def check_consistency(proof, cas):
    """Checks a consistency proof file (parsed JSON); returns a summary or raises Invalid."""
    node, keys = None, []
    for i, c in enumerate(proof.get("node_certificates", []), 1):
        n, k = node_key(b64(c, f"node certificate {i}"), cas, i)
        if node not in (None, n):
            raise Invalid(f"node certificate {i}: names {n}, another names {node}")
        node = n
        keys.append(k)
    if node is None:
        raise Invalid("the proof carries no node certificate")
    origin = "liaison/" + node
    sizes = []
    roots = []
    for which in ("old", "new"):
        _, size, root = open_note(proof.get(which, ""), origin, keys)
        if size != proof.get(f"{which}_size"):
            raise Invalid(f"the {which} note signs {size} entries, the file says {proof.get(which + '_size')}")
        sizes.append(size)
        roots.append(root)
    hashes = [b64(h, "a proof hash") for h in proof.get("hashes", [])]
    if any(len(h) != 32 for h in hashes):
        raise Invalid("a proof hash is not 32 bytes")
    problem = verify_consistency(sizes[0], sizes[1], hashes, roots[0], roots[1])
    if problem:
        raise Invalid(f"the checkpoints are not consistent: {problem}")
    return (
        f"the log of {node} at {sizes[1]} entries (root {roots[1].hex()}) extends the log at "
        f"{sizes[0]} entries (root {roots[0].hex()}): {len(hashes)} proof hashes, both notes "
        "signed by the node"
    )


def consistency_tamper_test(proof, cas):
    summary = check_consistency(proof, cas)
    results = []
    flipped = copy.deepcopy(proof)
    if not flipped["hashes"]:
        raise Invalid("tamper test: the proof has no hash to flip")
    h = bytearray(base64.b64decode(flipped["hashes"][0]))
    h[0] ^= 0x01
    flipped["hashes"][0] = base64.b64encode(bytes(h)).decode()
    swapped = copy.deepcopy(proof)
    swapped["old"], swapped["new"] = proof["new"], proof["old"]
    swapped["old_size"], swapped["new_size"] = proof["new_size"], proof["old_size"]
    for bad, where in ((flipped, "first proof hash"), (swapped, "notes swapped")):
        try:
            check_consistency(bad, cas)
        except Invalid as e:
            results.append(f"{where}: rejected ({e})")
            continue
        raise Invalid(f"tamper test: {where} was accepted")
    return "tamper test: the untampered proof holds; " + "; ".join(results) + f" [{summary}]"


def flip_path_bit(proof):
    bad = copy.deepcopy(proof)
    for e in bad["entries"]:
        if e["path"]:
            h = bytearray(base64.b64decode(e["path"][0]))
            h[0] ^= 0x01
            e["path"][0] = base64.b64encode(bytes(h)).decode()
            return bad, f"entry {e['index']}, first path hash"
    raise Invalid("tamper test: no entry has a path hash to flip (a log of one entry)")


def flip_signature_bit(proof):
    bad = copy.deepcopy(proof)
    body, sigs = bad["checkpoint"].rsplit("\n\n", 1)
    line = sigs.split("\n")[0]
    prefix, sig = line.rsplit(" ", 1)
    raw = bytearray(base64.b64decode(sig))
    raw[4] ^= 0x01  # the first signature byte, after the 4-byte key id
    new = f"{prefix} {base64.b64encode(bytes(raw)).decode()}"
    bad["checkpoint"] = f"{body}\n\n{sigs.replace(line, new, 1)}"
    return bad, "first signature line, first signature byte"


def tamper_test(proof, cas):
    summary = check(proof, cas)
    results = []
    for flip in (flip_path_bit, flip_signature_bit):
        bad, where = flip(proof)
        try:
            check(bad, cas)
        except Invalid as e:
            results.append(f"{where}: rejected ({e})")
            continue
        raise Invalid(f"tamper test: a flipped bit in {where} was accepted")
    return "tamper test: the untampered proof holds; " + "; ".join(results) + f" [{summary}]"


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ca", action="append", required=True, help="network CA (PEM)")
    parser.add_argument("--tamper-test", action="store_true", help="check that tampering fails")
    parser.add_argument("proof", help="proof file from `liaison audit prove`")
    args = parser.parse_args(argv[1:])
    try:
        with open(args.proof, encoding="utf-8") as f:
            proof = json.load(f)
        cas = load_cas(args.ca)
    except (OSError, ValueError, Invalid) as e:
        print(f"audit_check.py: {e}", file=sys.stderr)
        return 2
    if isinstance(proof, dict) and proof.get("format") == CONSISTENCY_FORMAT:
        run = consistency_tamper_test if args.tamper_test else check_consistency
    else:
        run = tamper_test if args.tamper_test else check
    try:
        summary = run(proof, cas)
    except Invalid as e:
        print(f"FAILED: {e}")
        return 1
    except (KeyError, TypeError, AttributeError) as e:
        print(f"FAILED: the proof file is malformed ({type(e).__name__}: {e})")
        return 1
    print(f"OK {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
