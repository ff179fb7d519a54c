// An independent meshd local-API client: Node's @grpc/grpc-js + @grpc/proto-loader, loading our
// .proto file (and the standard health/reflection protos shipped with grpc's npm packages).
// No meshd Python code is involved.
//
//   node local_api_client.js SOCKET PROTO_DIR WATCH_MESSAGE_ID
//
// Calls every RPC of meshd.v1.LocalService plus grpc.health.v1.Health and server reflection,
// prints "WATCHING" once the watch stream has started (the test then appends a log line with
// WATCH_MESSAGE_ID), and prints one JSON line "RESULT {...}" with what it saw.
'use strict';

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const [socketPath, protoDir, watchId] = process.argv.slice(2);
const target = `unix://${socketPath}`;
const opts = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

function load(file, includeDirs) {
  return grpc.loadPackageDefinition(protoLoader.loadSync(file, { ...opts, includeDirs }));
}

const local = load('meshd/v1/local.proto', [protoDir]).meshd.v1;
const healthDir = path.join(path.dirname(require.resolve('grpc-health-check/package.json')), 'proto');
const health = load('health/v1/health.proto', [healthDir]).grpc.health.v1;
const reflDir = path.join(path.dirname(require.resolve('@grpc/reflection/package.json')), 'build', 'proto');
const refl = load('grpc/reflection/v1alpha/reflection.proto', [reflDir]).grpc.reflection.v1alpha;

const creds = grpc.credentials.createInsecure();
const client = new local.LocalService(target, creds);
const healthClient = new health.Health(target, creds);
const reflClient = new refl.ServerReflection(target, creds);

function unary(c, method, req) {
  return new Promise((resolve, reject) => {
    c[method](req, { deadline: Date.now() + 30000 }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

async function expectError(method, req) {
  try {
    await unary(client, method, req);
  } catch (e) {
    return { code: e.code, details: e.details };
  }
  return { code: 0 };
}

function listServices() {
  return new Promise((resolve, reject) => {
    const call = reflClient.ServerReflectionInfo();
    call.on('data', (msg) => {
      resolve(msg.list_services_response.service.map((s) => s.name));
      call.end();
    });
    call.on('error', reject);
    call.write({ list_services: '' });
  });
}

function watchFor(messageId) {
  return new Promise((resolve, reject) => {
    const seen = { started: null, usage: null, blocks: [] };
    const call = client.Watch({ topics: ['WATCH_TOPIC_USAGE', 'WATCH_TOPIC_BLOCKS'] });
    const timer = setTimeout(() => { call.cancel(); reject(new Error('watch: timed out')); }, 60000);
    call.on('data', (msg) => {
      if (msg.event === 'started') {
        seen.started = msg.started;
        process.stdout.write('WATCHING\n');
      } else if (msg.event === 'usage' && msg.usage.message_id === messageId) {
        seen.usage = msg.usage;
      } else if (msg.event === 'block') {
        seen.blocks.push({ change: msg.block.change, total_tokens: msg.block.block.total_tokens });
      }
      if (seen.usage && seen.blocks.length) {
        clearTimeout(timer);
        call.cancel();
        resolve(seen);
      }
    });
    call.on('error', (e) => { if (e.code !== grpc.status.CANCELLED) { clearTimeout(timer); reject(e); } });
  });
}

async function main() {
  const out = {};
  out.health = {};
  for (const service of ['', 'meshd.v1.LocalService']) {
    out.health[service || '(server)'] = (await unary(healthClient, 'Check', { service })).status;
  }
  out.services = await listServices();
  const status = await unary(client, 'Status', {});
  out.status = { device_id: status.device_id, records: status.records, peers: status.peers.length };
  out.devices = (await unary(client, 'Devices', {})).devices.map((d) => ({ name: d.name, device_id: d.device_id, state: d.state, records: d.records }));
  out.reports = {};
  for (const kind of ['DAILY', 'WEEKLY', 'MONTHLY', 'SESSION', 'PROJECTS']) {
    const r = await unary(client, 'Report', { kind: `REPORT_KIND_${kind}`, filter: { timezone: 'UTC' } });
    out.reports[kind.toLowerCase()] = {
      keys: r.rows.map((x) => x.key),
      row_tokens: r.rows.map((x) => x.total_tokens),
      totals: r.totals,
    };
  }
  const monday = await unary(client, 'Report', {
    kind: 'REPORT_KIND_WEEKLY', start_of_week: 'monday', include_json: true,
    filter: { timezone: 'America/New_York', order: 'ORDER_DESC', mode: 'COST_MODE_CALCULATE', devices: ['beta'] },
  });
  out.weekly_json = monday.json;
  const blocks = await unary(client, 'Blocks', { filter: { timezone: 'UTC' }, token_limit_max: true });
  out.blocks = blocks.blocks.map((b) => ({ id: b.id, total_tokens: b.total_tokens, is_active: b.is_active, cost_usd: b.cost_usd, devices: b.devices.map((d) => d.device) }));
  out.sync = (await unary(client, 'SyncNow', { timeout_seconds: 10 })).results.map((r) => ({ device_id: r.device_id, ok: r.ok }));
  out.errors = {
    bad_timezone: await expectError('Report', { kind: 'REPORT_KIND_DAILY', filter: { timezone: 'Nope/Zone' } }),
    negative_limit: await expectError('Blocks', { token_limit: -1 }),
    huge_project: await expectError('Report', { kind: 'REPORT_KIND_DAILY', project: 'p'.repeat(1 << 20) }),
    unknown_device: await expectError('Report', { kind: 'REPORT_KIND_DAILY', filter: { devices: ['nobody'] } }),
    forget_bad_id: await expectError('Forget', { device_id: 'not-an-id' }),
  };
  const ghost = 'f'.repeat(32);
  out.forget = await unary(client, 'Forget', { device_id: ghost });
  out.forget_again = await unary(client, 'Forget', { device_id: ghost });
  const w = await watchFor(watchId);
  out.watch = { vector: w.started.vector.length, usage: w.usage, blocks: w.blocks };
  process.stdout.write(`RESULT ${JSON.stringify(out)}\n`);
}

main().then(() => process.exit(0), (e) => {
  process.stderr.write(`node client failed: ${e.stack || e}\n`);
  process.exit(1);
});
