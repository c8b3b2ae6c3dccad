// peer-runtime.mjs is a minimal Lambda Runtime API client loop for Node.js, so the
// benchmark drives the Node peer exactly as it drives TAP's Go `bootstrap`: both
// poll the same loopback Runtime API (internal/lambdaruntime) for events.
//
// It does what the managed Node.js runtime does for a plain CommonJS handler:
// resolve _HANDLER ("file.export") under LAMBDA_TASK_ROOT, report a load failure
// to /runtime/init/error, then loop: GET /next, set _X_AMZN_TRACE_ID, call the
// handler with (event, context), POST /response or /error. It uses node:http with
// a keep-alive agent (the managed runtime uses a native HTTP client), so the loop
// adds little CPU of its own to the peer's figures.
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';

const api = process.env.AWS_LAMBDA_RUNTIME_API;
const base = '/2018-06-01/runtime';
const [host, port] = api.split(':');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function request(method, urlPath, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host, port, method, path: base + urlPath, agent, headers },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (body !== undefined) {
      req.setHeader('Content-Type', 'application/json');
      req.setHeader('Content-Length', Buffer.byteLength(body));
      req.end(body);
    } else {
      req.end();
    }
  });
}

function errorPayload(err) {
  const e = err instanceof Error ? err : new Error(String(err));
  return {
    type: e.name || 'Error',
    body: JSON.stringify({
      errorType: e.name || 'Error',
      errorMessage: e.message,
      stackTrace: (e.stack || '').split('\n').slice(1).map((l) => l.trim()),
    }),
  };
}

async function postError(urlPath, typePrefix, err) {
  const { type, body } = errorPayload(err);
  await request('POST', urlPath, body, { 'Lambda-Runtime-Function-Error-Type': typePrefix + type });
}

function loadHandler() {
  const spec = process.env._HANDLER || 'index.handler';
  const dot = spec.lastIndexOf('.');
  const file = path.resolve(process.env.LAMBDA_TASK_ROOT || process.cwd(), spec.slice(0, dot));
  const mod = createRequire(import.meta.url)(file);
  const fn = mod[spec.slice(dot + 1)];
  if (typeof fn !== 'function') {
    const e = new Error(`${spec} is not a function`);
    e.name = 'HandlerNotFound';
    throw e;
  }
  return fn;
}

function makeContext(headers) {
  const deadline = Number(headers['lambda-runtime-deadline-ms']);
  const env = process.env;
  return {
    awsRequestId: headers['lambda-runtime-aws-request-id'],
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };
}

async function main() {
  let handler;
  try {
    handler = loadHandler();
  } catch (err) {
    console.error('init error:', err);
    await postError('/init/error', 'Runtime.', err).catch(() => {});
    process.exit(1);
  }
  for (;;) {
    const next = await request('GET', '/invocation/next');
    if (next.status !== 200) {
      throw new Error(`GET /next: HTTP ${next.status}`);
    }
    const id = next.headers['lambda-runtime-aws-request-id'];
    process.env._X_AMZN_TRACE_ID = next.headers['lambda-runtime-trace-id'] || '';
    let result;
    let failed;
    try {
      result = await handler(JSON.parse(next.body.toString('utf8')), makeContext(next.headers));
    } catch (err) {
      failed = err;
    }
    if (failed !== undefined) {
      console.error('handler error:', failed);
      await postError(`/invocation/${id}/error`, '', failed);
    } else {
      await request('POST', `/invocation/${id}/response`, JSON.stringify(result === undefined ? null : result));
    }
  }
}

main().catch((err) => {
  // A broken Runtime API connection is fatal, as in Lambda: the environment is torn down.
  console.error('runtime loop:', err);
  process.exit(1);
});
