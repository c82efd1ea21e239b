#!/usr/bin/env python3
"""Decode captured Liaison frame streams and check every signature, from docs/PROTOCOL.md alone.

Usage: wire_check.py --ca CA.pem [--ca CA.pem ...] [--cert NODE.pem ...] [--tamper-test]
                     STREAM.bin [STREAM.bin ...]

Each STREAM.bin holds the bytes of one direction of one QUIC stream, as they crossed it.
For every file the frames are split (4-byte big-endian length, type byte, payload; §3) and
each one is decoded:

* an envelope (type 1, §6.3): the signed message and its route. The message id is
  recomputed (SHA-256 of the body bytes, §6.2), the signer certificate is checked against
  the certificate profile and chained to the given CA of the network its node id names
  (§2.2; validity at the message's creation time), the Ed25519 signature is verified over
  "liaison/v1/message" 00 id, and the body is decoded strictly (§4, §5): version byte,
  shortest varints, sorted sets, no trailing bytes. The certificate must name the body's
  originator. Signed messages carried inside a body (hop reports, announcements, shares)
  are checked the same way.
* a witness request or reply (types 2 and 3, §9): decoded, and every checkpoint note
  signature verified with the key of the node certificate its key name names (given with
  --cert, or seen as a signer certificate in the capture).
* a CRL (type 4, §2.3): parsed as DER, its issuer matched to the given CA of that network,
  its signature verified with the CA's key, its CRL number reported.

Then every receipt and refusal must refer to messages seen in another stream file and be
addressed to their sender, a refusal's in_reply_to must be its target, and a delivered
receipt must come from a recipient. A message that does not verify here must have been
refused by its receiver for that very reason (e.g. bad-signature), and a message the
receiver refused for a reason this checker judges (signature, certificate, encoding) must
not verify here either: the two implementations must agree.

--tamper-test checks the capture as above, then checks that a copy with one bit of a
signature flipped, and a copy with one bit of a signed body flipped, are both rejected.

Signer certificates are not checked against CRLs (revocation needs the CRL of the time,
which the capture need not hold), and neither are the clock skew and handling rules, which depend on the receiver's clock and
routes.

Exit status: 0 everything verifies (last line OK ...), 1 something does not (FAILED lines
say what), 2 usage error, unreadable file or the `cryptography` package is missing. Uses
only the standard library and `cryptography`.
"""

import argparse
import base64
import binascii
import datetime
import hashlib
import re
import struct
import sys

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
except ImportError as e:  # environment problem, not a capture problem
    print(f"wire_check.py: {e}. Install it with: pip install cryptography", file=sys.stderr)
    sys.exit(2)

FRAME_ENVELOPE, FRAME_WITNESS_REQUEST, FRAME_WITNESS_REPLY, FRAME_CRL = 1, 2, 3, 4
FORMAT_VERSION = 1
WITNESS_VERSION = 1
MESSAGE_CONTEXT = b"liaison/v1/message\x00"
MAX_FRAME = 16_777_216  # the largest limits.max_frame a node may configure
MAX_CERT = 8192
MAX_ROUTE = 16
MAX_TIMESTAMP = 253402300799999
SIG_PREFIX = "\u2014 "  # em dash and a space, before a note signature line
ZERO_ID = bytes(32)
PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)

LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
CASE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
LANGUAGE = re.compile(r"[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*")

# §5.4: variant number → (name, class).
KINDS = [
    ("alert", "content"),
    ("request", "content"),
    ("reply", "content"),
    ("case-open", "content"),
    ("case-invite", "content"),
    ("case-join", "content"),
    ("case-update", "content"),
    ("case-close", "content"),
    ("receipt", "control"),
    ("retraction", "content"),
    ("refusal", "control"),
    ("hop-report", "control"),
    ("sealed", "sealed"),
    ("sealing-key", "control"),
    ("announce", "control"),
    ("consent-request", "content"),
    ("consent-answer", "control"),
    ("share", "control"),
    ("case-remove", "content"),
    ("case-status", "content"),
    ("case-task", "content"),
    ("selectors", "content"),
    ("deconfliction", "content"),
]
KIND_RECEIPT, KIND_REFUSAL, KIND_HOP_REPORT, KIND_SEALED = 8, 10, 11, 12
CONTENT_KINDS = {name for name, cls in KINDS if cls == "content"}
TLP = ["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"]
RECEIPT_STATUS = ["relayed", "delivered"]
# Reason codes a receiver gives for what this checker judges too (§5.5, §6.2).
JUDGED = {
    "unknown-version",
    "malformed",
    "trailing-bytes",
    "non-canonical",
    "bad-signature",
    "signer-mismatch",
    "unknown-ca",
    "not-node-certificate",
    "malformed-certificate",
    "bad-certificate-chain",
}


class Usage(Exception):
    """A usage or environment error (exit 2)."""


class Fault(Exception):
    """Bytes that break the protocol; `code` is the reason code a receiver would give."""

    def __init__(self, code, text):
        super().__init__(text)
        self.code = code


# ---------------------------------------------------------------------------------------
# Postcard reading (§4)
# ---------------------------------------------------------------------------------------


