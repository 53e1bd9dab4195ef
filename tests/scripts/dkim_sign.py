#!/usr/bin/env python3
"""Signs test messages with dkimpy (an independent DKIM implementation) for Moat's DKIM tests.

Usage: dkim_sign.py OUT_DIR
Writes OUT_DIR/zone.txt (the public keys, in Moat's static-zone format) and OUT_DIR/cases.json:
a list of {"name", "message" (base64), "dkim" (expected result of the first signature),
"dmarc" (expected DMARC result)}. Keys are generated fresh on every run: RSA with openssl,
ed25519 with PyNaCl.
"""
import base64
import json
import os
import subprocess
import sys

import dkim
import nacl.signing

out = sys.argv[1]
os.makedirs(out, exist_ok=True)

rsa_pem = subprocess.run(
    ["openssl", "genrsa", "-traditional", "2048"], check=True, capture_output=True
).stdout
rsa_pub_der = subprocess.run(
    ["openssl", "rsa", "-pubout", "-outform", "DER"],
    input=rsa_pem, check=True, capture_output=True,
).stdout
rsa_p = base64.b64encode(rsa_pub_der).decode()

# A short RSA key (RFC 8301: under 1024 bits never passes).
short_pem = subprocess.run(
    ["openssl", "genrsa", "-traditional", "768"], check=True, capture_output=True
).stdout
short_p = base64.b64encode(subprocess.run(
    ["openssl", "rsa", "-pubout", "-outform", "DER"],
    input=short_pem, check=True, capture_output=True,
).stdout).decode()

ed_key = nacl.signing.SigningKey.generate()
ed_private = base64.b64encode(bytes(ed_key)).decode().encode()
ed_p = base64.b64encode(bytes(ed_key.verify_key)).decode()

DOMAIN = b"signer.example"


def zone_txt(name, value):
    chunks = [value[i:i + 250] for i in range(0, len(value), 250)]
    return name + " TXT " + " ".join('"%s"' % c for c in chunks) + "\n"


with open(os.path.join(out, "zone.txt"), "w") as z:
    z.write(zone_txt("rsa._domainkey.signer.example", "v=DKIM1; k=rsa; p=" + rsa_p))
    z.write(zone_txt("ed._domainkey.signer.example", "v=DKIM1; k=ed25519; p=" + ed_p))
    z.write(zone_txt("_dmarc.signer.example", "v=DMARC1; p=reject"))
    # Key records whose tags refuse what the signature does (RFC 6376 3.6.1).
    z.write(zone_txt("hsha1._domainkey.signer.example", "v=DKIM1; k=rsa; h=sha1; p=" + rsa_p))
    z.write(zone_txt("notmail._domainkey.signer.example", "v=DKIM1; k=rsa; s=other; p=" + rsa_p))
    z.write(zone_txt("strict._domainkey.signer.example", "v=DKIM1; k=rsa; t=s; p=" + rsa_p))
    z.write(zone_txt("short._domainkey.signer.example", "v=DKIM1; k=rsa; p=" + short_p))
    z.write(zone_txt("badkey._domainkey.signer.example", "v=DKIM1; k=rsa;; p=" + rsa_p))
    # SPF never passes for these tests' client, so DMARC rests on DKIM alone.
    z.write(zone_txt("signer.example", "v=spf1 -all"))

BASE = (
    b"From: Signer <news@signer.example>\r\n"
    b"To: bob@acme.example\r\n"
    b"Subject: Signed  by   dkimpy \r\n"
    b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
    b"Message-ID: <dkimpy-1@signer.example>\r\n"
    b"\r\n"
    b"Hello Bob,  \r\n"
    b"this body is  signed.\t\r\n"
    b"\r\n"
    b"\r\n"
)


def sign(msg, selector=b"rsa", canon=(b"relaxed", b"relaxed"), length=False,
         algorithm=b"rsa-sha256", identity=None, key=None):
    if selector == b"ed":
        sig = dkim.sign(msg, selector, DOMAIN, ed_private, canonicalize=canon,
                        signature_algorithm=b"ed25519-sha256", length=length)
    else:
        sig = dkim.sign(msg, selector, DOMAIN, key or rsa_pem, canonicalize=canon,
                        length=length, signature_algorithm=algorithm, identity=identity)
    return sig + msg


cases = []


def case(name, message, dkim_result, dmarc_result):
    cases.append({
        "name": name,
        "message": base64.b64encode(message).decode(),
        "dkim": dkim_result,
        "dmarc": dmarc_result,
    })


case("rsa relaxed/relaxed", sign(BASE), "pass", "pass")
case("rsa simple/simple", sign(BASE, canon=(b"simple", b"simple")), "pass", "pass")
case("rsa relaxed/simple", sign(BASE, canon=(b"relaxed", b"simple")), "pass", "pass")
case("rsa simple/relaxed", sign(BASE, canon=(b"simple", b"relaxed")), "pass", "pass")
case("ed25519 relaxed/relaxed", sign(BASE, selector=b"ed"), "pass", "pass")
case("ed25519 simple/simple", sign(BASE, selector=b"ed", canon=(b"simple", b"simple")),
     "pass", "pass")
case("rsa l= whole body", sign(BASE, length=True), "pass", "pass")
case("rsa l= with content appended after signing",
     sign(BASE, length=True) + b"Click http://evil.example/ now\r\n", "neutral", "fail")
signed = sign(BASE)
case("rsa tampered body", signed.replace(b"is  signed", b"is forged"), "fail", "fail")
case("rsa tampered subject", signed.replace(b"Signed  by", b"Changed by"), "fail", "fail")
case("ed25519 tampered body",
     sign(BASE, selector=b"ed").replace(b"is  signed", b"is forged"), "fail", "fail")
case("rsa relaxed tolerates whitespace changes in the body",
     signed.replace(b"this body is  signed.\t", b"this body   is signed."), "pass", "pass")
case("second From above a signed message",
     b"From: ceo@signer.example\r\n" + signed, "any", "permerror")

# Signed correctly, but not acceptably (RFC 8301) or against the key record's own tags
# (RFC 6376 3.6.1): never a pass, so DMARC (p=reject, SPF -all) fails.
case("rsa-sha1 signature", sign(BASE, algorithm=b"rsa-sha1"), "policy", "fail")
case("768-bit RSA key", sign(BASE, selector=b"short", key=short_pem), "policy", "fail")
case("key h=sha1 with an rsa-sha256 signature", sign(BASE, selector=b"hsha1"),
     "permerror", "fail")
case("key s=other (not email)", sign(BASE, selector=b"notmail"), "permerror", "fail")
case("key t=s with an AUID in a subdomain",
     sign(BASE, selector=b"strict", identity=b"news@sub.signer.example"), "permerror", "fail")
case("key record with a stray semicolon", sign(BASE, selector=b"badkey"), "permerror", "fail")
unsigned_bh = sign(BASE)
head, _, rest = unsigned_bh.partition(b"bh=")
_, _, rest = rest.partition(b";")
case("signature without bh=", head + rest.lstrip(), "permerror", "fail")

with open(os.path.join(out, "cases.json"), "w") as f:
    json.dump(cases, f, indent=1)
print(len(cases), "cases written to", out)
