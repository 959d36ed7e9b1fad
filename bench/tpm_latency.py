"""A latency model of a typical laptop TPM, applied to recorded TPM command sequences.

On swtpm every TPM command costs well under a millisecond; on a discrete laptop TPM one
costs 5 ms to several seconds, and what a user waits for is mostly which commands a tool
sends. This module

- parses the pcapng files tpm2-tss's ``pcap:`` TCTI writes into the exact command
  sequence, each command with a *class* read from its parameters (the key type a
  Create/Load/LoadExternal carries, whether a StartAuthSession is salted and with what,
  the signature algorithm a Sign returned), and
- prices each (command, class) with the per-command latencies in ``MODEL`` below.

It is a model, not a measurement. Every figure names its source; figures marked
``guess`` have no published measurement we could find and are bounded by the measured
ones (see docs/benchmarks.md, "Estimated time on a laptop TPM").
"""

import struct
from pathlib import Path

# --------------------------------------------------------------------------
# Sources (cited by title in docs/benchmarks.md)
# --------------------------------------------------------------------------

SOURCES = {
    "wolfTPM": "wolfSSL/wolfTPM README.md, section \"TPM2 Benchmarks\" (examples/bench/bench on "
               "discrete TPMs over SPI; key generation from the hierarchy seed, i.e. "
               "TPM2_CreatePrimary)",
    "chrome": "\"TPM performance\" (stiankri.substack.com), quoting Chrome's study of TPM "
              "ECDSA P-256 signatures: 200 ms at the 50th, 600 ms at the 95th percentile",
    "systemd": "systemd/systemd issue #40485 (\"Boot loop when TPM2 is enabled due to "
               "Esys_NV_Extend() timing out\"): \"Successfully created primary key on TPM in "
               "251ms\", \"Completed TPM2 key unsealing in 1.35s\"",
    "himmelblau": "himmelblau-idm/himmelblau issue #1538 (\"try_unseal adds ~23s to every "
                  "interactive login\"): rs256_load 11x = 9.0 s, unseal_data 7x = 6.0 s",
    "irlume": "archledger/irlume issue #246 (\"A keyring unseal costs 11 seconds on one machine "
              "and 0.36 on another\"): STMicro STM0176 vs a firmware TPM",
}

# wolfTPM's per-chip figures in ms (mean of its 1 s runs), the columns of the model table.
WOLFTPM_CHIPS = ("SLB9670", "SLB9672", "ST33TPHF2X", "ST33KTPM2X", "NPCT650", "NPCT750")
WOLFTPM = {
    # operation: per-chip ms in WOLFTPM_CHIPS order
    "RSA-2048 key gen": (2196, 1568, 7455, 1944, 4479, 3409),
    "RSA-2048 private": (163, 77, 248, 91, 541, 70),
    "RSA-2048 private OAEP": (167, 88, 252, 93, 544, 71),
    "RSA-2048 public": (8.9, 9.1, 9.1, 6.5, 13.1, 7.5),
    "ECC-256 key gen": (231, 136, 220, 89, 148, 84),
    "ECDSA-256 sign": (69, 36, 42, 25, 190, 56),
    "ECDH-256 agree": (232, 66, 247, 66, 176, 29),
}


def _median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def _wolf(op):
    return _median(WOLFTPM[op])


