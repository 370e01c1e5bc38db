// OpenPGP.js as a peer of the interoperability matrix (tests/it/peers.rs), run by node.
//
//   node openpgpjs.mjs decrypt KEY SIGNER_CERT IN OUT   decrypt IN, require a good signature by
//                                                       SIGNER_CERT, write the plaintext to OUT
//   node openpgpjs.mjs encrypt CERT SIGNER_KEY IN OUT   sign IN with SIGNER_KEY, encrypt it to
//                                                       CERT, write the armored message to OUT
//   node openpgpjs.mjs version
//
// Keys and messages may be armored or binary. On success it prints one line of JSON describing
// what it did; on failure it prints the error and exits 1.
import { readFile, writeFile } from 'node:fs/promises';
import * as openpgp from 'openpgp';

const isArmored = (bytes) => {
  const head = Buffer.from(bytes.subarray(0, 64)).toString('latin1').trimStart();
  return head.startsWith('-----BEGIN PGP');
};

async function readKeyFile(path, secret) {
  const bytes = await readFile(path);
  if (isArmored(bytes)) {
    const armoredKey = bytes.toString('utf8');
    return secret ? openpgp.readPrivateKey({ armoredKey }) : openpgp.readKey({ armoredKey });
  }
  return secret
    ? openpgp.readPrivateKey({ binaryKey: new Uint8Array(bytes) })
    : openpgp.readKey({ binaryKey: new Uint8Array(bytes) });
}

async function readMessageFile(path) {
  const bytes = await readFile(path);
  return isArmored(bytes)
    ? openpgp.readMessage({ armoredMessage: bytes.toString('utf8') })
    : openpgp.readMessage({ binaryMessage: new Uint8Array(bytes) });
}

async function decrypt(keyPath, signerPath, inPath, outPath) {
  const decryptionKeys = await readKeyFile(keyPath, true);
  const verificationKeys = await readKeyFile(signerPath, false);
  const message = await readMessageFile(inPath);
  // expectSigned: decryption fails unless a signature by verificationKeys verifies.
  const { data, signatures } = await openpgp.decrypt({
    message,
    decryptionKeys,
    verificationKeys,
    expectSigned: true,
    format: 'binary',
  });
  const verified = [];
  for (const s of signatures) {
    await s.verified;
    verified.push(s.keyID.toHex());
  }
  await writeFile(outPath, data);
  const packet = message.packets.findPacket(openpgp.enums.packet.symEncryptedIntegrityProtectedData);
  return {
    decrypted_bytes: data.length,
    seipd_version: packet ? packet.version : null,
    aead: packet && packet.aeadAlgorithm ? openpgp.enums.read(openpgp.enums.aead, packet.aeadAlgorithm) : null,
    verified_key_ids: verified,
    signer: verificationKeys.getFingerprint().toUpperCase(),
  };
}

async function encrypt(certPath, signerPath, inPath, outPath) {
  const encryptionKeys = await readKeyFile(certPath, false);
  const signingKeys = await readKeyFile(signerPath, true);
  const bytes = await readFile(inPath);
  const message = await openpgp.createMessage({ binary: new Uint8Array(bytes) });
  const armored = await openpgp.encrypt({ message, encryptionKeys, signingKeys, format: 'armored' });
  await writeFile(outPath, armored);
  return { encrypted_to: encryptionKeys.getFingerprint().toUpperCase(), key_version: encryptionKeys.keyPacket.version };
}

async function version() {
  // The package does not export its package.json; read it from where npm ci put it.
  const manifest = new URL('./node_modules/openpgp/package.json', import.meta.url);
  return { openpgp: JSON.parse(await readFile(manifest, 'utf8')).version, node: process.version };
}

const [command, ...args] = process.argv.slice(2);
const commands = { decrypt: [decrypt, 4], encrypt: [encrypt, 4], version: [version, 0] };
try {
  const entry = commands[command];
  if (!entry || args.length !== entry[1]) {
    throw new Error(`usage: openpgpjs.mjs decrypt|encrypt KEY CERT IN OUT, or version (got: ${process.argv.slice(2).join(' ')})`);
  }
  console.log(JSON.stringify(await entry[0](...args)));
} catch (e) {
  console.error(`openpgpjs.mjs ${command}: ${e && e.message ? e.message : e}`);
  process.exit(1);
}
