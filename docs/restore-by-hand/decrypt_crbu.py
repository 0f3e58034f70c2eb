# python3 decrypt_crbu.py <master-key-hex> <backup.crbu> <out>   (Debian: python3-cryptography)
# Versions 1 (database) and 2 (archive: a tar) give the plaintext itself; 3 and 4 (BACKUP_COMPRESSION=zstd)
# give zstd frames of it (one or more, one zstd stream): then `zstd -d out -o app.db` (or `zstd -dc out | tar -x`).
import os, sys
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
key_hex, src, dst = sys.argv[1:4]
data = open(src, "rb").read()
assert data[:4] == b"CRBU" and data[4] in (1, 2, 3, 4), "not a CRBU v1-v4 file"
key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"coldrune-backup-key").derive(bytes.fromhex(key_hex))
plain = AESGCM(key).decrypt(data[5:17], data[17:], None)  # raises InvalidTag on a wrong key or damage
with open(os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
    out.write(plain)
if data[4] >= 3:
    print(f"version {data[4]}: {dst} holds zstd frames; decompress them with: zstd -d {dst}", file=sys.stderr)
