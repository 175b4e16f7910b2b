// The egress relay inside a Modal sandbox (see tunnel.rs and codec.rs in agent-runtime-modal).
// Listens on 127.0.0.1:3128 and multiplexes every accepted connection over stdout/stdin:
// frames of [u32 BE connection id][u8 kind][u32 BE payload length][payload].
'use strict';
const net = require('net');
const HOST = '127.0.0.1';
const PORT = 3128;
const MAX = 65536;
const READY = 0, OPEN = 1, DATA = 2, EOF = 3, CLOSE = 4;
const conns = new Map();
let nextId = 1;
let paused = false;

function send(id, kind, payload) {
  const len = payload ? payload.length : 0;
  const header = Buffer.allocUnsafe(9);
  header.writeUInt32BE(id, 0);
  header.writeUInt8(kind, 4);
  header.writeUInt32BE(len, 5);
  const ok = process.stdout.write(len ? Buffer.concat([header, payload]) : header);
  // Backpressure: stop reading every connection until stdout drains.
  if (!ok && !paused) {
    paused = true;
    for (const sock of conns.values()) sock.pause();
  }
}

process.stdout.on('drain', () => {
  paused = false;
  for (const sock of conns.values()) sock.resume();
});
process.stdout.on('error', () => process.exit(1));

const server = net.createServer((sock) => {
  const id = nextId;
  nextId = nextId >= 0xffffffff ? 1 : nextId + 1;
  conns.set(id, sock);
  if (paused) sock.pause();
  send(id, OPEN);
  sock.on('data', (data) => {
    for (let i = 0; i < data.length; i += MAX) send(id, DATA, data.subarray(i, i + MAX));
  });
  sock.on('end', () => { if (conns.has(id)) send(id, EOF); });
  sock.on('close', () => { if (conns.delete(id)) send(id, CLOSE); });
  sock.on('error', () => {});
});
server.on('error', (e) => {
  process.stderr.write('relay: ' + e.message + '\n');
  process.exit(1);
});
server.listen(PORT, HOST, () => send(0, READY));

let buf = Buffer.alloc(0);
process.stdin.on('data', (data) => {
  buf = buf.length ? Buffer.concat([buf, data]) : data;
  while (buf.length >= 9) {
    const id = buf.readUInt32BE(0);
    const kind = buf.readUInt8(4);
    const len = buf.readUInt32BE(5);
    if (len > MAX) {
      process.stderr.write('relay: oversize frame\n');
      process.exit(1);
    }
    if (buf.length < 9 + len) break;
    const payload = buf.subarray(9, 9 + len);
    buf = buf.subarray(9 + len);
    const sock = conns.get(id);
    if (!sock) continue;
    if (kind === DATA) {
      if (!sock.write(payload)) {
        // Backpressure the other way: read no more frames until this connection drains.
        process.stdin.pause();
        const resume = () => process.stdin.resume();
        sock.once('drain', resume);
        sock.once('close', resume);
      }
    } else if (kind === EOF) {
      sock.end();
    } else if (kind === CLOSE) {
      conns.delete(id);
      sock.destroy();
    }
  }
});
process.stdin.on('end', () => process.exit(0));
