# python3 decrypt_by_hand.py <master-key-hex> <backup.crbu> <out.db>   (pip install cryptography)
import sys
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
key_hex, src, dst = sys.argv[1:4]
data = open(src, "rb").read()
assert data[:4] == b"CRBU" and data[4] == 1, "not a CRBU v1 file"
key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"coldrune-backup-key").derive(bytes.fromhex(key_hex))
plain = AESGCM(key).decrypt(data[5:17], data[17:], None)  # raises InvalidTag on a wrong key or damage
open(dst, "wb").write(plain)
