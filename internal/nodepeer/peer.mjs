// An APNs peer on Node's built-in http2 module (nghttp2), for tests of offpush's HTTP/2
// clients against a server that is not Go's. Plain Node (18 or later), no packages.
//
//   node peer.mjs CERT.pem KEY.pem
//
// It serves TLS on 127.0.0.1 and answers POST /3/device/{token} like APNs: 200 with an
// apns-id header, or an error status with a JSON {"reason": ...} body. Once listening it
// prints one JSON line {"port": P, "control": C} on stdout; it exits when stdin closes.
//
// The control port C speaks plain HTTP/1.1 on 127.0.0.1:
//   POST /config    replaces the behaviour (JSON, see defaults below); new sessions open
//                   with its settings
//   POST /settings  sends a SETTINGS frame with the given values on every live session; new
//                   sessions open with them too
//   GET  /stats     counters (JSON)
//   POST /reset     zeroes the counters and closes every session
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import crypto from 'node:crypto';

const {
  NGHTTP2_NO_ERROR,
  NGHTTP2_REFUSED_STREAM,
} = http2.constants;

const settingNames = new Set(['headerTableSize', 'enablePush', 'initialWindowSize',
  'maxFrameSize', 'maxConcurrentStreams', 'maxHeaderListSize']);

const defaults = {
  settings: { maxConcurrentStreams: 1000 }, // SETTINGS of a new session
  delayMs: 0,        // hold each answer this long after the request body arrived
  topic: '',         // when set, apns-topic must equal it (400 TopicDisallowed otherwise)
  maxPayload: 4096,  // larger bodies get 413 PayloadTooLarge
  errorEvery: 0,     // answer every Nth request (all sessions) with errorStatus/errorReason
  errorStatus: 429,
  errorReason: 'TooManyRequests',
  lowerTo: 0,        // after such an error answer, lower the session's maxConcurrentStreams to this
  restoreAfterMs: 0, // ... and raise it to restoreTo this long after
  restoreTo: 1000,
  refuseEvery: 0,    // reset every Nth request (all sessions) with REFUSED_STREAM, unanswered
  goawayEvery: 0,    // on the Nth stream of a session: GOAWAY with it as the last stream, then close
  tableEvery: 0,     // every Nth stream of a session: SETTINGS_HEADER_TABLE_SIZE to the next of tableSizes
  tableSizes: [0, 4096], // an entry may be a list: those sizes in back-to-back SETTINGS frames
};

// protocolDefaults are the values a SETTINGS frame of a new session falls back to.
const protocolDefaults = { headerTableSize: 4096, initialWindowSize: 65535, maxFrameSize: 16384,
  maxConcurrentStreams: 1000 };

let cfg = { ...defaults };

function newStats() {
  return {
    sessions: 0,       // connections accepted
    streams: 0,        // request streams that reached the handler
    delivered: {},     // token → 200 answers completed
    answered: {},      // token → error answers completed (status ≠ 200)
    received: {},      // token → streams that named it (attempts the server saw)
    lostAnswers: 0,    // answers started whose stream did not close cleanly
    refused: 0,        // streams reset with REFUSED_STREAM by the script
    goaways: 0,        // GOAWAYs sent by the script
    aboveGoaway: 0,    // streams above a sent GOAWAY's last stream id that reached the handler (ignored)
    lowered: 0,        // SETTINGS lowering maxConcurrentStreams after an error answer
    restored: 0,       // SETTINGS raising it again
    tableChanges: 0,   // SETTINGS frames changing the header table size
    settingsSent: 0,   // every SETTINGS frame sent after the first
    maxOpen: 0,        // most streams open at once in one session
    pings: 0,          // PINGs received
    bad: 0,            // requests with a wrong method, path, header or body
    badSamples: [],    // the first of them
    sessionErrors: [], // errors of sessions (protocol violations seen by nghttp2, resets)
    goawaysReceived: [],
    clientCerts: 0,    // sessions whose client presented a certificate
    bearer: 0,         // requests with an authorization: bearer header
  };
}

let stats = newStats();
let seq = 0; // requests of every session, for errorEvery and refuseEvery
const sessions = new Set();

function bump(map, key) { map[key] = (map[key] || 0) + 1; }

function note(list, msg) { if (list.length < 50) list.push(msg); }