class Reader:
    """Reads postcard values; `strict` refuses over-long varints (bodies, witness payloads)."""

    def __init__(self, data, strict=True):
        self.data = data
        self.pos = 0
        self.strict = strict
        # Faults a receiver reports only once the whole value has decoded (§5.5): 4 limits,
        # 5 non-canonical encoding, 6 field rules; each step's first fault is the reason.
        self.deferred = {4: [], 5: [], 6: []}

    def defer(self, step, code, text):
        self.deferred[step].append(Fault(code, text))

    def finish(self, what):
        """Refuses bytes left over, then raises the first deferred fault in §5.5's order."""
        if self.left():
            raise Fault("trailing-bytes", f"{self.left()} bytes after the {what}")
        for step in (4, 5, 6):
            if self.deferred[step]:
                raise self.deferred[step][0]

    def left(self):
        return len(self.data) - self.pos

    def take(self, n, what):
        if self.left() < n:
            raise Fault("malformed", f"{what}: needs {n} bytes, {self.left()} left")
        b = self.data[self.pos : self.pos + n]
        self.pos += n
        return b

    def u8(self, what):
        return self.take(1, what)[0]

    def varint(self, what, bits=64):
        value, shift, start = 0, 0, self.pos
        while True:
            byte = self.u8(what)
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
            if shift >= 70:
                raise Fault("malformed", f"{what}: varint too long")
        if value >= 1 << bits:
            raise Fault("malformed", f"{what}: {value} does not fit in {bits} bits")
        used = self.pos - start
        if self.strict and used > 1 and self.data[self.pos - 1] == 0:
            self.defer(5, "non-canonical", f"{what}: varint in {used} bytes is not the shortest")
        return value

    def variant(self, what, count):
        v = self.varint(what, 32)
        if v >= count:
            raise Fault("malformed", f"{what}: unknown variant {v}")
        return v

    def boolean(self, what):
        b = self.u8(what)
        if b > 1:
            raise Fault("malformed", f"{what}: bool byte {b:#04x}")
        return b == 1

    def option(self, what, read):
        tag = self.u8(what)
        if tag == 0:
            return None
        if tag == 1:
            return read()
        raise Fault("malformed", f"{what}: option tag {tag:#04x}")

    def byte_string(self, what):
        return self.take(self.varint(what), what)

    def string(self, what):
        raw = self.byte_string(what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Fault("malformed", f"{what}: not UTF-8") from None

    def vec(self, what, read):
        n = self.varint(what)
        if n > self.left():  # every element takes at least one byte
            raise Fault("malformed", f"{what}: {n} elements in {self.left()} bytes")
        return [read() for _ in range(n)]

    def timestamp(self, what):
        t = self.varint(what)
        if t > MAX_TIMESTAMP:
            self.defer(6, "invalid-field", f"{what}: timestamp {t} is after 9999-12-31")
        return t

    def label(self, what):
        s = self.string(what)
        if not LABEL.fullmatch(s):
            raise Fault("malformed", f"{what}: {s!r} is not a DNS label")
        return s

    def node_id(self, what):
        s = self.string(what)
        if not valid_node_id(s):
            raise Fault("malformed", f"{what}: {s!r} is not a node id")
        return s

    def case_id(self, what):
        s = self.string(what)
        if not CASE_ID.fullmatch(s):
            raise Fault("malformed", f"{what}: {s!r} is not a case id")
        return s

    def language(self, what):
        s = self.string(what)
        if len(s) > 35 or not LANGUAGE.fullmatch(s):
            raise Fault("malformed", f"{what}: {s!r} is not a language tag")
        return s

    def country(self, what):
        c = self.take(2, what)
        if not all(0x41 <= b <= 0x5A for b in c):
            raise Fault("malformed", f"{what}: {c!r} is not a country code")
        return c.decode()

    def i32(self, what):
        v = self.varint(what, 32)
        return (v >> 1) ^ -(v & 1)

    def signed_message(self, what):
        body = self.byte_string(f"{what}.body")
        cert = self.byte_string(f"{what}.signer_cert")
        sig = self.byte_string(f"{what}.signature")
        return {"body": body, "cert": cert, "signature": sig}


def valid_node_id(s):
    parts = s.split(".")
    return len(parts) == 2 and all(LABEL.fullmatch(p) for p in parts)


def sorted_set(r, values, key, what):
    keys = [key(v) for v in values]
    if any(not a < b for a, b in zip(keys, keys[1:])):
        r.defer(6, "non-canonical", f"{what} is not a sorted set")


# ---------------------------------------------------------------------------------------
# The body (§5)
# ---------------------------------------------------------------------------------------


def recipient(r, what):
    v = r.variant(what, 2)
    return (v, r.node_id(what) if v == 0 else r.label(what))


def release(r, what):
    v = r.variant(what, 3)
    return (v, r.label(what) if v < 2 else r.node_id(what))


def show_recipient(rec):
    return rec[1] if rec[0] == 0 else f"network:{rec[1]}"


def partial_date(r, what):
    year = r.varint(f"{what}.year", 16)
    month = r.option(f"{what}.month", lambda: r.u8(f"{what}.month"))
    day = r.option(f"{what}.day", lambda: r.u8(f"{what}.day"))
    return (year, month, day)


def names(r, what):
    return r.vec(
        what, lambda: (r.string(f"{what}.value"), r.option(what, lambda: r.language(what)))
    )


def opt_string(r, what):
    return r.option(what, lambda: r.string(what))


def opt_country(r, what):
    return r.option(what, lambda: r.country(what))


def entity(r):
    w = "entity"
    v = r.variant(w, 12)
    if v == 0:  # Person
        names(r, w)
        r.option(w, lambda: partial_date(r, w))
        r.vec(w, lambda: r.country(w))
    elif v == 1:  # Organisation
        names(r, w)
        opt_country(r, w)
    elif v == 2:  # Document
        if r.variant("document kind", 5) == 4:
            r.string(w)
        r.string(w)
        opt_country(r, w)
    elif v in (3, 4, 7):  # Phone, Email, Container
        r.string(w)
    elif v == 5:  # Vehicle
        opt_string(r, w), opt_string(r, w), opt_country(r, w), opt_string(r, w)
    elif v == 6:  # Vessel
        opt_string(r, w), opt_string(r, w), opt_string(r, w), opt_country(r, w)
    elif v == 8:  # Flight
        r.string(w)
        r.option(w, lambda: partial_date(r, w))
        opt_string(r, w), opt_string(r, w)
    elif v == 9:  # CryptoWallet
        r.string(w), r.string(w)
    elif v == 10:  # Location
        opt_string(r, w)
        r.option(w, lambda: r.i32(w)), r.option(w, lambda: r.i32(w))
        opt_country(r, w)
    else:  # Event
        r.string(w)
        r.option(w, lambda: r.timestamp(w))
    return v


def payload(r, what="payload"):
    lang = r.language(f"{what}.language")
    text = r.string(f"{what}.text")
    entities = r.vec(f"{what}.entities", lambda: entity(r))
    attachments = r.vec(
        f"{what}.attachments",
        lambda: (r.string("attachment"), r.string("attachment"), r.byte_string("attachment")),
    )
    return {"language": lang, "text": text, "entities": len(entities), "files": len(attachments)}


def sealed(r):
    """`Sealed` (§7.2): the wrapped keys' nodes, the nonce and the ciphertext's length."""

    def wrapped_key():
        node = r.node_id("wrapped key node")
        r.take(32, "wrapped key ephemeral")
        w = r.byte_string("wrapped key")
        if len(w) != 48:
            r.defer(6, "invalid-field", f"a wrapped key is {len(w)} bytes, not 48")
        return node

    nodes = r.vec("sealed recipients", wrapped_key)
    sorted_set(r, nodes, str.encode, "sealed recipients")
    if len(nodes) > 256:
        r.defer(4, "limit-exceeded", f"sealed recipients has {len(nodes)}, limit is 256")
    if not nodes:
        r.defer(6, "invalid-field", "sealed to no node")
    r.take(12, "sealed nonce")
    ct = r.byte_string("sealed ciphertext")
    if len(ct) < 16:
        r.defer(6, "invalid-field", "the ciphertext is shorter than its tag")
    return {"to": nodes, "ciphertext": len(ct)}


def sealed_content(r):
    name = r.string("sealed kind")
    if name not in CONTENT_KINDS:
        r.defer(6, "invalid-field", f"sealed kind {name!r} is not a content kind")
    return {"name": name, "content": sealed(r)}


def task_change(r):
    w = "task"
    r.option(w, lambda: r.take(32, w))
    r.string(w), r.node_id(w)
    r.option(w, lambda: r.timestamp(w))
    r.variant("task status", 4)
    r.string(w)


def kind(r):
    """(variant, fields) of a `Kind` (§5.4); nested signed messages under "signed"."""
    v = r.variant("kind", len(KINDS))
    f = {"signed": []}
    node_set = lambda what: r.vec(what, lambda: r.node_id(what))  # noqa: E731
    if v in (0, 2, 6):  # Alert, Reply, CaseUpdate
        f["payload"] = payload(r)
    elif v == 1:  # Request
        f["payload"] = payload(r)
        r.variant("urgency", 3)
        f["reply_by"] = r.timestamp("reply_by")
    elif v == 3:  # CaseOpen
        r.string("title"), payload(r), r.node_id("lead")
    elif v == 4:  # CaseInvite
        r.node_id("invitee"), payload(r), r.string("title"), payload(r), r.node_id("lead")
        for what in ("members", "pending"):
            sorted_set(r, node_set(what), str.encode, what)
    elif v == 5:  # CaseJoin
        r.boolean("accept")
    elif v in (7, 9):  # CaseClose, Retraction
        r.string("reason")
    elif v == KIND_RECEIPT:
        f["status"] = RECEIPT_STATUS[r.variant("receipt status", 2)]
        f["ids"] = r.vec("receipt ids", lambda: r.take(32, "receipt id"))
        sorted_set(r, f["ids"], bytes, "receipt ids")
        if len(f["ids"]) > 4096:
            r.defer(4, "limit-exceeded", f"receipt ids has {len(f['ids'])}, limit is 4096")
        if not f["ids"]:
            r.defer(6, "invalid-field", "a receipt of no id")
    elif v == KIND_REFUSAL:
        f["target"] = r.take(32, "refusal target")
        f["reason_code"] = r.string("refusal reason_code")
        f["detail"] = r.string("refusal detail")
        if len(f["reason_code"].encode()) > 64:
            r.defer(4, "limit-exceeded", "the reason code is over 64 bytes")
    elif v == KIND_HOP_REPORT:
        f["signed"] = r.vec("hop report answers", lambda: r.signed_message("answer"))
        if len(f["signed"]) > 16:
            r.defer(4, "limit-exceeded", f"hop report answers has {len(f['signed'])}, limit is 16")
        if not f["signed"]:
            r.defer(6, "invalid-field", "a hop report of no answer")
    elif v == KIND_SEALED:
        f["sealed"] = sealed_content(r)
    elif v == 13:  # SealingKey
        f["key"] = r.take(32, "sealing key")
        f["not_after"] = r.timestamp("not_after")
    elif v == 14:  # Announce
        reach = r.vec("reach", lambda: (recipient(r, "reach dest"), r.u8("reach distance")))
        sorted_set(r, reach, lambda x: (x[0][0], x[0][1].encode()), "announce reach")
        f["reach"] = [f"{show_recipient(d)}+{n}" for d, n in reach]
        f["signed"] = r.vec("announced keys", lambda: r.signed_message("key statement"))
    elif v == 15:  # ConsentRequest
        f["target"] = r.take(32, "consent target")
        sorted_set(r, node_set("consent to"), str.encode, "consent to")
        r.string("reason")
    elif v == 16:  # ConsentAnswer
        f["target"] = r.take(32, "consent target")
        sorted_set(r, node_set("consent to"), str.encode, "consent to")
        r.boolean("granted")
        r.option("expires_at", lambda: r.timestamp("expires_at"))
        r.option("resealed", lambda: sealed_content(r))
        r.string("reason")
    elif v == 17:  # Share
        f["signed"] = [r.signed_message("original")]
        f["signed"] += r.vec("share grants", lambda: r.signed_message("grant"))
    elif v == 18:  # CaseRemove
        r.node_id("participant"), r.string("reason")
    elif v == 19:  # CaseStatus
        r.boolean("suspended"), r.string("reason")
    elif v == 20:  # CaseTask
        task_change(r)
    elif v == 21:  # Selectors
        hashes = r.vec(
            "selector hashes", lambda: (r.variant("selector kind", 7), r.take(32, "hash"))
        )
        sorted_set(r, hashes, tuple, "selector hashes")
    else:  # Deconfliction (Overlap)
        r.variant("selector kind", 7), r.take(32, "yours")
        r.option("your_case", lambda: r.case_id("your_case"))
        r.node_id("other"), r.timestamp("other_since")
    return v, f


def decode_body(body):
    """The header, handling and kind of a body (§5), decoded strictly."""
    if not body:
        raise Fault("malformed", "an empty body")
    if body[0] != FORMAT_VERSION:
        raise Fault("unknown-version", f"body format version {body[0]}")
    r = Reader(body[1:])
    h = {}
    h["originator"] = r.node_id("header.originator")
    h["created_at"] = r.timestamp("header.created_at")
    h["nonce"] = r.take(16, "header.nonce")
    h["recipients"] = r.vec("header.recipients", lambda: recipient(r, "recipient"))
    h["case"] = r.option("header.case", lambda: r.case_id("header.case"))
    h["in_reply_to"] = r.option("header.in_reply_to", lambda: r.take(32, "in_reply_to"))
    h["expires_at"] = r.option("header.expires_at", lambda: r.timestamp("expires_at"))
    h["hop_limit"] = r.u8("header.hop_limit")
    h["tlp"] = TLP[r.variant("handling.tlp", len(TLP))]
    h["releasability"] = r.vec("handling.releasability", lambda: release(r, "release"))
    flags = (r.boolean("originator_control"), r.boolean("h0"), r.boolean("h1"))
    h3 = opt_string(r, "h3_restrictions")
    h["eu_codes"] = any(flags) or h3 is not None
    h["evaluation"] = "ABCX"[r.variant("evaluation.source", 4)]
    h["evaluation"] += "1234"[r.variant("evaluation.information", 4)]
    h["kind"], h["fields"] = kind(r)
    for what in ("recipients", "releasability"):
        if len(h[what]) > 256:
            r.defer(4, "limit-exceeded", f"{what} has {len(h[what])}, limit is 256")
    if h3 is not None and len(h3.encode()) > 1024:
        r.defer(4, "limit-exceeded", "h3_restrictions is over 1024 bytes")
    by_variant = lambda x: (x[0], x[1].encode())  # noqa: E731
    sorted_set(r, h["recipients"], by_variant, "header.recipients")
    sorted_set(r, h["releasability"], by_variant, "handling.releasability")
    if not h["recipients"] or not h["releasability"]:
        r.defer(6, "invalid-field", "no recipients or no releasability")
    if not 1 <= h["hop_limit"] <= 16:
        r.defer(6, "invalid-field", f"hop limit {h['hop_limit']}")
    r.finish("body")
    return h


def shape_problems(h, addressee, what):
    """How a control message breaks the shape §8.1 (answers) or §7.1 (key statements) gives:
    addressed and released to `addressee` (a Recipient / Release pair), TLP:GREEN, no EU
    codes, evaluation A1, hop limit 1, no case and no expiry."""
    recipient, release = addressee
    out = []
    if h["recipients"] != [recipient]:
        out.append(f"recipients {[show_recipient(x) for x in h['recipients']]}")
    if h["releasability"] != [release]:
        out.append("releasability is not the addressee alone")
    if h["tlp"] != "GREEN" or h["eu_codes"] or h["evaluation"] != "A1":
        out.append(f"handling {h['tlp']} {h['evaluation']} is not TLP:GREEN, A1, no EU codes")
    if h["hop_limit"] != 1 or h["case"] is not None or h["expires_at"] is not None:
        out.append("hop limit not 1, or a case or an expiry set")
    return [f"{what}: {p}" for p in out]


def kind_name(h):
    if h["kind"] == KIND_SEALED:
        return f"sealed {h['fields']['sealed']['name']}"
    return KINDS[h["kind"]][0]


# ---------------------------------------------------------------------------------------
# Certificates (§2.2)
# ---------------------------------------------------------------------------------------


def utc(cert, field):
    """A validity bound as an aware datetime (`*_utc` since cryptography 42)."""
    t = getattr(cert, field + "_utc", None)
    return t if t is not None else getattr(cert, field).replace(tzinfo=datetime.timezone.utc)


def raw_key(cert):
    key = cert.public_key()
    if not isinstance(key, Ed25519PublicKey):
        return None
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def ext(cert, cls):
    try:
        return cert.extensions.get_extension_for_class(cls)
    except x509.ExtensionNotFound:
        return None


def attrs(name, oid):
    return [a.value for a in name.get_attributes_for_oid(oid)]


def ed25519_verify(key, sig, data):
    try:
        key.verify(sig, data)
        return True
    except InvalidSignature:
        return False


def load_pem_certs(path):
    try:
        with open(path, "rb") as f:
            blocks = PEM_CERT.findall(f.read())
    except OSError as e:
        raise Usage(f"{path}: {e}") from None
    if not blocks:
        raise Usage(f"{path}: no PEM certificate")
    try:
        return [x509.load_pem_x509_certificate(b) for b in blocks]
    except ValueError as e:
        raise Usage(f"{path}: {e}") from None


def ca_problems(ca):
    """How a certificate breaks the network CA profile of §2.2 (empty: it does not)."""
    out = []
    cn = attrs(ca.subject, NameOID.COMMON_NAME)
    network = cn[0] if len(cn) == 1 else None
    if network is None or not LABEL.fullmatch(network):
        out.append("the common name is not a network id")
    if attrs(ca.subject, NameOID.ORGANIZATIONAL_UNIT_NAME) != ["network CA"]:
        out.append("OU is not 'network CA'")
    if attrs(ca.subject, NameOID.ORGANIZATION_NAME) != ["Liaison"]:
        out.append("O is not 'Liaison'")
    if ca.issuer != ca.subject:
        out.append("not self-issued")
    key = raw_key(ca)
    if key is None:
        out.append("not an Ed25519 key")
    elif not ed25519_verify(ca.public_key(), ca.signature, ca.tbs_certificate_bytes):
        out.append("the self-signature does not verify")
    bc = ext(ca, x509.BasicConstraints)
    if bc is None or not bc.critical or not bc.value.ca or bc.value.path_length != 0:
        out.append("basicConstraints is not critical CA:TRUE, pathLen 0")
    ku = ext(ca, x509.KeyUsage)
    if ku is None or not ku.critical or not (
        ku.value.key_cert_sign and ku.value.crl_sign and ku.value.digital_signature
    ):
        out.append("keyUsage is not critical keyCertSign, cRLSign, digitalSignature")
    nc = ext(ca, x509.NameConstraints)
    permitted = nc.value.permitted_subtrees if nc else None
    if (
        nc is None
        or not nc.critical
        or permitted is None
        or [type(p) for p in permitted] != [x509.DNSName]
        or permitted[0].value != network
    ):
        out.append(f"nameConstraints is not critical, permitting only the DNS subtree {network}")
    if ext(ca, x509.SubjectKeyIdentifier) is None:
        out.append("no subjectKeyIdentifier")
    return network, out


def load_cas(paths):
    """Network CAs by network id, each checked against the CA profile."""
    cas = {}
    for path in paths:
        for ca in load_pem_certs(path):
            network, problems = ca_problems(ca)
            if problems:
                raise Usage(f"{path}: not a network CA certificate: {'; '.join(problems)}")
            cas[network] = ca
    return cas


def node_certificate(der, cas):
    """(node id, Ed25519 public key, certificate, CA) of a node certificate that chains to the
    CA of its network and follows the node profile (§2.2, items 1-5)."""
    if len(der) > MAX_CERT:
        raise Fault("limit-exceeded", f"a signer certificate of {len(der)} bytes")
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError as e:
        raise Fault("malformed-certificate", f"the certificate does not parse: {e}") from None
    if raw_key(cert) is None:
        raise Fault("malformed-certificate", "the certificate key is not Ed25519")
    san = ext(cert, x509.SubjectAlternativeName)
    names = list(san.value) if san else []
    if len(names) != 1 or not isinstance(names[0], x509.DNSName):
        names = []
    if not names or not valid_node_id(names[0].value):
        raise Fault("not-node-certificate", "the certificate does not name exactly one node id")
    node = names[0].value
    centre, network = node.split(".")
    ca = cas.get(network)
    if ca is None:
        raise Fault("unknown-ca", f"{node}: no CA given for network {network}")
    bad = lambda why: Fault("bad-certificate-chain", f"{node}: {why}")  # noqa: E731
    if cert.issuer != ca.subject:
        raise bad(f"not issued by the CA of {network}")
    if cert.signature_algorithm_oid != x509.oid.SignatureAlgorithmOID.ED25519:
        raise bad("not signed with Ed25519")
    if not ed25519_verify(ca.public_key(), cert.signature, cert.tbs_certificate_bytes):
        raise bad(f"the signature of the {network} CA does not verify")
    # The node certificate profile.
    if cert.version != x509.Version.v3:
        raise bad("not an X.509 v3 certificate")
    if not 1 << 120 <= cert.serial_number < 1 << 127:
        raise bad(f"serial {cert.serial_number:#x} is not 16 bytes, top bit clear, first non-zero")
    if attrs(cert.subject, NameOID.COMMON_NAME) != [node]:
        raise bad("the subject common name is not the node id")
    if attrs(cert.subject, NameOID.ORGANIZATION_NAME) != [centre]:
        raise bad("the subject organisation is not the centre")
    ku = ext(cert, x509.KeyUsage)
    if ku is None or not ku.critical or not ku.value.digital_signature or ku.value.key_cert_sign:
        raise bad("keyUsage is not critical digitalSignature")
    eku = ext(cert, x509.ExtendedKeyUsage)
    usages = {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    if eku is None or not usages <= set(eku.value):
        raise bad("extKeyUsage lacks serverAuth or clientAuth")
    bc = ext(cert, x509.BasicConstraints)
    if bc is None or not bc.critical or bc.value.ca:
        raise bad("basicConstraints is not critical CA:FALSE")
    aki = ext(cert, x509.AuthorityKeyIdentifier)
    ski = ext(ca, x509.SubjectKeyIdentifier)
    if aki is None or aki.value.key_identifier != ski.value.digest:
        raise bad("the authorityKeyIdentifier is not the CA's key identifier")
    if ext(cert, x509.SubjectKeyIdentifier) is None:
        raise bad("no subjectKeyIdentifier")
    if not node.endswith("." + network):
        raise bad(f"outside the name constraint {network}")
    return node, cert.public_key(), cert, ca


def valid_at(cert, ca, at_ms):
    """Refuses unless `at_ms` (ms since the epoch; None: now) is within the validity of both
    the certificate and its CA, bounds included (§2.2, item 6)."""
    if at_ms is None:
        t = datetime.datetime.now(datetime.timezone.utc)
    else:
        t = datetime.datetime.fromtimestamp(at_ms / 1000, datetime.timezone.utc)
    for c, who in ((cert, "the certificate"), (ca, "its CA")):
        if t < utc(c, "not_valid_before"):
            raise Fault("certificate-not-yet-valid", f"{who} is not valid yet at {t.isoformat()}")
        if t > utc(c, "not_valid_after"):
            raise Fault("certificate-expired", f"{who} has expired at {t.isoformat()}")


# ---------------------------------------------------------------------------------------
# Signed messages (§6)
# ---------------------------------------------------------------------------------------


class Message:
    """A signed message as found in the capture, and what checking it found."""

    def __init__(self, signed):
        self.body = signed["body"]
        self.id = hashlib.sha256(self.body).digest()
        self.header = None
        self.signer = None
        self.key = None  # the signer certificate's Ed25519 key, once the chain checked out
        self.fault = None  # (reason code, text) of the first rule it breaks
        self.shape = []  # how it breaks the shape the protocol gives its kind
        self.nested = []  # signed messages carried inside, checked on their own


def check_signed(signed, cas):
    """Checks a signed message in the order of §6.2 (no CRL, no clock skew)."""
    m = Message(signed)
    try:
        if len(signed["signature"]) != 64:
            raise Fault("malformed", f"a signature of {len(signed['signature'])} bytes")
        m.signer, m.key, cert, ca = node_certificate(signed["cert"], cas)
        if not ed25519_verify(m.key, signed["signature"], MESSAGE_CONTEXT + m.id):
            raise Fault("bad-signature", "the signature does not verify")
        m.header = decode_body(m.body)
        if m.header["originator"] != m.signer:
            raise Fault(
                "signer-mismatch",
                f"signed by {m.signer}, originator {m.header['originator']}",
            )
        valid_at(cert, ca, m.header["created_at"])
    except Fault as f:
        m.fault = (f.code, str(f))
    if m.header is None:
        try:
            m.header = decode_body(m.body)
        except Fault:
            pass
    if m.header is not None and m.fault is None:
        m.nested = [check_signed(s, cas) for s in m.header["fields"]["signed"]]
        if m.header["kind"] == 13:  # a sealing-key statement, to the signer's network (§7.1)
            net = m.signer.split(".")[1]
            m.shape = shape_problems(m.header, ((1, net), (0, net)), "sealing-key statement")
            days = (m.header["fields"]["not_after"] - m.header["created_at"]) / 86_400_000
            if days != 365 or m.header["in_reply_to"] is not None:
                m.shape.append(f"sealing-key statement: valid {days} days, or in reply to one")
    return m


def describe(m):
    """One line about a message: kind, id, who to whom, what it refers to."""
    h = m.header
    if h is None:
        return f"undecodable body, id {short(m.id)}"
    out = f"{kind_name(h)} id {short(m.id)} from {h['originator']} to "
    out += ",".join(show_recipient(x) for x in h["recipients"])
    out += f" {h['tlp']}"
    f = h["fields"]
    if h["kind"] == KIND_RECEIPT:
        out += f" {f['status']} [{' '.join(short(i) for i in f['ids'])}]"
    elif h["kind"] == KIND_REFUSAL:
        out += f" of {short(f['target'])} {f['reason_code']} ({f['detail']})"
    elif h["kind"] == KIND_SEALED:
        s = f["sealed"]["content"]
        out += f" sealed to {','.join(s['to'])} ({s['ciphertext']} bytes)"
    elif h["kind"] == 13:
        out += f" key {f['key'].hex()[:16]}… until {iso(f['not_after'])}"
    elif h["kind"] == 14:
        out += f" reach [{' '.join(f['reach'])}] {len(f['signed'])} key statement(s)"
    elif "payload" in f:
        p = f["payload"]
        out += f" {p['language']} text of {len(p['text'].encode())} bytes"
    return out


def short(i):
    return i[:4].hex() + "…"


def iso(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).isoformat()


# ---------------------------------------------------------------------------------------
# Witnessing (§9)
# ---------------------------------------------------------------------------------------


def key_id(name, key):
    return hashlib.sha256(name.encode() + b"\n\x01" + key).digest()[:4]


def check_note(note, keys):
    """(origin, size, signature count) of a checkpoint note whose every signature is by a
    known node key and verifies. `keys`: node id → Ed25519 public key."""
    if len(note.encode()) > 65536:
        raise Fault("malformed", "a note over 65 536 bytes")
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise Fault("malformed-checkpoint", "not a signed note")
    text, lines = note[: split + 1], note[split + 2 : -1].split("\n")
    parts = text[:-1].split("\n")
    if any(ord(ch) < 0x20 and ch != "\n" or ch == "\x7f" for ch in note) or "" in parts:
        raise Fault("malformed-checkpoint", "a control character or an empty line in the text")
    if len(parts) < 3 or not parts[0].startswith("liaison/"):
        raise Fault("malformed-checkpoint", "no origin, size and root hash")
    if not re.fullmatch(r"0|[1-9][0-9]*", parts[1]):
        raise Fault("malformed-checkpoint", f"tree size {parts[1]!r}")
    if len(lines) > 100:
        raise Fault("malformed-checkpoint", f"{len(lines)} signature lines")
    for line in lines:
        if not line.startswith(SIG_PREFIX) or line.count(" ") != 2:
            raise Fault("malformed-checkpoint", f"signature line {line!r}")
        name, sig = line[len(SIG_PREFIX) :].split(" ")
        try:
            raw = base64.b64decode(sig, validate=True)
        except (binascii.Error, ValueError):
            raise Fault("malformed-checkpoint", f"signature line {line!r}") from None
        node = name[len("liaison/") :] if name.startswith("liaison/") else None
        key = keys.get(node)
        if key is None:
            raise Fault("unknown-checkpoint-key", f"no certificate for {name} (give --cert)")
        pub = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        if len(raw) != 68 or raw[:4] != key_id(name, pub):
            raise Fault("unknown-checkpoint-key", f"{name}: not the key of its certificate")
        if not ed25519_verify(key, raw[4:], text.encode()):
            raise Fault("bad-checkpoint-signature", f"the signature by {name} does not verify")
    return parts[0], int(parts[1]), len(lines)


def witness_payload(payload, request):
    if not payload or payload[0] != WITNESS_VERSION:
        raise Fault("unknown-version", "witness payload version")
    r = Reader(payload[1:])
    if request:
        out = {"note": r.string("note"), "old_size": r.varint("old_size")}
        out["proof"] = r.vec("proof", lambda: r.take(32, "proof hash"))
        if len(out["proof"]) > 65:
            raise Fault("malformed", f"a proof of {len(out['proof'])} hashes")
    else:
        v = r.variant("witness reply", 3)
        if v == 0:
            out = {"reply": "cosigned", "note": r.string("note")}
        elif v == 1:
            out = {"reply": "need-proof", "from": r.varint("from")}
        else:
            out = {"reply": "refused", "reason_code": r.string("reason")}
            out["detail"] = r.string("detail")
    r.finish("witness payload")
    return out


# ---------------------------------------------------------------------------------------
# Streams (§3) and the capture as a whole
# ---------------------------------------------------------------------------------------


def split_frames(data):
    """[(offset, type, payload)] of a stream; raises Fault on a bad header or a cut frame."""
    frames, pos = [], 0
    while pos < len(data):
        if len(data) - pos < 4:
            raise Fault("stream-error", f"@{pos}: the stream ends inside a frame header")
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        if length == 0:
            raise Fault("empty-frame", f"@{pos}: a frame of length 0")
        if length > MAX_FRAME:
            raise Fault("frame-too-large", f"@{pos}: a frame of length {length}")
        if len(data) - pos - 4 < length:
            raise Fault("stream-error", f"@{pos}: the stream ends inside a frame")
        ftype = data[pos + 4]
        if ftype not in (FRAME_ENVELOPE, FRAME_WITNESS_REQUEST, FRAME_WITNESS_REPLY, FRAME_CRL):
            raise Fault("unknown-frame-type", f"@{pos}: frame type {ftype}")
        frames.append((pos, ftype, data[pos + 5 : pos + 4 + length]))
        pos += 4 + length
    return frames


def decode_envelope(payload):
    """(signed message, route, offset of the body, offset of the signature) in the payload."""
    r = Reader(payload, strict=False)  # the envelope is not signed (§6.3)
    n = r.varint("signed.body")
    body_at = r.pos
    body = r.take(n, "signed.body")
    cert = r.byte_string("signed.signer_cert")
    n = r.varint("signed.signature")
    sig_at = r.pos
    sig = r.take(n, "signed.signature")
    route = r.vec("route", lambda: r.node_id("route"))
    if r.left():
        raise Fault("trailing-bytes", f"{r.left()} bytes after the envelope")
    if len(sig) != 64 or len(cert) > MAX_CERT or len(route) > MAX_ROUTE:
        raise Fault("limit-exceeded", "signature, certificate or route out of limits")
    return {"body": body, "cert": cert, "signature": sig}, route, body_at, sig_at


class Capture:
    """Checks stream files; `lines` is the report, `failures` what did not verify."""

    def __init__(self, streams, cas, certs):
        self.streams = streams  # [(name, bytes)]
        self.cas = cas
        self.certs = certs  # node id → public key, from --cert
        self.lines, self.failures = [], []
        self.sent = {}  # message id → (stream name, label, message, route)
        self.answers = []  # (stream name, label, message)
        self.frames = []  # (label, message, offset of its body, of its signature) per envelope
        self.count = {"frames": 0, "envelopes": 0, "witness": 0, "crl": 0, "signatures": 0, "nested": 0}

    def fail(self, label, text):
        self.failures.append(f"{label}: {text}")
        self.lines.append(f"FAILED {label}: {text}")

    def run(self):
        witness = []
        for name, data in self.streams:
            try:
                frames = split_frames(data)
            except Fault as f:
                self.fail(name, f"{f} ({f.code})")
                continue
            for n, (pos, ftype, payload) in enumerate(frames, 1):
                self.count["frames"] += 1
                label = f"{name} #{n} @{pos}"
                # A stream's first frame says what it is for (§2.3); nothing else may follow.
                if ftype != frames[0][1]:
                    self.fail(label, f"a frame of type {ftype} on a stream of type {frames[0][1]}")
                head = f"{label} length {len(payload) + 1}"
                if ftype == FRAME_ENVELOPE:
                    self.envelope(name, label, head, pos, payload)
                elif ftype == FRAME_CRL:
                    self.crl(label, head, payload)
                else:
                    self.count["witness"] += 1
                    witness.append((label, head, ftype, payload))
        # Witness notes last: their keys may come from signer certificates anywhere.
        for label, head, ftype, payload in witness:
            self.witness(label, head, ftype, payload)
        self.cross_check()
        return not self.failures

    def crl(self, label, head, payload):
        """A network CA's revocation list: its issuer's CA given, its signature by that CA."""
        self.count["crl"] += 1
        try:
            crl = x509.load_der_x509_crl(payload)
        except ValueError as e:
            self.fail(label, f"not a DER CRL: {e}")
            return
        names = crl.issuer.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        network = names[0].value if len(names) == 1 else None
        ca = self.cas.get(network)
        if ca is None:
            self.fail(label, f"a CRL of {network!r}, a network no --ca names")
            return
        if crl.issuer != ca.subject or not crl.is_signature_valid(ca.public_key()):
            self.fail(label, f"a CRL in the name of the {network} CA that it did not sign")
            return
        try:
            number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
        except x509.ExtensionNotFound:
            self.fail(label, "a CRL without a CRL number")
            return
        self.count["signatures"] += 1
        self.lines.append(
            f"{head}: CRL of {network} number {number}, {len(list(crl))} revoked; signature OK"
        )

    def envelope(self, name, label, head, pos, payload):
        self.count["envelopes"] += 1
        try:
            signed, route, body_at, sig_at = decode_envelope(payload)
        except Fault as f:
            self.fail(label, f"the envelope does not decode: {f} ({f.code})")
            return
        m = check_signed(signed, self.cas)
        self.frames.append((label, m, pos + 5 + body_at, pos + 5 + sig_at))
        route_text = f" via {','.join(route)}" if route else ""
        verdict = "signature OK" if m.fault is None else f"{m.fault[0]}: {m.fault[1]}"
        self.lines.append(f"{head}: envelope, {describe(m)}{route_text}; {verdict}")
        if m.fault is None:
            self.count["signatures"] += 1
            self.nested(label, m, 1)
            for p in m.shape:
                self.fail(label, p)
        if m.header is not None and m.header["kind"] in (KIND_RECEIPT, KIND_REFUSAL):
            self.answers.append((name, label, m))
            if m.fault is not None:
                self.fail(label, f"an answer that does not verify: {m.fault[1]} ({m.fault[0]})")
            if route:
                self.fail(label, "an answer travels with an empty route (§8)")
        else:
            self.sent[m.id] = (name, label, m, route)

    def nested(self, label, m, depth):
        for i, n in enumerate(m.nested, 1):
            where = f"{label} {'.' * depth}{i}"
            if n.fault is None:
                self.count["nested"] += 1
                self.lines.append(f"  {where} carried: {describe(n)}; signature OK")
                self.nested(where, n, depth + 1)
                for p in n.shape:
                    self.fail(where, p)
            else:
                self.lines.append(f"  {where} carried: {describe(n)}; {n.fault[0]}")
                self.fail(where, f"a carried message does not verify: {n.fault[1]} ({n.fault[0]})")

    def witness(self, label, head, ftype, payload):
        request = ftype == FRAME_WITNESS_REQUEST
        what = "witness request" if request else "witness reply"
        try:
            w = witness_payload(payload, request)
            if "note" in w:
                origin, size, sigs = check_note(w["note"], self.keys())
                self.count["signatures"] += sigs
                info = f"{origin} size {size}, {sigs} signature(s) OK"
            if request:
                info += f"; old size {w['old_size']}, proof of {len(w['proof'])} hashes"
            elif w["reply"] == "cosigned":
                info = f"cosigned {info}"
            elif w["reply"] == "need-proof":
                info = f"needs a proof from size {w['from']}"
            else:
                info = f"refused: {w['reason_code']} ({w['detail']})"
            self.lines.append(f"{head}: {what}, {info}")
        except Fault as f:
            self.lines.append(f"{head}: {what}")
            self.fail(label, f"{f} ({f.code})")

    def keys(self):
        """Node id → key: --cert keys, then the keys of verified signer certificates."""
        out = dict(self.certs)
        for _, m, _, _ in self.frames:
            if m.fault is None and m.signer not in out:
                out[m.signer] = m.key
        return out

    def cross_check(self):
        """Answers refer to messages sent the other way; verdicts agree (module docstring)."""
        answered = {}
        for name, label, a in self.answers:
            if a.fault is not None or a.header is None:
                continue
            h, f = a.header, a.header["fields"]
            peer = h["recipients"][0][1]
            for p in shape_problems(h, ((0, peer), (2, peer)), "answer"):
                self.fail(label, p)
            if h["kind"] == KIND_REFUSAL and len(f["detail"]) > 512:
                self.fail(label, "a refusal detail over 512 characters")
            if h["kind"] == KIND_RECEIPT:
                if h["in_reply_to"] is not None:
                    self.fail(label, "a receipt with in_reply_to set")
                refs = [(i, f["status"]) for i in f["ids"]]
            else:
                if h["in_reply_to"] != f["target"]:
                    self.fail(label, "a refusal whose in_reply_to is not its target")
                if f["target"] == ZERO_ID:
                    continue  # a frame that was no envelope, or did not decode (§8.3)
                refs = [(f["target"], f["reason_code"])]
            for i, outcome in refs:
                sent = self.sent.get(i)
                if sent is None or sent[0] == name:
                    self.fail(label, f"answers {short(i)}, which no other stream carried")
                    continue
                _, mlabel, m, route = sent
                answered.setdefault(i, []).append((label, h["kind"], outcome))
                sender = route[-1] if route else (m.header or {}).get("originator")
                if sender is not None and h["recipients"] != [(0, sender)]:
                    self.fail(label, f"answers {mlabel}, not addressed to its sender {sender}")
                if outcome == "delivered" and m.header is not None:
                    me, net = a.signer, a.signer.split(".")[1]
                    to = m.header["recipients"]
                    if (0, me) not in to and (1, net) not in to:
                        self.fail(label, f"delivered {mlabel}, which is not addressed to {me}")
        unanswered = 0
        self.agreed = []
        for i, (_, label, m, _) in self.sent.items():
            outcomes = answered.get(i, [])
            if not outcomes:
                unanswered += 1
                self.lines.append(f"NOTE {label}: no answer in the capture")
            for alabel, k, outcome in outcomes:
                if m.fault is not None and k == KIND_RECEIPT:
                    self.fail(alabel, f"receipts {label}, which does not verify ({m.fault[0]})")
                elif m.fault is not None and k == KIND_REFUSAL and outcome != m.fault[0]:
                    found = m.fault[0]
                    self.fail(alabel, f"refuses {label} with {outcome}, the checker finds {found}")
                elif m.fault is not None:
                    self.agreed.append(outcome)
                elif k == KIND_REFUSAL and outcome in JUDGED:
                    self.fail(alabel, f"refuses {label} with {outcome}, the checker finds it valid")
            if m.fault is not None and not outcomes:
                self.fail(label, f"does not verify ({m.fault[0]}: {m.fault[1]})")
        self.unanswered = unanswered

    def summary(self):
        c = self.count
        receipts = sum(1 for _, _, a in self.answers if a.header["kind"] == KIND_RECEIPT)
        refusals = len(self.answers) - receipts
        messages = len(self.sent)
        agreed = (
            f"; {len(self.agreed)} refused by the receiver for the fault found here "
            f"({', '.join(sorted(set(self.agreed)))})"
            if self.agreed
            else ""
        )
        return (
            f"{c['frames']} frames in {len(self.streams)} streams ({c['envelopes']} envelopes, "
            f"{c['witness']} witness frames, {c['crl']} CRL frames): {messages} messages, "
            f"{receipts} receipts, "
            f"{refusals} refusals; {c['signatures'] + c['nested']} signatures verified "
            f"({c['nested']} carried inside messages){agreed}; {self.unanswered} unanswered"
        )


def check(streams, cas, certs):
    cap = Capture(streams, cas, certs)
    ok = cap.run()
    return ok, cap


def flip(streams, stream_index, offset):
    out = list(streams)
    name, data = out[stream_index]
    data = bytearray(data)
    data[offset] ^= 0x01
    out[stream_index] = (name, bytes(data))
    return out


def tamper_test(streams, cas, certs):
    """The capture verifies; one flipped bit of a signature, and of a signed body, do not."""
    ok, cap = check(streams, cas, certs)
    if not ok:
        return False, cap.lines, "the untampered capture does not verify"
    # The first verified message: its signature, then the middle of its body.
    target = None
    for si, (name, data) in enumerate(streams):
        for label, m, body_at, sig_at in (f for f in cap.frames if f[0].startswith(name + " ")):
            if m.fault is None:
                target = (si, label, m, body_at, sig_at)
                break
        if target:
            break
    if target is None:
        return False, cap.lines, "no verified message to tamper with"
    si, label, m, body_at, sig_at = target
    results = []
    for what, offset in (("signature", sig_at + 10), ("body", body_at + len(m.body) // 2)):
        bad_ok, bad = check(flip(streams, si, offset), cas, certs)
        found = [f[1] for f in bad.frames if f[0] == label]
        if bad_ok or not found or found[0].fault is None or found[0].fault[0] != "bad-signature":
            return False, bad.lines, f"a flipped bit of the {what} of {label} was not rejected"
        n = len(bad.failures)
        results.append(f"a flipped {what} bit of {label} rejected (bad-signature; {n} problem(s))")
    return True, cap.lines, "; ".join(results)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ca", action="append", required=True, help="network CA (PEM)")
    parser.add_argument("--cert", action="append", default=[], help="node certificate (PEM)")
    parser.add_argument("--tamper-test", action="store_true", help="check that tampering fails")
    parser.add_argument("streams", nargs="+", help="one direction of a stream, raw bytes")
    args = parser.parse_args(argv[1:])
    try:
        cas = load_cas(args.ca)
        certs = {}
        for path in args.cert:
            for c in load_pem_certs(path):
                try:
                    node, key, cert, ca = node_certificate(c.public_bytes(Encoding.DER), cas)
                    valid_at(cert, ca, None)
                except Fault as f:
                    raise Usage(f"{path}: {f} ({f.code})") from None
                certs[node] = key
        streams = []
        for path in args.streams:
            with open(path, "rb") as f:
                streams.append((path.rsplit("/", 1)[-1], f.read()))
    except (OSError, Usage) as e:
        print(f"wire_check.py: {e}", file=sys.stderr)
        return 2
    if args.tamper_test:
        ok, _, text = tamper_test(streams, cas, certs)
        print(f"OK tamper test: {text}" if ok else f"FAILED tamper test: {text}")
        return 0 if ok else 1
    ok, cap = check(streams, cas, certs)
    for line in cap.lines:
        print(line)
    if ok:
        print(f"OK {cap.summary()}; every answer refers to a message sent the other way")
        return 0
    print(f"FAILED {len(cap.failures)} problem(s); {cap.summary()}")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
