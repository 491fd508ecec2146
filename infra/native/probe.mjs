#!/usr/bin/env node
// Wire-level readiness probes for infra/native/stack.sh. Plain node, no npm packages (the repo's
// node_modules may not be installed yet when the stack starts).
//
//   node probe.mjs mongo HOST PORT            OP_MSG {ping: 1} answered with ok: 1
//   node probe.mjs kafka HOST PORT [BROKERS]  Metadata answered and lists >= BROKERS brokers
//   node probe.mjs amqp  HOST PORT            AMQP 0-9-1 connection opens (guest/guest) and closes
//   node probe.mjs http  HOST PORT [PATH]     GET PATH (default /) answers 2xx
//
// One attempt each; exit 0 = ready, 1 = not (reason on stderr). stack.sh does the retrying.

import net from "node:net";

const [kind, host = "127.0.0.1", portArg, extra] = process.argv.slice(2);
const port = Number(portArg);
const TIMEOUT_MS = 3000;

/** Sends `request`, resolves with the first complete reply as judged by `complete(buffer)`. */
function exchange(request, complete) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer within ${TIMEOUT_MS} ms`));
    }, TIMEOUT_MS);
    socket.on("connect", () => socket.write(request));
    socket.on("data", (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      const n = complete(buf);
      if (n > 0) {
        clearTimeout(timer);
        socket.destroy();
        resolve(buf.subarray(0, n));
      }
    });
    socket.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      reject(new Error("connection closed before a complete answer"));
    });
  });
}

/** Length-prefixed frames (int32 total length at offset 0, counting itself): MongoDB wire. */
const int32Framed = (buf) => (buf.length >= 4 && buf.length >= buf.readInt32LE(0) ? buf.readInt32LE(0) : 0);

function bsonCString(s) {
  return Buffer.concat([Buffer.from(s, "utf8"), Buffer.from([0])]);
}

async function mongo() {
  // BSON {ping: int32 1, $db: "admin"}
  const db = Buffer.from("admin\0", "utf8");
  const dbLen = Buffer.alloc(4);
  dbLen.writeInt32LE(db.length);
  const one = Buffer.alloc(4);
  one.writeInt32LE(1);
  const elements = Buffer.concat([Buffer.from([0x10]), bsonCString("ping"), one, Buffer.from([0x02]), bsonCString("$db"), dbLen, db, Buffer.from([0])]);
  const doc = Buffer.concat([Buffer.alloc(4), elements]);
  doc.writeInt32LE(doc.length, 0);

  const header = Buffer.alloc(16);
  const body = Buffer.concat([Buffer.alloc(4) /* flagBits */, Buffer.from([0]) /* kind 0 */, doc]);
  header.writeInt32LE(16 + body.length, 0);
  header.writeInt32LE(1, 4); // requestID
  header.writeInt32LE(0, 8); // responseTo
  header.writeInt32LE(2013, 12); // OP_MSG
  const reply = await exchange(Buffer.concat([header, body]), int32Framed);

  if (reply.readInt32LE(12) !== 2013) throw new Error(`unexpected opcode ${reply.readInt32LE(12)}`);
  // Walk the top-level elements of the body document looking for ok.
  let i = 21 + 4; // header 16 + flags 4 + kind 1, then skip the document length
  while (i < reply.length && reply[i] !== 0) {
    const type = reply[i];
    const nameEnd = reply.indexOf(0, i + 1);
    const name = reply.toString("utf8", i + 1, nameEnd);
    const v = nameEnd + 1;
    if (name === "ok") {
      const ok = type === 0x01 ? reply.readDoubleLE(v) : type === 0x10 ? reply.readInt32LE(v) : NaN;
      if (ok === 1) return "ping ok";
      throw new Error(`ping answered ok=${ok}`);
    }
    // Skip values of the types a ping reply may carry before ok.
    if (type === 0x01 || type === 0x12 || type === 0x09 || type === 0x11) i = v + 8;
    else if (type === 0x10) i = v + 4;
    else if (type === 0x08) i = v + 1;
    else if (type === 0x02) i = v + 4 + reply.readInt32LE(v);
    else if (type === 0x03 || type === 0x04) i = v + reply.readInt32LE(v);
    else throw new Error(`cannot parse BSON type ${type}`);
  }
  throw new Error("no ok field in ping reply");
}

async function kafka() {
  const want = Number(extra ?? 1);
  // Metadata v4 (supported by Kafka 1.0 through 4.x): null topic list = no topics, just brokers.
  const clientId = Buffer.from("stack-probe");
  const req = Buffer.alloc(4 + 2 + 2 + 4 + 2 + clientId.length + 4 + 1);
  let o = 4;
  o = req.writeInt16BE(3, o); // api_key Metadata
  o = req.writeInt16BE(4, o); // api_version
  o = req.writeInt32BE(7, o); // correlation_id
  o = req.writeInt16BE(clientId.length, o);
  o += clientId.copy(req, o);
  o = req.writeInt32BE(-1, o); // topics: null = all topics (we only read brokers)
  o = req.writeInt8(0, o); // allow_auto_topic_creation
  req.writeInt32BE(req.length - 4, 0);
  const reply = await exchange(req, (b) => (b.length >= 4 && b.length >= 4 + b.readInt32BE(0) ? 4 + b.readInt32BE(0) : 0));

  let p = 4;
  const correlation = reply.readInt32BE(p);
  if (correlation !== 7) throw new Error(`bad correlation id ${correlation}`);
  p += 4 + 4; // correlation_id, throttle_time_ms
  const count = reply.readInt32BE(p);
  if (count < want) throw new Error(`metadata lists ${count} broker(s), want ${want}`);
  return `${count} broker(s)`;
}

/** AMQP 0-9-1 frames: type(1) channel(2) size(4) payload frame-end(0xCE). */
function amqpFrame(classId, methodId, args) {
  const payload = Buffer.concat([Buffer.from([classId >> 8, classId & 255, methodId >> 8, methodId & 255]), args]);
  const head = Buffer.alloc(7);
  head.writeUInt8(1, 0); // method frame
  head.writeUInt16BE(0, 1); // channel 0
  head.writeUInt32BE(payload.length, 3);
  return Buffer.concat([head, payload, Buffer.from([0xce])]);
}
const shortstr = (s) => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)]);
const longstr = (s) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(Buffer.byteLength(s));
  return Buffer.concat([b, Buffer.from(s)]);
};

/**
 * Opens and closes a real connection with guest/guest (or AMQP_PROBE_USER / _PASSWORD) on vhost
 * "/": proves the listener is up, the broker has booted and the credentials the services use work.
 */
async function amqp() {
  const user = process.env.AMQP_PROBE_USER ?? "guest";
  const pass = process.env.AMQP_PROBE_PASSWORD ?? "guest";
  const socket = net.connect({ host, port });
  let buf = Buffer.alloc(0);
  let wake = () => {};
  let failure = null;
  socket.on("data", (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    wake();
  });
  socket.on("error", (err) => {
    failure = err;
    wake();
  });
  socket.on("close", () => {
    failure ??= new Error("connection closed by the broker (bad credentials or still booting?)");
    wake();
  });
  const timer = setTimeout(() => {
    failure = new Error(`no complete handshake within ${TIMEOUT_MS} ms`);
    wake();
  }, TIMEOUT_MS);

  /** Next method frame on channel 0 -> [classId, methodId, args]. */
  async function next() {
    for (;;) {
      if (buf.length >= 7 && buf.length >= 8 + buf.readUInt32BE(3)) {
        const size = buf.readUInt32BE(3);
        const frame = buf.subarray(0, 8 + size);
        buf = buf.subarray(8 + size);
        if (frame[0] !== 1) continue; // heartbeats etc.
        return [frame.readUInt16BE(7), frame.readUInt16BE(9), frame.subarray(11, 7 + size)];
      }
      if (failure) throw failure;
      await new Promise((resolve) => (wake = resolve));
    }
  }
  async function expect(classId, methodId, what) {
    const [c, m, args] = await next();
    if (c === 10 && m === 50 && !(classId === 10 && methodId === 50)) {
      const code = args.readUInt16BE(0);
      throw new Error(`broker closed the connection: ${code} ${args.toString("utf8", 3, 3 + args[2])}`);
    }
    if (c !== classId || m !== methodId) throw new Error(`expected ${what}, got method ${c}.${m}`);
    return args;
  }

  try {
    await new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    socket.write(Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1])); // "AMQP" 0 0 9 1
    await expect(10, 10, "Connection.Start");
    socket.write(amqpFrame(10, 11, Buffer.concat([Buffer.alloc(4) /* no client properties */, shortstr("PLAIN"), longstr(`\0${user}\0${pass}`), shortstr("en_US")])));
    const tune = await expect(10, 30, "Connection.Tune");
    const tuneOk = Buffer.alloc(8);
    tuneOk.writeUInt16BE(tune.readUInt16BE(0), 0); // channel-max as offered
    tuneOk.writeUInt32BE(tune.readUInt32BE(2), 2); // frame-max as offered
    tuneOk.writeUInt16BE(0, 6); // no heartbeats
    socket.write(amqpFrame(10, 31, tuneOk));
    socket.write(amqpFrame(10, 40, Buffer.concat([shortstr("/"), shortstr(""), Buffer.from([0])])));
    await expect(10, 41, "Connection.OpenOk");
    const close = Buffer.concat([Buffer.from([0, 200]), shortstr("probe done"), Buffer.alloc(4)]);
    socket.write(amqpFrame(10, 50, close));
    await expect(10, 51, "Connection.CloseOk");
    return `connection opened and closed as ${user}`;
  } finally {
    clearTimeout(timer);
    socket.destroy();
  }
}

async function http() {
  const res = await fetch(`http://${host}:${port}${extra ?? "/"}`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  if (!res.ok) throw new Error(`answered ${res.status}`);
  return `answered ${res.status}`;
}

const probes = { mongo, kafka, amqp, http };
if (!probes[kind] || !Number.isInteger(port)) {
  console.error("usage: probe.mjs mongo|kafka|amqp|http HOST PORT [KAFKA_MIN_BROKERS|PATH]");
  process.exit(2);
}
try {
  console.log(`${kind} ${host}:${port}: ${await probes[kind]()}`);
} catch (err) {
  console.error(`${kind} ${host}:${port}: not ready: ${err.message}`);
  process.exit(1);
}
