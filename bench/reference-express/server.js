// The seed's design, kept as the seed describes it, as the baseline that
// sse-hub is benchmarked against:
//
// - one `setInterval` per stream id, started by its first client;
// - a `Map` of stream id -> `Set` of open responses;
// - `clearInterval` (and the id removed) when the last client leaves;
// - `GET /sse/:id` writes `data: {"number":…,"timestamp":…,"id":…}\n\n`
//   (no `id:` lines, no replay, no limits);
// - `GET /api/streams` lists the active ids as `[{id, subscribers}]`.
//
// Environment: PORT (default 3000; 0 picks a free port), INTERVAL_MS
// (default 10000). Prints `listening on http://<host>:<port>` when ready.

'use strict';

const express = require('express');

const PORT = Number.parseInt(process.env.PORT ?? '3000', 10);
const HOST = process.env.HOST ?? '127.0.0.1';
const INTERVAL_MS = Number.parseInt(process.env.INTERVAL_MS ?? '10000', 10);
const MIN = 1;
const MAX = 1000;

/** stream id -> { clients: Set<Response>, timer } */
const streams = new Map();

function randomNumber() {
  return MIN + Math.floor(Math.random() * (MAX - MIN + 1));
}

function startStream(id) {
  const stream = { clients: new Set(), timer: null };
  stream.timer = setInterval(() => {
    const payload = JSON.stringify({
      number: randomNumber(),
      timestamp: new Date().toISOString(),
      id,
    });
    const message = `data: ${payload}\n\n`;
    for (const res of stream.clients) {
      res.write(message);
    }
  }, INTERVAL_MS);
  streams.set(id, stream);
  return stream;
}

const app = express();

app.get('/sse/:id', (req, res) => {
  const { id } = req.params;
  res.writeHead(200, {
    'Content-Type': 'text/event-stream',
    'Cache-Control': 'no-cache',
    Connection: 'keep-alive',
  });
  res.flushHeaders();

  const stream = streams.get(id) ?? startStream(id);
  stream.clients.add(res);

  req.on('close', () => {
    stream.clients.delete(res);
    if (stream.clients.size === 0) {
      clearInterval(stream.timer);
      streams.delete(id);
    }
  });
});

app.get('/api/streams', (_req, res) => {
  res.json(
    [...streams.entries()].map(([id, stream]) => ({
      id,
      subscribers: stream.clients.size,
    })),
  );
});

app.get('/healthz', (_req, res) => {
  res.json({ status: 'ok' });
});

const server = app.listen(PORT, HOST, () => {
  const { address, port } = server.address();
  console.log(`listening on http://${address}:${port}`);
});

function stop() {
  for (const stream of streams.values()) {
    clearInterval(stream.timer);
    for (const res of stream.clients) {
      res.end();
    }
  }
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
}

process.on('SIGINT', stop);
process.on('SIGTERM', stop);