# (command, class) -> (typical ms, basis). The basis says where the figure comes from;
# "guess: ..." marks figures without a published per-command measurement.
MODEL = {
    ("CreatePrimary", "rsa2048"): (_wolf("RSA-2048 key gen"),
                                   "wolfTPM RSA-2048 key gen, median of 6 chips (1.6-7.5 s)"),
    ("CreatePrimary", "ecc256"): (_wolf("ECC-256 key gen"),
                                  "wolfTPM ECC-256 key gen, median of 6 chips (84-231 ms); "
                                  "systemd #40485: 251 ms"),
    ("Create", "rsa2048"): (_wolf("RSA-2048 key gen"),
                            "as CreatePrimary rsa2048 (some chips pre-generate RSA keys and are "
                            "faster here)"),
    ("Create", "ecc256"): (_wolf("ECC-256 key gen"), "as CreatePrimary ecc256"),
    ("Create", "seal"): (40, "guess: no key generation (RNG + wrap + HMAC), between RSA public "
                             "(9 ms) and ECDSA sign (49 ms)"),
    ("Create", "keyedhash"): (40, "guess: as Create seal"),
    ("Create", "aes"): (40, "guess: as Create seal"),
    ("Load", "rsa2048"): (60, "guess: unwrap + integrity; chips that rebuild the CRT values on "
                              "load are slower (himmelblau #1538: 0.8 s per RSA key load incl. "
                              "its parent)"),
    ("Load", "ecc256"): (30, "guess: unwrap + integrity check"),
    ("Load", "seal"): (30, "guess: unwrap + integrity check"),
    ("Load", "keyedhash"): (30, "guess: unwrap + integrity check"),
    ("Load", "aes"): (30, "guess: unwrap + integrity check"),
    ("LoadExternal", "rsa2048+private"): (80, "guess: derives q, d and the CRT values from one "
                                              "prime (one division, one inverse)"),
    ("LoadExternal", "rsa2048"): (10, "guess: public part only, like RSA public"),
    ("LoadExternal", "ecc256+private"): (30, "guess: checks the point"),
    ("LoadExternal", "ecc256"): (10, "guess: public part only"),
    ("StartAuthSession", "salted-rsa2048"): (_wolf("RSA-2048 private OAEP"),
                                             "wolfTPM RSA-2048 private OAEP (the salt is "
                                             "OAEP-decrypted), median of 6 chips (71-544 ms)"),
    ("StartAuthSession", "salted-ecc"): (_wolf("ECDH-256 agree"),
                                         "wolfTPM ECDH-256 agree (the salt is an ECDH), median "
                                         "of 6 chips (29-247 ms)"),
    ("StartAuthSession", "unsalted"): (10, "guess: nonces and a KDF, like RSA public"),
    ("Sign", "rsa2048"): (_wolf("RSA-2048 private"),
                          "wolfTPM RSA-2048 private, median of 6 chips (70-541 ms)"),
    ("Sign", "ecc256"): (_wolf("ECDSA-256 sign"),
                         "wolfTPM ECDSA-256 sign, median of 6 chips (25-190 ms); Chrome's field "
                         "p50 through the OS is 200 ms"),
    ("Sign", "hmac"): (20, "guess: one HMAC"),
    ("RSA_Decrypt", "rsa2048"): (_wolf("RSA-2048 private"), "wolfTPM RSA-2048 private"),
    ("Unseal", ""): (30, "guess: decrypt of a loaded object's data (the 0.9-1.4 s unseal figures "
                         "of systemd #40485 and himmelblau #1538 are whole flows: primary, "
                         "policy session, load, unseal)"),
    ("ObjectChangeAuth", ""): (40, "guess: re-wrap of the private part, as Create seal"),
    ("Import", ""): (60, "guess: decrypt of the duplicate + re-wrap"),
    ("EvictControl", ""): (60, "guess: an NV write (NV writes are the slow non-crypto part)"),
    ("ContextSave", ""): (15, "guess: encrypt + HMAC of the context (what a resource manager "
                              "sends around every command)"),
    ("ContextLoad", ""): (15, "guess: decrypt + HMAC check of the context"),
    ("FlushContext", ""): (5, "guess: no crypto, below RSA public (9 ms)"),
    ("GetCapability", ""): (5, "guess: no crypto, below RSA public (9 ms)"),
    ("ReadPublic", ""): (5, "guess: no crypto"),
    ("TestParms", ""): (5, "guess: no crypto"),
    ("GetRandom", ""): (10, "guess: RNG, wolfTPM RNG 14-23 KB/s -> 32 bytes ~2 ms + command"),
}
DEFAULT_MS = (20, "guess: any other command")


def price(name, cls):
    """(ms, basis) of one command of class ``cls``."""
    for key in ((name, cls), (name, "")):
        if key in MODEL:
            return MODEL[key]
    if name in ("Create", "CreatePrimary", "Load") and cls.startswith("rsa"):
        return MODEL[(name, "rsa2048")]
    if name in ("Create", "CreatePrimary", "Load") and cls.startswith("ecc"):
        return MODEL[(name, "ecc256")]
    return DEFAULT_MS


# --------------------------------------------------------------------------
# pcapng -> command sequence
# --------------------------------------------------------------------------