function sendSettings(session, s) {
  if (session.destroyed || session.closed) return;
  try {
    session.settings(s);
    stats.settingsSent++;
  } catch (e) {
    note(stats.sessionErrors, `settings ${JSON.stringify(s)}: ${e.message}`);
  }
}

const [certFile, keyFile] = process.argv.slice(2);
const server = http2.createSecureServer({
  cert: fs.readFileSync(certFile),
  key: fs.readFileSync(keyFile),
  settings: cfg.settings,
  requestCert: true,
  rejectUnauthorized: false,
  // The peer under test is judged by what it does, not by Node's own flood limits.
  maxSessionRejectedStreams: 1e9,
  maxSessionInvalidFrames: 1e9,
  maxSessionMemory: 1000,
  maxOutstandingSettings: 1000,
});

server.on('session', (session) => {
  stats.sessions++;
  sessions.add(session);
  const st = { streams: 0, open: 0, goawayLast: -1, table: 0 };
  session.offpush = st;
  const cert = session.socket && session.socket.getPeerCertificate && session.socket.getPeerCertificate();
  if (cert && cert.subject) stats.clientCerts++;
  session.on('ping', () => { stats.pings++; });
  session.on('error', (e) => note(stats.sessionErrors, `session: ${e.code || ''} ${e.message}`));
  session.on('frameError', (type, code, id) => note(stats.sessionErrors, `frame ${type} stream ${id}: code ${code}`));
  session.on('goaway', (code, last) => note(stats.goawaysReceived, `code ${code} last ${last}`));
  session.on('close', () => sessions.delete(session));
});

server.on('stream', (stream, headers) => {
  const session = stream.session;
  if (!session || !session.offpush) return; // destroyed by a reset meanwhile
  const st = session.offpush;
  stats.streams++;
  st.streams++;
  st.open++;
  stats.maxOpen = Math.max(stats.maxOpen, st.open);
  stream.on('close', () => { st.open--; });
  stream.on('error', () => {});

  if (st.goawayLast >= 0 && stream.id > st.goawayLast) {
    stats.aboveGoaway++; // opened before the client saw the GOAWAY: ignored, as nghttp2 does
    return;
  }
  const path = headers[':path'] || '';
  const m = /^\/3\/device\/([0-9a-fA-F]{64})$/.exec(path);
  const token = m ? m[1].toLowerCase() : '';
  if (token) bump(stats.received, token);

  const n = ++seq;
  if (cfg.tableEvery && st.streams % cfg.tableEvery === 0) {
    const entry = cfg.tableSizes[st.table++ % cfg.tableSizes.length];
    for (const size of [].concat(entry)) {
      sendSettings(session, { headerTableSize: size });
      stats.tableChanges++;
    }
  }
  if (cfg.goawayEvery && st.streams % cfg.goawayEvery === 0 && st.goawayLast < 0) {
    st.goawayLast = stream.id;
    stats.goaways++;
    session.goaway(NGHTTP2_NO_ERROR, stream.id);
    session.close(); // graceful: the streams up to goawayLast are answered first
    // The ignored streams above it stay open until the client closes the connection; a
    // client that does not is cut off.
    setTimeout(() => session.destroy(), 2000).unref();
  }
  if (cfg.refuseEvery && n % cfg.refuseEvery === 0) {
    stats.refused++;
    stream.close(NGHTTP2_REFUSED_STREAM);
    return;
  }

  const chunks = [];
  let size = 0;
  stream.on('data', (c) => { chunks.push(c); size += c.length; });
  stream.on('end', () => {
    const body = Buffer.concat(chunks, size);
    const [status, reason] = judge(headers, token, body, n);
    if (status !== 200 && !(reason === cfg.errorReason && status === cfg.errorStatus)) {
      stats.bad++;
      note(stats.badSamples, `${status} ${reason}: ${JSON.stringify(headers)} body ${body.subarray(0, 120)}`);
    }
    const answer = () => respond(stream, token, status, reason);
    if (cfg.delayMs > 0) setTimeout(answer, cfg.delayMs); else answer();
  });
});

