// node decrypt-crbu.mjs <master-key-hex> <backup.crbu> <out>
// Versions 1 (database) and 2 (archive: a tar) give the plaintext itself; 3 and 4 (BACKUP_COMPRESSION=zstd)
// give zstd frames of it (one or more, one zstd stream): then `zstd -d out -o app.db` (or `zstd -dc out | tar -x`).
import { createDecipheriv, hkdfSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
const [keyHex, input, output] = process.argv.slice(2);
const file = readFileSync(input);
if (file.subarray(0, 4).toString() !== 'CRBU' || ![1, 2, 3, 4].includes(file[4])) throw new Error('not a CRBU v1-v4 file');
const key = Buffer.from(hkdfSync('sha256', Buffer.from(keyHex, 'hex'), Buffer.alloc(0), 'coldrune-backup-key', 32));
const decipher = createDecipheriv('aes-256-gcm', key, file.subarray(5, 17));
decipher.setAuthTag(file.subarray(file.length - 16));
writeFileSync(output, Buffer.concat([decipher.update(file.subarray(17, file.length - 16)), decipher.final()]), { mode: 0o600 });
if (file[4] >= 3) console.error(`version ${file[4]}: ${output} holds zstd frames; decompress them with: zstd -d ${output}`);