# TPM command codes (as in /work/shared/tools/pcapcount.py) with their handle counts.
CC = {
    0x120: ("EvictControl", 2), 0x129: ("HierarchyChangeAuth", 1), 0x131: ("CreatePrimary", 1),
    0x139: ("DictionaryAttackLockReset", 1), 0x13E: ("SequenceComplete", 1),
    0x143: ("SelfTest", 0), 0x144: ("Startup", 0), 0x148: ("Certify", 2), 0x14B: ("Duplicate", 2),
    0x14E: ("NV_Read", 2), 0x150: ("ObjectChangeAuth", 2), 0x151: ("PolicySecret", 2),
    0x153: ("Create", 1), 0x154: ("ECDH_ZGen", 1), 0x155: ("HMAC", 1), 0x156: ("Import", 1),
    0x157: ("Load", 1), 0x158: ("Quote", 1), 0x159: ("RSA_Decrypt", 1),
    0x15C: ("SequenceUpdate", 1), 0x15D: ("Sign", 1), 0x15E: ("Unseal", 1),
    0x161: ("ContextLoad", 0), 0x162: ("ContextSave", 1), 0x164: ("EncryptDecrypt", 1),
    0x165: ("FlushContext", 0), 0x167: ("LoadExternal", 0), 0x169: ("NV_ReadPublic", 1),
    0x173: ("ReadPublic", 1), 0x174: ("RSA_Encrypt", 1), 0x176: ("StartAuthSession", 2),
    0x177: ("VerifySignature", 1), 0x17A: ("GetCapability", 0), 0x17B: ("GetRandom", 0),
    0x17C: ("GetTestResult", 0), 0x17D: ("Hash", 0), 0x17E: ("PCR_Read", 0),
    0x181: ("ReadClock", 0), 0x186: ("HashSequenceStart", 0), 0x18A: ("TestParms", 0),
    0x191: ("CreateLoaded", 1), 0x193: ("EncryptDecrypt2", 1),
}
ALG_RSA, ALG_KEYEDHASH, ALG_ECC, ALG_SYMCIPHER, ALG_NULL = 0x0001, 0x0008, 0x0023, 0x0025, 0x0010
SIG_ALGS = {0x0014: "rsa", 0x0016: "rsa", 0x0018: "ecc", 0x0005: "hmac"}
ECC_BITS = {0x0001: 192, 0x0002: 224, 0x0003: 256, 0x0004: 384, 0x0005: 521}


def _packets(buf):
    """(timestamp_us, payload) of every Enhanced Packet Block."""
    off = 0
    while off + 12 <= len(buf):
        btype, blen = struct.unpack_from("<II", buf, off)
        if blen < 12 or off + blen > len(buf):
            break
        if btype == 6:
            ts_hi, ts_lo, caplen = struct.unpack_from("<III", buf, off + 12)
            yield (ts_hi << 32) | ts_lo, buf[off + 28: off + 28 + caplen]
        off += blen


def _tpm_payload(pkt):
    for start in range(0, min(len(pkt), 80)):
        if pkt[start:start + 2] in (b"\x80\x01", b"\x80\x02", b"\x00\xc4") \
                and start + 10 <= len(pkt):
            if struct.unpack_from(">I", pkt, start + 2)[0] == len(pkt) - start:
                return pkt[start:]
    return None


def _public_class(buf, off):
    """Class of the TPM2B_PUBLIC at ``off``: rsa2048, ecc256, seal, keyedhash, aes."""
    size, typ = struct.unpack_from(">HH", buf, off)
    if size == 0:
        return "?"
    p = off + 4 + 2 + 4  # type, nameAlg, objectAttributes
    (policy,) = struct.unpack_from(">H", buf, p)
    p += 2 + policy
    if typ in (ALG_RSA, ALG_ECC):
        (sym,) = struct.unpack_from(">H", buf, p)
        p += 2 + (4 if sym != ALG_NULL else 0)
        (scheme,) = struct.unpack_from(">H", buf, p)
        p += 2 + (2 if scheme != ALG_NULL else 0)
        if typ == ALG_RSA:
            (bits,) = struct.unpack_from(">H", buf, p)
            return f"rsa{bits}"
        (curve,) = struct.unpack_from(">H", buf, p)
        return f"ecc{ECC_BITS.get(curve, curve)}"
    if typ == ALG_KEYEDHASH:
        (scheme,) = struct.unpack_from(">H", buf, p)
        return "keyedhash" if scheme != ALG_NULL else "seal"
    if typ == ALG_SYMCIPHER:
        return "aes"
    return f"type{typ:#x}"


def _params(cmd, nhandles):
    """Offset of the first parameter of a command."""
    off = 10 + 4 * nhandles
    if cmd[0:2] == b"\x80\x02":
        (auth_size,) = struct.unpack_from(">I", cmd, off)
        off += 4 + auth_size
    return off


