/**
 * An execution environment's entry point for Node.js functions, run as a script in a fresh `node`.
 *
 *     node --expose-gc --max-old-space-size=... _bootstrap.mjs <task_root> <opt_dir or ''>
 *
 * It plays AWS's Node.js runtime interface client (aws/aws-lambda-nodejs-runtime-interface-client) and
 * speaks the same frames as _bootstrap.py (struct "!II" lengths, JSON header, raw body; see _protocol.py):
 * fd 0 brings request frames, fd 1 carries ready / log / result / dying frames back. Both are used with
 * blocking reads and writes, for two reasons. Between invocations the worker sits in a blocked read,
 * which plays Lambda's freeze: a timer a handler leaves behind runs during the next invocation, as there.
 * And nothing of ours keeps the event loop alive, so "the event loop is empty" ('beforeExit') means what
 * it means on Lambda, which is how callbackWaitsForEmptyEventLoop is honoured below.
 *
 * AWS runs two generations of that client, chosen by AWS_EXECUTION_ENV, and so does this file:
 *  - classic (nodejs20.x, nodejs22.x): the JavaScript client (src/Runtime.js, CallbackContext.js,
 *    UserFunction.js). Callback handlers, callbackWaitsForEmptyEventLoop, a sync handler's return value
 *    ignored, 'Uncaught Exception' / 'Unhandled Promise Rejection' answered and the process ended (129/128).
 *  - modern (nodejs24.x): the TypeScript rewrite (src/runtime, src/function). Callback handlers refused
 *    at init, the handler's value awaited, and no process-level error handlers, so an uncaught exception
 *    or rejection crashes Node (exit status 1) as it does there.
 * Console output never reaches fd 1: console.* becomes Lambda's text log lines and process.stdout /
 * process.stderr writes become one log event per line, all streamed to the lab every few milliseconds.
 */