// judge is the status and reason APNs would answer.
function judge(headers, token, body, n) {
  if (headers[':method'] !== 'POST') return [405, 'MethodNotAllowed'];
  if (!token) return [400, 'BadPath'];
  const auth = headers['authorization'];
  if (auth !== undefined) {
    if (!/^bearer [\w-]+\.[\w-]+\.[\w-]+$/.test(auth)) return [403, 'InvalidProviderToken'];
    stats.bearer++;
  }
  if (cfg.topic && headers['apns-topic'] !== cfg.topic) return [400, 'TopicDisallowed'];
  const cl = headers['content-length'];
  if (cl !== undefined && Number(cl) !== body.length) return [400, 'BadContentLength'];
  if (body.length === 0) return [400, 'PayloadEmpty'];
  if (body.length > cfg.maxPayload) return [413, 'PayloadTooLarge'];
  let payload;
  try {
    payload = JSON.parse(body.toString('utf8'));
  } catch {
    return [400, 'BadPayload'];
  }
  if (payload.t !== undefined && payload.t !== token) return [400, 'BadPayload'];
  if (cfg.errorEvery && n % cfg.errorEvery === 0) return [cfg.errorStatus, cfg.errorReason];
  return [200, ''];
}

function respond(stream, token, status, reason) {
  if (stream.destroyed || stream.closed) return;
  const session = stream.session;
  stream.on('close', () => {
    if (stream.rstCode !== NGHTTP2_NO_ERROR) { stats.lostAnswers++; return; }
    bump(status === 200 ? stats.delivered : stats.answered, token);
  });
  try {
    const id = crypto.randomUUID().toUpperCase();
    if (status === 200) {
      stream.respond({ ':status': 200, 'apns-id': id }, { endStream: true });
    } else {
      stream.respond({ ':status': status, 'apns-id': id, 'content-type': 'application/json' });
      stream.end(JSON.stringify({ reason }));
    }
  } catch (e) {
    note(stats.sessionErrors, `respond: ${e.message}`);
    return;
  }
  if (status !== 200 && reason === cfg.errorReason && cfg.lowerTo > 0 && session) {
    sendSettings(session, { maxConcurrentStreams: cfg.lowerTo });
    stats.lowered++;
    if (cfg.restoreAfterMs > 0) {
      setTimeout(() => {
        sendSettings(session, { maxConcurrentStreams: cfg.restoreTo });
        stats.restored++;
      }, cfg.restoreAfterMs);
    }
  }
}

function validSettings(s) {
  if (typeof s !== 'object' || s === null) return false;
  return Object.keys(s).every((k) => settingNames.has(k) && Number.isInteger(s[k]));
}

const control = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const reply = (code, obj) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(obj));
    };
    let body = {};
    if (chunks.length) {
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch (e) {
        return reply(400, { error: `bad JSON: ${e.message}` });
      }
    }
    const route = `${req.method} ${req.url}`;
    switch (route) {
      case 'GET /stats':
        return reply(200, { ...stats, openSessions: sessions.size });
      case 'POST /reset':
        stats = newStats();
        seq = 0;
        for (const s of sessions) s.destroy();
        sessions.clear();
        return reply(200, {});
      case 'POST /config': {
        const unknown = Object.keys(body).filter((k) => !(k in defaults));
        if (unknown.length) return reply(400, { error: `unknown keys ${unknown}` });
        const next = { ...defaults, ...body };
        if (!validSettings(next.settings)) return reply(400, { error: 'bad settings' });
        cfg = next;
        server.updateSettings({ ...protocolDefaults, ...cfg.settings });
        return reply(200, cfg);
      }
      case 'POST /settings':
        if (!validSettings(body)) return reply(400, { error: 'bad settings' });
        cfg.settings = { ...cfg.settings, ...body };
        server.updateSettings({ ...protocolDefaults, ...cfg.settings });
        for (const s of sessions) sendSettings(s, body);
        return reply(200, cfg.settings);
      default:
        return reply(404, { error: `no route ${route}` });
    }
  });
});

// A bug of the peer must not pass for one of the client: it is reported, and the peer goes on.
process.on('uncaughtException', (e) => {
  note(stats.sessionErrors, `peer: ${e.stack}`);
  process.stderr.write(`uncaught: ${e.stack}\n`);
});

let pending = 2;
function listening() {
  if (--pending > 0) return;
  process.stdout.write(JSON.stringify({ port: server.address().port, control: control.address().port }) + '\n');
}
server.listen(0, '127.0.0.1', listening);
control.listen(0, '127.0.0.1', listening);
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