def _classify(name, nhandles, cmd, rsp):
    try:
        p = _params(cmd, nhandles)
        if name in ("Create", "CreatePrimary", "CreateLoaded"):
            (sens,) = struct.unpack_from(">H", cmd, p)
            return _public_class(cmd, p + 2 + sens)
        if name == "Load":
            (priv,) = struct.unpack_from(">H", cmd, p)
            return _public_class(cmd, p + 2 + priv)
        if name == "LoadExternal":
            (sens,) = struct.unpack_from(">H", cmd, p)
            return _public_class(cmd, p + 2 + sens) + ("+private" if sens else "")
        if name == "StartAuthSession":
            (nonce,) = struct.unpack_from(">H", cmd, p)
            (salt,) = struct.unpack_from(">H", cmd, p + 2 + nonce)
            if salt == 0:
                return "unsalted"
            return f"salted-rsa{salt * 8}" if salt >= 128 else "salted-ecc"
        if name == "Sign" and rsp is not None and len(rsp) >= 12:
            q = 10 + (4 if rsp[0:2] == b"\x80\x02" else 0)
            alg = SIG_ALGS.get(struct.unpack_from(">H", rsp, q)[0], "?")
            if alg == "rsa":
                (sig_size,) = struct.unpack_from(">H", rsp, q + 4)
                return f"rsa{sig_size * 8}"
            return "ecc256" if alg == "ecc" else alg
        if name == "RSA_Decrypt":
            (ct,) = struct.unpack_from(">H", cmd, p)
            return f"rsa{ct * 8}"
    except struct.error:
        return "?"
    return ""


def read_sequence(path, start_us=None):
    """[{name, cls, rc}] of the commands in a pcapng file (after ``start_us`` when given).

    The pcap TCTI writes each command and its response as one packet each, in order.
    """
    try:
        buf = Path(path).read_bytes()
    except FileNotFoundError:
        return []
    seq = []
    pending = None
    for ts, pkt in _packets(buf):
        tpm = _tpm_payload(pkt)
        if tpm is None:
            continue
        code = struct.unpack_from(">I", tpm, 6)[0]
        if pending is not None:
            # The packet after a command is its response (an error response's code can
            # look like a command code, e.g. 0x18B).
            seq.append(_finish(pending, tpm))
            pending = None
        elif 0x11F <= code <= 0x1A0:
            pending = (ts, code, tpm)
    if pending is not None:
        seq.append(_finish(pending, None))
    if start_us is not None:
        seq = [c for c in seq if c["ts"] >= start_us]
    return seq


def _finish(pending, rsp):
    ts, code, cmd = pending
    name, nhandles = CC.get(code, (f"{code:#x}", 0))
    rc = struct.unpack_from(">I", rsp, 6)[0] if rsp is not None and len(rsp) >= 10 else None
    return {"ts": ts, "name": name, "cls": _classify(name, nhandles, cmd, rsp), "rc": rc}


def last_timestamp(path):
    """Timestamp (us) of the last packet in a pcapng file, 0 when there is none."""
    try:
        buf = Path(path).read_bytes()
    except FileNotFoundError:
        return 0
    last = 0
    for ts, _ in _packets(buf):
        last = ts
    return last


# --------------------------------------------------------------------------
# applying the model
# --------------------------------------------------------------------------

def label(cmd):
    text = f"{cmd['name']}({cmd['cls']})" if cmd["cls"] else cmd["name"]
    if cmd.get("rc"):  # a failed command (e.g. TPM_RC_RETRY) still costs TPM time
        text += f"[rc {cmd['rc']:#x}]"
    return text


def model_ms(seq):
    """Modelled laptop-TPM time (ms) of a command sequence."""
    return sum(price(c["name"], c["cls"])[0] for c in seq)


def compact(seq):
    """'StartAuthSession(salted-rsa2048), Load(seal), ...' with runs folded as '3×X'."""
    out = []
    for c in seq:
        lab = label(c)
        if out and out[-1][0] == lab:
            out[-1][1] += 1
        else:
            out.append([lab, 1])
    return ", ".join(f"{n}×{lab}" if n > 1 else lab for lab, n in out)


def heaviest(seq, n=2):
    """The ``n`` most expensive (label, total ms) of a sequence: where its time goes."""
    totals = {}
    for c in seq:
        totals[label(c)] = totals.get(label(c), 0) + price(c["name"], c["cls"])[0]
    return sorted(totals.items(), key=lambda kv: -kv[1])[:n]


def model_table_rows():
    """Rows (command, class, typical ms, basis) of the model, for the docs."""
    return [(k[0], k[1], v[0], v[1]) for k, v in MODEL.items()]
