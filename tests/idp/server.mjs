#!/usr/bin/env node
// CLI of the local identity-provider emulator.
//
//   node tests/idp/server.mjs [--port N] [--microsoft-port N] [--instance-port N]
//                             [--redirect-uri URI ...] [--config FILE]
//
// --port is the main origin (Google, the Salesforce login host, Graph, /control);
// Entra's login host and the Salesforce instance have origins of their own
// (ports 0 = free ones, listed in the ready line under `ports`).
//
// Prints exactly one line of JSON to stdout when ready, then serves until
// SIGINT/SIGTERM. Everything else (oidc-provider notices, errors) goes to stderr.

import fs from 'node:fs';
import { parseArgs } from 'node:util';

// oidc-provider prints its notices with console.info/console.log (stdout); keep
// stdout for the ready line only.
console.log = (...a) => console.error(...a);
console.info = (...a) => console.error(...a);

const { startIdp } = await import('./idp.mjs');

function usage(msg) {
  if (msg) process.stderr.write(`${msg}\n`);
  process.stderr.write('usage: node tests/idp/server.mjs [--port N] [--microsoft-port N] [--instance-port N] [--redirect-uri URI ...] [--config FILE]\n');
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      'microsoft-port': { type: 'string', default: '0' },
      'instance-port': { type: 'string', default: '0' },
      'redirect-uri': { type: 'string', multiple: true },
      config: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: false,
  }).values;
} catch (e) {
  usage(e.message);
}
if (args.help) usage();

function portArg(name) {
  const n = Number(args[name]);
  if (!Number.isInteger(n) || n < 0 || n > 65535) usage(`invalid --${name} ${args[name]}`);
  return n;
}
const port = portArg('port');
const microsoftPort = portArg('microsoft-port');
const instancePort = portArg('instance-port');

let fileConfig = {};
if (args.config) {
  try {
    fileConfig = JSON.parse(fs.readFileSync(args.config, 'utf8'));
  } catch (e) {
    usage(`cannot read --config ${args.config}: ${e.message}`);
  }
}
const { redirectUris: fileRedirects = [], ...configOverrides } = fileConfig;
const redirectUris = [...(args['redirect-uri'] || []), ...fileRedirects];

let idp;
try {
  idp = await startIdp({ port, microsoftPort, instancePort, redirectUris, config: configOverrides });
} catch (e) {
  process.stderr.write(`idp: cannot start: ${e.message}\n`);
  process.exit(1);
}

process.stdout.write(`${JSON.stringify(idp.info)}\n`);

let stopping = false;
async function stop(signal) {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`idp: ${signal}, shutting down\n`);
  const timer = setTimeout(() => process.exit(0), 2000);
  timer.unref();
  await idp.close();
  process.exit(0);
}
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
