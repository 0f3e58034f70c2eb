// node decrypt-by-hand.mjs <master-key-hex> <backup.crbu> <out.db>
import { createDecipheriv, hkdfSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
const [keyHex, input, output] = process.argv.slice(2);
const file = readFileSync(input);
if (file.subarray(0, 4).toString() !== 'CRBU' || file[4] !== 1) throw new Error('not a CRBU v1 file');
const key = Buffer.from(hkdfSync('sha256', Buffer.from(keyHex, 'hex'), Buffer.alloc(0), 'coldrune-backup-key', 32));
const decipher = createDecipheriv('aes-256-gcm', key, file.subarray(5, 17));
decipher.setAuthTag(file.subarray(file.length - 16));
writeFileSync(output, Buffer.concat([decipher.update(file.subarray(17, file.length - 16)), decipher.final()]), { mode: 0o600 });