import fs from 'node:fs';
import path from 'node:path';
import util from 'node:util';
import Module, { createRequire } from 'node:module';
import { Readable, Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const BOOTSTRAP = fileURLToPath(import.meta.url);
const [TASK_ROOT, OPT_DIR = ''] = process.argv.slice(2);
const NODE_MAJOR = Number((/nodejs(\d+)/.exec(process.env.AWS_EXECUTION_ENV || '') || [])[1] || 22);
const MODERN = NODE_MAJOR >= 24;
const REQUEST_ID = Symbol.for('aws.lambda.runtime.requestId'); // where AWS's client keeps it; tools read it
const BEFORE_EXIT = Symbol.for('aws.lambda.beforeExit');

// ---- frames ----------------------------------------------------------------------------------------
function sleepMs(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function writeFrame(header, body = Buffer.alloc(0)) {
  const head = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeUInt32BE(head.length, 0);
  prefix.writeUInt32BE(body.length, 4);
  const data = Buffer.concat([prefix, head, body]);
  for (let off = 0; off < data.length;) {
    try {
      off += fs.writeSync(1, data, off);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
      sleepMs(1); // only if someone made the pipe non-blocking
    }
  }
}

function readExact(n) {
  const buf = Buffer.alloc(n);
  for (let off = 0; off < n;) {
    let got;
    try {
      got = fs.readSync(0, buf, off, n - off, null);
    } catch (e) {
      if (e.code === 'EAGAIN') { sleepMs(1); continue; }
      if (e.code === 'EOF') return null;
      throw e;
    }
    if (got === 0) return null;
    off += got;
  }
  return buf;
}

function readFrame() {
  const prefix = readExact(8);
  if (!prefix) return null;
  const head = readExact(prefix.readUInt32BE(0));
  const bodyLength = prefix.readUInt32BE(4);
  const body = bodyLength ? readExact(bodyLength) : Buffer.alloc(0);
  return head && body ? [JSON.parse(head.toString()), body] : null;
}

// ---- the log: capped like _bootstrap.py's, streamed only while the lab is reading an invocation -----
const HEAD_LIMIT = 1 << 20; // keep the first 1 MB of an invocation's output...
const TAIL_LIMIT = 8 << 10; // ...and its last 8 KB, so LogResult's 4 KB tail is always exact
const STREAM_MS = 20;
const PARTIAL_LIMIT = 256 << 10; // an unfinished line becomes an event at CloudWatch's event size
let logPending = [], logTail = [], logKept = 0, logTailChars = 0, logDropped = 0;
let streaming = false, lastStreamed = 0, streamTimer = null;

function addLog(message) {
  const stamp = Date.now();
  const room = HEAD_LIMIT - logKept;
  if (room > 0) { // a line longer than the room left is cut: its start ends the head...
    logPending.push([stamp, message.slice(0, room)]);
    logKept += Math.min(room, message.length);
    streamSoon();
    message = message.slice(room);
    if (!message) return;
  }
  if (message.length > TAIL_LIMIT) { // ...and only its last 8 KB can reach the tail
    logDropped += message.length - TAIL_LIMIT;
    message = message.slice(-TAIL_LIMIT);
  }
  logTail.push([stamp, message]);
  logTailChars += message.length;
  while (logTailChars > TAIL_LIMIT && logTail.length > 1) {
    const first = logTail.shift();
    logDropped += first[1].length;
    logTailChars -= first[1].length;
  }
}

function streamSoon() {
  // Sent from inside console.log itself when the last frame is old, so a handler spinning in a loop
  // still shows what it printed before a timeout; otherwise an unref'd timer batches a burst.
  if (!streaming) return; // outside an invocation the lab is not reading: a frame could deadlock the pipe
  if (Date.now() - lastStreamed >= STREAM_MS) return streamNow();
  if (!streamTimer) {
    streamTimer = setTimeout(() => { streamTimer = null; if (streaming) streamNow(); }, STREAM_MS).unref();
  }
}

function streamNow() {
  lastStreamed = Date.now();
  if (!logPending.length) return;
  const events = logPending;
  logPending = [];
  writeFrame({ kind: 'log', request_id: current ? current.id : 'init', log: events });
}

function takeLog() {
  stdout.flushLine();
  stderr.flushLine();
  const events = logPending;
  if (logDropped) events.push([logTail[0][0], `[lambda-lab] ${logDropped} characters of log output left out here`]);
  events.push(...logTail);
  logPending = []; logTail = []; logKept = 0; logTailChars = 0; logDropped = 0;
  return events;
}

// process.stdout / process.stderr: each completed line is one log event, as Lambda records raw stdout.
function lineStream() {
  let partial = '';
  const stream = new Writable({
    decodeStrings: false,
    write(chunk, encoding, done) {
      const otherEncoding = encoding && !/^utf-?8$/i.test(encoding) && Buffer.isEncoding(encoding);
      const text = typeof chunk !== 'string' ? Buffer.from(chunk).toString()
        : otherEncoding ? Buffer.from(chunk, encoding).toString() : chunk;
      // only the new text is split, and an unfinished line is cut at PARTIAL_LIMIT: writes without a newline
      // cost linear time and bounded memory
      const lines = text.split('\n');
      lines[0] = partial + lines[0];
      partial = lines.pop();
      for (const line of lines) addLog(line);
      if (partial.length >= PARTIAL_LIMIT) {
        const cut = partial.length - (partial.length % PARTIAL_LIMIT);
        for (let start = 0; start < cut; start += PARTIAL_LIMIT) addLog(partial.slice(start, start + PARTIAL_LIMIT));
        partial = partial.slice(cut);
      }
      done();
    },
  });
  stream.flushLine = () => { if (partial) { addLog(partial); partial = ''; } };
  stream.isTTY = false;
  return stream;
}

// Replaced before anything touches the real ones: Node would make fd 1 non-blocking and write to it.
const stdout = lineStream(), stderr = lineStream();
for (const [name, value] of [['stdout', stdout], ['stderr', stderr], ['stdin', Readable.from([])]]) {
  Object.defineProperty(process, name, { value, configurable: true, enumerable: true, writable: true });
}

// console.*: `<ISO time>\t<request id>\t<LEVEL>\t<util.format(...)>`, one event per call (LogPatch.js).
const LEVELS = { TRACE: 1, DEBUG: 2, INFO: 3, WARN: 4, ERROR: 5, FATAL: 6 };

// LoggingConfig LogFormat=JSON: each console call is one JSON object (LogPatch.js formatJsonMessage)
const JSON_LOGS = (process.env.AWS_LAMBDA_LOG_FORMAT || '').toUpperCase() === 'JSON';

function logLine(level, message, ...params) {
  // Before the first invocation the classic client prints "undefined", the modern one "-".
  const id = globalThis[REQUEST_ID] ?? (MODERN ? '-' : undefined);
  if (JSON_LOGS) {
    addLog(jsonLine(id, new Date().toISOString(), level, message, ...params).replace(/\n/g, '\r'));
    return;
  }
  addLog(`${new Date().toISOString()}\t${id}\t${level}\t${util.format(message, ...params)}`);
}

function jsonErrorReplacer(_key, value) {
  if (!(value instanceof Error)) return value;
  return Object.assign({ errorType: value?.constructor?.name ?? 'UnknownError', errorMessage: shown(value.message),
                         stackTrace: typeof value.stack === 'string' ? shown(value.stack).split('\n') : value.stack },
                       value);
}

function jsonLine(requestId, timestamp, level, ...messageParams) {
  const result = { timestamp, level, requestId };
  if (messageParams.length === 1) {
    result.message = messageParams[0];
    try {
      return JSON.stringify(result, jsonErrorReplacer);
    } catch {
      result.message = util.format(result.message);
      return JSON.stringify(result);
    }
  }
  result.message = shown(util.format(...messageParams));
  const error = messageParams.find((param) => param instanceof Error);
  if (error) {
    result.errorType = error?.constructor?.name ?? 'UnknownError';
    result.errorMessage = error.message;
    result.stackTrace = typeof error.stack === 'string' ? shown(error.stack).split('\n') : [];
  }
  return JSON.stringify(result);
}

function patchConsole() {
  const least = LEVELS[(process.env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase()] ?? LEVELS.TRACE;
  const make = (level) => (LEVELS[level] >= least ? (msg, ...params) => logLine(level, msg, ...params) : () => {});
  console.trace = make('TRACE'); // a level, as in AWS's client: no stack is printed
  console.debug = make('DEBUG');
  console.info = make('INFO');
  console.log = console.info;
  console.warn = make('WARN');
  console.error = make('ERROR');
  console.fatal = make('FATAL');
}

// ---- errors, shaped as AWS's client shapes them (Errors.js, utils/error.ts) -------------------------
const PATHS = []; // [local, shown]: stack traces and messages show /var/task, /opt and /var/runtime

function showPathsAs(local, shown) {
  if (!local) return;
  let real = local;
  try { real = fs.realpathSync(local); } catch { /* keep the path as given */ }
  for (const p of new Set([real, local])) {
    for (const form of [p, JSON.stringify(p).slice(1, -1), pathToFileURL(p).pathname]) PATHS.push([form, shown]);
  }
}

function shown(text) {
  if (typeof text !== 'string') return text;
  for (const [local, as] of PATHS) text = text.split(local).join(as);
  return text;
}

function runtimeError(name) {
  const cls = { [name]: class extends Error {} }[name];
  cls.prototype.name = `Runtime.${name}`; // so the stack's first line reads "Runtime.<name>: ..."
  return cls;
}
const HandlerNotFound = runtimeError('HandlerNotFound');
const MalformedHandlerName = runtimeError('MalformedHandlerName');
const CallbackHandlerDeprecated = runtimeError('CallbackHandlerDeprecated');
const JSONStringifyError = runtimeError('JSONStringifyError');
const NodeJsExit = runtimeError('NodeJsExit');
const ImportModuleError = runtimeError('ImportModuleError');
const UserCodeSyntaxError = runtimeError('UserCodeSyntaxError');

class UnhandledPromiseRejection extends Error {
  constructor(reason, promise) {
    super(reason);
    this.reason = reason;
    this.promise = promise;
  }
}
UnhandledPromiseRejection.prototype.name = 'Runtime.UnhandledPromiseRejection';

function isErrorLike(e) {
  return e && typeof e.name === 'string' && typeof e.message === 'string' && typeof e.stack === 'string'
    && e.name && e.message && e.stack;
}

/** The error object Lambda answers with: {errorType, errorMessage, trace}. */
function rapidError(error) {
  const del = (s) => (typeof s === 'string' ? s.replace(/\x7F/g, '%7F') : s);
  try {
    if (util.types.isNativeError(error) || error instanceof Error || isErrorLike(error)) {
      return { errorType: del(error.name), errorMessage: shown(del(error.message)),
               trace: typeof error.stack === 'string' ? shown(del(error.stack)).split('\n') : [] };
    }
    return { errorType: typeof error, errorMessage: shown(MODERN ? String(error) : error.toString()), trace: [] };
  } catch {
    return { errorType: 'handled', trace: [], errorMessage: 'callback called with Error argument, but there was a '
      + 'problem while retrieving one or more of its message, name, and stack' };
  }
}

/** `\t{json}` with the error's enumerable properties and its stack as lines, for the log (toFormatted). */
function formatted(error) {
  const withProperties = (_key, value) => {
    if (!(value instanceof Error)) return shown(value);
    const out = Object.assign({ errorType: value.name, errorMessage: value.message, code: value.code }, value);
    if (typeof value.stack === 'string') out.stack = value.stack.split('\n');
    return out;
  };
  try {
    return '\t' + JSON.stringify(error, withProperties);
  } catch {
    return '\t' + JSON.stringify(rapidError(error));
  }
}

function logError(message, error) { // structuredConsole.logError
  const asError = error instanceof Error ? error : new Error(MODERN ? String(error) : error);
  if (JSON_LOGS) console.error(asError); // the JSON format logs the error object alone
  else console.error(message, formatted(asError));
}

function serialize(result) {
  try {
    // undefined answers null; so does a bare function or symbol, which JSON.stringify turns into nothing
    return Buffer.from(JSON.stringify(result === undefined ? null : result) ?? 'null');
  } catch {
    throw MODERN ? new JSONStringifyError('Unable to stringify response body')
      : new Error('Unable to stringify response body');
  }
}

// ---- loading the handler (UserFunction.js; function/module-loader.ts in the rewrite) ---------------
function splitHandler(full) {
  if (full.includes('..')) {
    throw new MalformedHandlerName(`'${full}' is not a valid handler name. Use absolute paths when specifying `
      + 'root directories in handler names.');
  }
  const moduleAndHandler = path.posix.basename(full);
  const moduleRoot = full.substring(0, full.indexOf(moduleAndHandler));
  const match = /^([^.]*)\.(.*)$/.exec(moduleAndHandler); // the FIRST dot: index.a.b is handler a.b of index
  if (!match) throw new MalformedHandlerName('Bad handler');
  return [moduleRoot, match[1], match[2]];
}

const importFile = async (file) => (fs.existsSync(file) ? import(pathToFileURL(file).href) : undefined);
const requireFile = (file) => (fs.existsSync(file) ? require(file) : undefined);

function packageTypeIsModule(folder) {
  if (folder.endsWith('/node_modules')) return false;
  const pj = path.join(folder, 'package.json');
  if (fs.existsSync(pj)) {
    try {
      return JSON.parse(fs.readFileSync(pj)).type === 'module';
    } catch (e) {
      console.warn(`${pj} cannot be read, it will be ignored for ES module detection purposes.`, e);
      return false;
    }
  }
  const parent = path.resolve(folder, '..');
  return parent === folder ? false : packageTypeIsModule(parent);
}

async function loadClassicModule(appRoot, moduleRoot, name) {
  const file = path.resolve(appRoot, moduleRoot, name);
  const extensionless = requireFile(file);
  if (extensionless) return extensionless;
  const typeModule = packageTypeIsModule(path.dirname(file));
  const asCommonJs = typeModule ? undefined : requireFile(file + '.js');
  if (asCommonJs) return asCommonJs;
  const loaded = (typeModule && (await importFile(file + '.js'))) || (await importFile(file + '.mjs'))
    || requireFile(file + '.cjs');
  if (loaded) return loaded;
  return require(require.resolve(name, { paths: [appRoot, moduleRoot] }));
}

async function loadModernModule(appRoot, moduleRoot, name) {
  const file = path.resolve(appRoot, moduleRoot, name);
  for (const extension of ['', '.js', '.mjs', '.cjs']) {
    const loaded = await importFile(file + extension);
    if (loaded) return loaded;
  }
  return require(require.resolve(name, { paths: [appRoot, path.join(appRoot, moduleRoot)] }));
}

function findIn(handlerPath, object) {
  return handlerPath.split('.').reduce((nested, key) => {
    if (!MODERN) return nested && nested[key];
    return nested && typeof nested === 'object' ? nested[key] : undefined;
  }, object);
}

/** Load the handler's module; named as AWS's function is, so an ImportModuleError's trace reads alike. */
async function _loadUserApp(appRoot, moduleRoot, name) {
  try {
    return await (MODERN ? loadModernModule(appRoot, moduleRoot.replace(/\/$/, ''), name)
      : loadClassicModule(appRoot, moduleRoot, name));
  } catch (e) {
    // String(e) becomes the message: "Error: Cannot find module 'x'\nRequire stack:\n- ..."
    if (e instanceof SyntaxError) {
      const error = new UserCodeSyntaxError(String(e));
      if (MODERN) error.stack = e.stack; // the rewrite keeps the cause's stack
      throw error;
    }
    if (e && e.code === 'MODULE_NOT_FOUND') throw new ImportModuleError(String(e));
    throw e; // e.g. an ES module's missing package (ERR_MODULE_NOT_FOUND): answered as a plain Error
  }
}

async function loadHandler(appRoot, full) {
  const [moduleRoot, name, handlerPath] = splitHandler(full);
  const app = await _loadUserApp(appRoot, moduleRoot, name);
  let handler = findIn(handlerPath, app);
  if (!handler && MODERN && app && typeof app === 'object' && 'default' in app) { // the rewrite looks there too
    handler = findIn(handlerPath, app.default);
  }
  if (!handler) throw new HandlerNotFound(`${full} is undefined or not exported`);
  if (typeof handler !== 'function') throw new HandlerNotFound(`${full} is not a function`);
  return handler;
}

// ---- one invocation's answer ------------------------------------------------------------------------
let readySent = false;
let current = null; // {id, wall0, cpu0, answer}: the invocation the lab is waiting on

function sendReady(error) {
  readySent = true;
  writeFrame({ kind: 'ready', request_id: 'init', error, log: takeLog(), peak_rss_kb: peakRssKb(), cpu_total_ms: cpuTotalMs() });
}

function answer(id, isError, body) {
  // RAPID takes one answer per invocation; later ones are refused (and ignored here).
  if (!current || current.id !== id || current.answer) return;
  const cpu = process.cpuUsage(current.cpu0);
  current.answer = { isError, body, wallMs: performance.now() - current.wall0, cpuMs: (cpu.user + cpu.system) / 1000 };
}

const postResponse = (result, id) => answer(id, false, serialize(result));
const postError = (error, id) => answer(id, true, Buffer.from(JSON.stringify(rapidError(error))));

/** Send the answer recorded by answer(); done just before the next read, so what the event loop runs
 *  between the answer and the freeze (an unhandled rejection's log line, say) is in this invocation. */
function sendAnswer() {
  if (!current || !current.answer) return;
  const { isError, body, wallMs, cpuMs } = current.answer;
  const { id } = current;
  current = null;
  streaming = false;
  writeFrame({ kind: 'result', request_id: id, error: isError, wall_ms: wallMs, cpu_ms: cpuMs, peak_rss_kb: peakRssKb(),
               cpu_total_ms: cpuTotalMs(), log: takeLog() }, body);
}

/** Block until the lab sends the next event (the freeze); returns [request, event]. */
function nextInvocation() {
  sendAnswer();
  const frame = readFrame();
  if (!frame) process.exit(0); // the lab has closed the environment
  const [request, body] = frame;
  current = { id: request.request_id, wall0: performance.now(), cpu0: process.cpuUsage(), answer: null };
  streaming = true;
  globalThis[REQUEST_ID] = request.request_id;
  // as InvokeContext._forwardXRay: this invocation's trace header, or none
  if (request.trace_header) process.env._X_AMZN_TRACE_ID = request.trace_header;
  else delete process.env._X_AMZN_TRACE_ID;
  return [request, body.length ? JSON.parse(body.toString()) : {}];
}

function contextData(request) {
  const deadline = Date.now() + request.remaining_ms;
  return {
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE, // a string, as on Lambda
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: request.client_context ?? undefined,
    identity: undefined, // only Cognito-authenticated mobile calls carry one
    invokedFunctionArn: request.invoked_function_arn,
    awsRequestId: request.request_id,
    tenantId: request.tenant_id ?? undefined,
    getRemainingTimeInMillis: () => deadline - Date.now(), // not clamped at 0, as in AWS's client
  };
}

// ---- classic client: nodejs20.x / nodejs22.x (Runtime.js, CallbackContext.js, index.mjs) -----------
const setBeforeExit = (listener) => { globalThis[BEFORE_EXIT] = listener; };
const resetBeforeExit = () => setBeforeExit(() => {});

const errorCallbacks = { // replaced per invocation: an error is that invocation's answer
  uncaughtException: (error) => postInitError(error, () => process.exit(129)),
  unhandledRejection: (error) => postInitError(error, () => process.exit(128)),
};

function postInitError(error, then) {
  if (!readySent) sendReady(rapidError(error));
  then();
}

function callbackContext(id, scheduleNext) {
  const postFailure = (err) => { logError('Invoke Error', err); postError(err, id); scheduleNext(); };
  let completed = false;
  const complete = (result) => {
    if (completed) {
      console.error('Invocation has already been reported as done. Cannot call complete more than once per '
        + 'invocation.');
      return;
    }
    completed = true;
    postResponse(result, id);
    scheduleNext();
  };
  let waitForEmptyEventLoop = true;
  const callback = (err, result) => {
    resetBeforeExit();
    if (err !== undefined && err !== null) postFailure(err);
    else if (!waitForEmptyEventLoop) complete(result);
    // callbackWaitsForEmptyEventLoop: answer only once the event loop has nothing left to run ('beforeExit')
    else setBeforeExit(() => setImmediate(() => complete(result)));
  };
  const done = (err, result) => {
    resetBeforeExit();
    if (err !== undefined && err !== null) postFailure(err);
    else complete(result);
  };
  const context = {
    get callbackWaitsForEmptyEventLoop() { return waitForEmptyEventLoop; },
    set callbackWaitsForEmptyEventLoop(value) { waitForEmptyEventLoop = value; },
    succeed: (result) => done(null, result),
    fail: (err) => (err === undefined || err === null ? done('handled') : done(err, null)),
    done,
  };
  let finished = false; // only the first of callback / succeed / fail / done counts
  const once = (fn) => (...args) => { if (!finished) { fn(...args); finished = true; } };
  for (const key of ['succeed', 'fail', 'done']) context[key] = once(context[key]);
  return [once(callback), context, () => { completed = true; }];
}

class Runtime { // named so a handler's stack frame reads "at Runtime.handler", as on Lambda
  constructor(handler) {
    this.handler = handler;
    this.isAsync = handler.constructor?.name === 'AsyncFunction';
  }

  scheduleIteration() {
    setImmediate(() => {
      try {
        this.handleOnce();
      } catch (err) {
        console.log(`Unexpected Top Level Error: ${err.toString()}`);
        errorCallbacks.uncaughtException(err);
      }
    });
  }

  handleOnce() {
    const [request, event] = nextInvocation();
    const id = request.request_id;
    const [callback, context, markCompleted] = callbackContext(id, () => this.scheduleIteration());
    try {
      errorCallbacks.uncaughtException = (error) => { postError(error, id); process.exit(129); };
      errorCallbacks.unhandledRejection = (error) => { postError(error, id); process.exit(128); };
      // The handler neither answered nor left anything to run: async handlers fail, others answer null.
      setBeforeExit(() => {
        markCompleted();
        if (this.isAsync) {
          const error = new NodeJsExit('The Lambda runtime client detected an unexpected Node.js exit code. This is '
            + 'most commonly caused by a Promise that was never settled. For more information, see '
            + 'https://nodejs.org/docs/latest/api/process.html#exit-codes');
          logError('Invoke Error', error);
          postError(error, id);
        } else {
          postResponse(null, id);
        }
        this.scheduleIteration();
      });
      const result = this.handler(event, Object.assign(context, contextData(request)), callback);
      if (result && typeof result.then === 'function') result.then(context.succeed, context.fail).catch(context.fail);
    } catch (err) {
      callback(err);
    }
  }
}

async function startClassic() {
  process.on('uncaughtException', (error) => {
    logError('Uncaught Exception', error);
    errorCallbacks.uncaughtException(error);
  });
  process.on('unhandledRejection', (reason, promise) => {
    const error = new UnhandledPromiseRejection(reason, promise);
    logError('Unhandled Promise Rejection', error);
    errorCallbacks.unhandledRejection(error);
  });
  resetBeforeExit();
  process.on('beforeExit', () => globalThis[BEFORE_EXIT]());
  let handler;
  try {
    handler = await loadHandler(TASK_ROOT, process.env._HANDLER);
  } catch (error) { // AWS's index.mjs lets this reach its uncaughtException listener
    logError('Uncaught Exception', error);
    errorCallbacks.uncaughtException(error);
    return;
  }
  if (handler.length === 3 && handler.constructor?.name !== 'AsyncFunction'
      && process.env.AWS_LAMBDA_NODEJS_DISABLE_CALLBACK_WARNING === undefined) {
    console.warn('AWS Lambda plans to remove support for callback-based function handlers starting with Node.js 24. '
      + 'You will need to update this function to use an async handler to use Node.js 24 or later. For more '
      + 'information and to provide feedback on this change, see '
      + 'https://github.com/aws/aws-lambda-nodejs-runtime-interface-client/issues/137. To disable this warning, '
      + 'set the AWS_LAMBDA_NODEJS_DISABLE_CALLBACK_WARNING environment variable.');
  }
  sendReady(null);
  new Runtime(handler).scheduleIteration();
}

// ---- modern client: nodejs24.x (runtime/runtime.ts, buffered-invoke-processor.ts) ------------------
class BufferedInvokeProcessor { // named so a handler's frame reads as on Lambda
  constructor(handler) {
    this.handler = handler;
  }

  async processInvoke(request, event) {
    const id = request.request_id;
    try {
      const result = await this.handler(event, contextData(request));
      await new Promise((resolve) => setImmediate(resolve)); // LifecycleManager.succeed waits a turn first
      postResponse(result, id);
    } catch (err) {
      await new Promise((resolve) => setImmediate(resolve));
      logError('Invoke Error', err);
      postError(err, id);
    }
  }
}

async function startModern() {
  let handler;
  try {
    handler = await loadHandler(TASK_ROOT, process.env._HANDLER);
    if (handler.length >= 3) {
      throw new CallbackHandlerDeprecated('ERROR: AWS Lambda has removed support for callback-based function '
        + 'handlers starting with Node.js 24. You need to modify this function to use a supported handler '
        + 'signature to use Node.js 24 or later. For more information see '
        + 'https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html.');
    }
  } catch (error) {
    logError('Init Error', error);
    sendReady(rapidError(error));
    process.exit(1);
  }
  sendReady(null);
  const processor = new BufferedInvokeProcessor(handler);
  for (;;) {
    const [request, event] = nextInvocation();
    await processor.processInvoke(request, event);
  }
}

// ---- the process -------------------------------------------------------------------------------------
function peakRssKb() {
  // VmHWM starts afresh at exec; getrusage's maxrss would carry the lab's own peak across fork and exec.
  try {
    const match = /VmHWM:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'latin1'));
    if (match) return Number(match[1]);
  } catch { /* not Linux */ }
  return process.resourceUsage().maxRSS;
}

function cpuTotalMs() {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

process.on('exit', () => {
  try {
    if (current && current.answer) {
      sendAnswer(); // answered, then ended (classic 128 / 129): the answer stands
    } else if (current) {
      writeFrame({ kind: 'dying', request_id: current.id, log: takeLog() }); // the handler ended the process (process.exit, a crash)
    } else if (!readySent) {
      // Died while loading: the lab reads no frame then, but it shows the environment's stderr.
      const text = takeLog().map((event) => event[1]).join('\n');
      if (text) fs.writeSync(2, text + '\n');
    }
  } catch { /* the lab has gone */ }
});

// Extensions' fixed localhost ports, served by the lab on free ones (see _redirect.py): "2773=41234,...".
function redirectLoopback(value) {
  const ports = new Map(value.split(',').filter(Boolean).map((pair) => pair.split('=').map(Number)));
  if (!ports.size) return;
  const net = require('node:net');
  const loopback = (host) => host === undefined || host === null || host === 'localhost' || host === '::1'
    || String(host).startsWith('127.');
  const connect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function (...args) {
    // http.request, fetch (undici) and net.connect pass [options, callback]; a caller may pass (port, host)
    const options = Array.isArray(args[0]) ? args[0][0] : args[0];
    if (options && typeof options === 'object' && !options.path && ports.has(Number(options.port))
        && loopback(options.host)) {
      options.port = ports.get(Number(options.port));
      options.host = '127.0.0.1';
    } else if ((typeof options === 'number' || typeof options === 'string') && ports.has(Number(options))
        && loopback(typeof args[1] === 'string' ? args[1] : undefined)) {
      args.splice(0, typeof args[1] === 'string' ? 2 : 1, ports.get(Number(options)), '127.0.0.1');
    }
    return connect.apply(this, args);
  };
}

function main() {
  redirectLoopback(process.env._LAMBDA_LAB_LOOPBACK_PORTS || '');
  delete process.env._LAMBDA_LAB_LOOPBACK_PORTS;
  patchConsole();
  showPathsAs(TASK_ROOT, '/var/task');
  showPathsAs(OPT_DIR, '/opt');
  showPathsAs(BOOTSTRAP, '/var/runtime/index.mjs');
  if (!process.env.NODE_PATH) { // as AWS's bootstrap script sets it when the function's configuration does not
    const layers = OPT_DIR ? [path.join(OPT_DIR, 'nodejs', `node${NODE_MAJOR}`, 'node_modules'),
      path.join(OPT_DIR, 'nodejs', 'node_modules')] : [];
    process.env.NODE_PATH = [...layers, TASK_ROOT].join(path.delimiter);
    Module._initPaths?.(); // require() reads NODE_PATH once at startup; ES modules never do (nor on Lambda)
  }
  if (!['1', 'true'].includes(process.env.AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA)) {
    globalThis.awslambda = {
      streamifyResponse: () => {
        throw new Error('lambda-lab runs buffered handlers only: awslambda.streamifyResponse (response '
          + 'streaming) is not available in the lab.');
      },
    };
  }
  return MODERN ? startModern() : startClassic();
}

main();
