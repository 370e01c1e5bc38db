#!/usr/bin/python3
"""PGPy as a peer of the interoperability matrix (tests/it/peers.rs).

Run with Debian's python3 (the python3-pgpy package):

  pgpy_peer.py decrypt KEY SIGNER_CERT IN OUT   decrypt IN, require a good signature by
                                                SIGNER_CERT, write the plaintext to OUT
  pgpy_peer.py encrypt CERT SIGNER_KEY IN OUT   sign IN with SIGNER_KEY, encrypt it to CERT,
                                                write the armored message to OUT
  pgpy_peer.py version

On success it prints one line of JSON; on failure the error, and it exits 1.
"""
import json
import sys
import warnings

# PGPy 0.6 uses cryptography APIs that newer cryptography releases deprecate; the warnings say
# nothing about the result.
warnings.simplefilter("ignore")

import pgpy  # noqa: E402


def load_key(path):
    try:
        key, _ = pgpy.PGPKey.from_file(path)
    except StopIteration:
        # PGPy's parser runs out of packets it understands (e.g. a v6 key packet).
        raise ValueError(f"{path}: PGPy found no key packet it can parse") from None
    return key


def decrypt(key_path, signer_path, in_path, out_path):
    key = load_key(key_path)
    signer = load_key(signer_path)
    message = pgpy.PGPMessage.from_file(in_path)
    if not message.is_encrypted:
        raise ValueError(f"{in_path} is not encrypted")
    plain = key.decrypt(message)
    if not plain.signatures:
        raise ValueError(f"{in_path} is not signed")
    verification = signer.verify(plain)
    if not verification:
        raise ValueError(f"the signature does not verify with {signer_path}: {verification}")
    data = plain.message
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(out_path, "wb") as f:
        f.write(bytes(data))
    good = [s.by.fingerprint.replace(" ", "") if hasattr(s.by, "fingerprint") else str(s.by)
            for s in verification.good_signatures]
    return {"decrypted_bytes": len(data), "good_signatures": len(good),
            "signer": str(signer.fingerprint).replace(" ", "")}


def encrypt(cert_path, signer_path, in_path, out_path):
    cert = load_key(cert_path)
    signer = load_key(signer_path)
    with open(in_path, "rb") as f:
        data = f.read()
    message = pgpy.PGPMessage.new(data, file=True)
    message |= signer.sign(message)
    encrypted = cert.encrypt(message)
    with open(out_path, "w") as f:
        f.write(str(encrypted))
    return {"encrypted_to": str(cert.fingerprint).replace(" ", "")}


def version():
    import importlib.metadata
    return {"pgpy": importlib.metadata.version("PGPy"), "python": sys.version.split()[0]}


COMMANDS = {"decrypt": (decrypt, 4), "encrypt": (encrypt, 4), "version": (version, 0)}

if __name__ == "__main__":
    command, args = (sys.argv[1] if len(sys.argv) > 1 else ""), sys.argv[2:]
    try:
        entry = COMMANDS.get(command)
        if entry is None or len(args) != entry[1]:
            raise SystemExit(f"usage: pgpy_peer.py decrypt|encrypt KEY CERT IN OUT, or version")
        print(json.dumps(entry[0](*args)))
    except SystemExit:
        raise
    except Exception as e:  # the test shows the reason
        print(f"pgpy_peer.py {command}: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
