#!/usr/bin/env node
/**
 * Makes `require('@tensorflow/tfjs-node')` work on the libtensorflow the
 * project is tested with (2.15.1), with or without Google's CDN.
 *
 * Two routes install libtensorflow:
 *
 *   wheel: take libtensorflow 2.15.1 from the `tensorflow-cpu` wheel on PyPI
 *      (through pip, so pip's mirror settings apply), stage its C library and
 *      headers where tfjs-node's binding.gyp looks, and build the addon from
 *      source with node-gyp against the local Node headers;
 *   cdn: tfjs-node's own installer, unchanged, which downloads libtensorflow
 *      2.9.1 and a prebuilt addon from storage.googleapis.com.
 *
 * `auto` (the default, see chooseRoutes) prefers the wheel when a Python with
 * pip is available, so that every user runs the tested 2.15.1, and falls back
 * to the CDN. Nothing is done when the addon already loads 2.15.1, or when it
 * loads another version and there is no pip to fetch 2.15.1 with.
 *
 * The wheel is cached between installs. Each run ends by loading the addon
 * and training one tiny convolution step on it.
 *
 * Environment:
 *   CRNN_LIBTENSORFLOW=auto|cdn|wheel|skip  choose the route (default auto)
 *   CRNN_TF_WHEEL=/path/to/tensorflow_cpu-….whl  use this wheel file
 *   CRNN_CACHE_DIR=dir  where wheels are cached (default ~/.cache/crnn-mnist)
 *   PYTHON=python3  the Python whose pip downloads the wheel
 *
 * With --soft (as npm's postinstall runs it) a failure prints the cause and
 * exits 0, so that the rest of the install completes and the library falls
 * back to the pure-JavaScript backend; run directly, it exits 1.
 */
'use strict';

const cp = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const https = require('https');

/** The libtensorflow the project is tested and measured with: the wheel route's. */
const WANTED_VERSION = '2.15.1';
/** The wheel whose libtensorflow_cc.so.2 carries the C and eager C APIs tfjs-node 4.22 binds. */
const WHEEL_PACKAGE = {
  x64: { name: 'tensorflow-cpu', version: WANTED_VERSION, platform: 'manylinux2014_x86_64' },
  arm64: { name: 'tensorflow', version: WANTED_VERSION, platform: 'manylinux2014_aarch64' },
};
/** Headers the binding includes, directly or through c_api.h. */
const HEADER_DIRS = ['tensorflow/c/', 'tensorflow/core/platform/', 'tsl/c/', 'tsl/platform/'];
const TFJS_LIBTENSORFLOW_VERSION = '2.9.1';

const soft = process.argv.includes('--soft');
const mode = (process.env.CRNN_LIBTENSORFLOW || 'auto').toLowerCase();

function log(message) {
  console.log(`[libtensorflow] ${message}`);
}

class InstallError extends Error {}

function tfjsNodeDir() {
  try {
    return path.dirname(require.resolve('@tensorflow/tfjs-node/package.json'));
  } catch {
    throw new InstallError('@tensorflow/tfjs-node is not installed: run `npm install` first.');
  }
}

/**
 * Loads tfjs-node in a fresh process and trains one conv step; returns the
 * backend name and libtensorflow's version (TF_Version() through tfjs-node's
 * binding; null if unreadable), or null when the addon does not load.
 */
function probeNativeBackend(verbose) {
  const script = `
    const tf = require('@tensorflow/tfjs-node');
    const x = tf.randomNormal([2, 8, 8, 1]);
    const w = tf.variable(tf.randomNormal([3, 3, 1, 4]));
    const opt = tf.train.adam(1e-3);
    const loss = opt.minimize(() => tf.conv2d(x, w, 1, 'same').square().mean(), true);
    if (!Number.isFinite(loss.dataSync()[0])) throw new Error('non-finite loss');
    const binding = tf.backend().binding;
    console.log('BACKEND=' + tf.getBackend() + ' LIBTENSORFLOW=' + ((binding && binding.TF_Version) || '?'));
  `;
  const result = cp.spawnSync(process.execPath, ['-e', script], {
    cwd: path.join(__dirname, '..'),
    encoding: 'utf8',
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
  });
  const match = /BACKEND=(\S+) LIBTENSORFLOW=(\S+)/.exec(result.stdout || '');
  if (result.status === 0 && match) return { backend: match[1], libtensorflow: match[2] === '?' ? null : match[2] };
  if (verbose) {
    const detail = (result.stderr || '').trim().split('\n').filter(Boolean).slice(-3).join('\n  ');
    log(`the native addon does not load yet:\n  ${detail}`);
  }
  return null;
}

function cdnUrl() {
  const host = process.env.TFJS_NODE_CDN_STORAGE || process.env.npm_config_TFJS_NODE_CDN_STORAGE ||
    process.env.CDN_STORAGE || 'https://storage.googleapis.com/';
  const base = process.env.TFJS_NODE_BASE_URI || process.env.npm_config_TFJS_NODE_BASE_URI ||
    `${host}tensorflow/libtensorflow/libtensorflow-`;
  return `${base}cpu-linux-x86_64-${TFJS_LIBTENSORFLOW_VERSION}.tar.gz`;
}

/** Resolves to null when the URL answers, else to the reason it does not. */
function checkReachable(url, timeoutMs = 8000) {
  return new Promise((resolve) => {
    const client = url.startsWith('https:') ? https : require('http');
    const request = client.request(url, { method: 'HEAD', timeout: timeoutMs }, (response) => {
      response.resume();
      resolve(response.statusCode && response.statusCode < 400 ? null : `HTTP ${response.statusCode}`);
    });
    request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    request.on('error', (err) => resolve(err.code || err.message));
    request.end();
  });
}

function run(command, args, options = {}) {
  log(`$ ${[command, ...args].join(' ')}`);
  const result = cp.spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.error) throw new InstallError(`${command} could not be started: ${result.error.message}`);
  if (result.status !== 0) throw new InstallError(`${command} ${args[0] || ''} exited with status ${result.status}`);
}

function installFromCdn(dir) {
  // tfjs-node's own installer, exactly as `npm install` would run it.
  run(process.execPath, ['scripts/install.js'], { cwd: dir });
}

function cacheDir() {
  const base = process.env.CRNN_CACHE_DIR ||
    path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'crnn-mnist');
  fs.mkdirSync(base, { recursive: true });
  return base;
}

function pythonCandidates() {
  return [process.env.PYTHON, 'python3', 'python'].filter(Boolean);
}

/** The first Python whose `-m pip` runs, or null. */
function pipPython() {
  for (const candidate of pythonCandidates()) {
    const check = cp.spawnSync(candidate, ['-m', 'pip', '--version'], { encoding: 'utf8' });
    if (check.status === 0) return candidate;
  }
  return null;
}

function findPython() {
  const python = pipPython();
  if (python) return python;
  const candidates = pythonCandidates();
  throw new InstallError(
    `no Python with pip found (tried ${candidates.join(', ')}); pip downloads the tensorflow-cpu wheel. ` +
      'Install python3-pip, or set CRNN_TF_WHEEL to a downloaded wheel file.');
}

function obtainWheel() {
  if (process.env.CRNN_TF_WHEEL) {
    if (!fs.existsSync(process.env.CRNN_TF_WHEEL)) {
      throw new InstallError(`CRNN_TF_WHEEL=${process.env.CRNN_TF_WHEEL} does not exist`);
    }
    return process.env.CRNN_TF_WHEEL;
  }
  const spec = WHEEL_PACKAGE[process.arch];
  if (os.platform() !== 'linux' || !spec) {
    throw new InstallError(`the wheel route supports Linux x64 and arm64, not ${os.platform()} ${process.arch}`);
  }
  const dir = cacheDir();
  const prefix = `${spec.name.replace(/-/g, '_')}-${spec.version}-`;
  const cached = () => fs.readdirSync(dir).find((f) => f.startsWith(prefix) && f.endsWith('.whl'));
  if (cached()) {
    log(`using the cached wheel ${path.join(dir, cached())}`);
    return path.join(dir, cached());
  }
  const python = findPython();
  log(`downloading ${spec.name}==${spec.version} (about 200 MB) into ${dir}`);
  const started = Date.now();
  run(python, ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--python-version', '3.11',
    '--platform', spec.platform, '--dest', dir, `${spec.name}==${spec.version}`]);
  const wheel = cached();
  if (!wheel) throw new InstallError(`pip reported success but no ${prefix}*.whl is in ${dir}`);
  log(`downloaded in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return path.join(dir, wheel);
}

/** Copies the shared libraries and C headers out of the wheel into tfjs-node's deps/. */
function stageFromWheel(wheel, depsDir, python) {
  const staging = `${depsDir}.staging-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  const extract = `
import sys, zipfile, os, shutil
wheel, out, headers = sys.argv[1], sys.argv[2], sys.argv[3].split(',')
wanted = {'tensorflow/libtensorflow_cc.so.2': 'lib/libtensorflow_cc.so.2',
          'tensorflow/libtensorflow_framework.so.2': 'lib/libtensorflow_framework.so.2'}
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        name = info.filename
        target = wanted.get(name)
        if target is None and name.startswith('tensorflow/include/') and not name.endswith('/'):
            rel = name[len('tensorflow/include/'):]
            if any(rel.startswith(h) for h in headers):
                target = 'include/' + rel
        if target is None:
            continue
        dest = os.path.join(out, target)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with z.open(info) as src, open(dest, 'wb') as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
for need in wanted.values():
    if not os.path.exists(os.path.join(out, need)):
        sys.exit('the wheel has no ' + need.split('/')[-1])
`;
  log(`extracting libtensorflow and its C headers from ${path.basename(wheel)}`);
  const result = cp.spawnSync(python, ['-c', extract, wheel, staging, HEADER_DIRS.join(',')], { encoding: 'utf8' });
  if (result.status !== 0) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw new InstallError(`could not extract ${wheel}: ${(result.stderr || '').trim().split('\n').pop()}`);
  }
  const lib = path.join(staging, 'lib');
  // binding.gyp links -ltensorflow -ltensorflow_framework; tfjs-node's installer
  // looks for libtensorflow.so.2.9.1 to decide the library is present. The
  // addon records the real SONAMEs (libtensorflow_cc.so.2, …framework.so.2).
  fs.symlinkSync('libtensorflow_cc.so.2', path.join(lib, 'libtensorflow.so'));
  fs.symlinkSync('libtensorflow_cc.so.2', path.join(lib, `libtensorflow.so.${TFJS_LIBTENSORFLOW_VERSION}`));
  fs.symlinkSync('libtensorflow_framework.so.2', path.join(lib, 'libtensorflow_framework.so'));
  fs.symlinkSync('libtensorflow_framework.so.2', path.join(lib, `libtensorflow_framework.so.${TFJS_LIBTENSORFLOW_VERSION}`));
  fs.rmSync(depsDir, { recursive: true, force: true });
  fs.renameSync(staging, depsDir);
}

/** The folder holding include/node/node_api.h for this Node, so node-gyp needs no download. */
function nodeHeadersDir() {
  const candidates = [
    process.env.npm_config_nodedir,
    path.resolve(path.dirname(process.execPath), '..'),
    cp.spawnSync('npm', ['config', 'get', 'nodedir'], { encoding: 'utf8' }).stdout?.trim(),
    '/usr', '/usr/local',
  ].filter(Boolean);
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, 'include', 'node', 'node_api.h')));
  if (!found) {
    throw new InstallError(
      `no Node.js headers found (looked for include/node/node_api.h under ${candidates.join(', ')}); ` +
        'install them (e.g. Debian: nodejs-dev / libnode-dev) or set npm_config_nodedir.');
  }
  return found;
}

function buildAddon(dir) {
  const nodedir = nodeHeadersDir();
  const preGyp = require.resolve('@mapbox/node-pre-gyp/bin/node-pre-gyp', { paths: [dir] });
  log(`building the tfjs-node addon from source against ${nodedir}/include/node`);
  run(process.execPath, [preGyp, 'install', '--build-from-source'], {
    cwd: dir,
    env: { ...process.env, npm_config_nodedir: nodedir, JOBS: String(os.cpus().length) },
  });
}

function installFromWheel(dir) {
  const python = findPython();
  const wheel = obtainWheel();
  stageFromWheel(wheel, path.join(dir, 'deps'), python);
  buildAddon(dir);
}

/**
 * The routes to try, in order, and why; no route: nothing to do. A pure
 * function of what the script found out:
 *   mode           CRNN_LIBTENSORFLOW (auto, cdn, wheel or skip)
 *   loads          whether the addon already loads (only probed under auto)
 *   loadedVersion  the libtensorflow it loads (null: unknown)
 *   wantedVersion  the tested version, the wheel route's
 *   wheelPossible  whether a wheel exists for this platform (or CRNN_TF_WHEEL names one)
 *   pip            whether a Python with pip is available (the wheel route needs it)
 * Under auto the wheel route comes first wherever it can run, with the CDN as
 * the fallback; an addon that loads the wanted version, or loads another
 * one where the wheel route cannot run, is left alone.
 */
function chooseRoutes({ mode, loads, loadedVersion, wantedVersion, wheelPossible, pip }) {
  if (mode === 'skip') return { routes: [], reason: 'CRNN_LIBTENSORFLOW=skip: leaving @tensorflow/tfjs-node as it is' };
  if (mode === 'cdn') return { routes: ['cdn'], reason: `CRNN_LIBTENSORFLOW=cdn: tfjs-node's own installer (libtensorflow ${TFJS_LIBTENSORFLOW_VERSION})` };
  if (mode === 'wheel') return { routes: ['wheel'], reason: `CRNN_LIBTENSORFLOW=wheel: the PyPI wheel (libtensorflow ${wantedVersion})` };
  if (mode !== 'auto') throw new InstallError(`CRNN_LIBTENSORFLOW must be auto, cdn, wheel or skip, not "${mode}"`);
  const wheel = wheelPossible && pip;
  const noWheel = !wheelPossible ? 'there is no libtensorflow wheel for this platform'
    : 'no Python with pip was found (set PYTHON, or install python3-pip)';
  if (loads && loadedVersion === wantedVersion) {
    return { routes: [], reason: `@tensorflow/tfjs-node already loads libtensorflow ${wantedVersion}: nothing to do` };
  }
  const loaded = `@tensorflow/tfjs-node loads libtensorflow ${loadedVersion || 'of an unknown version'}`;
  if (loads && !wheel) {
    return { routes: [], reason: `${loaded}, not the tested ${wantedVersion}, but ${noWheel}: keeping it` };
  }
  if (wheel) {
    return {
      routes: ['wheel', 'cdn'],
      reason: `${loads ? `${loaded}, not the tested ${wantedVersion}` : '@tensorflow/tfjs-node does not load yet'}: ` +
        `installing libtensorflow ${wantedVersion} from the PyPI wheel (the CDN route is the fallback)`,
    };
  }
  return {
    routes: ['cdn'],
    reason: `@tensorflow/tfjs-node does not load yet and ${noWheel}: ` +
      `tfjs-node's own installer (libtensorflow ${TFJS_LIBTENSORFLOW_VERSION}, not the tested ${wantedVersion})`,
  };
}

function wheelPossible() {
  return Boolean(process.env.CRNN_TF_WHEEL) || (os.platform() === 'linux' && Boolean(WHEEL_PACKAGE[process.arch]));
}

async function main() {
  const started = Date.now();
  const loadedBefore = mode === 'auto' ? probeNativeBackend(false) : null;
  const plan = chooseRoutes({
    mode,
    loads: loadedBefore !== null,
    loadedVersion: loadedBefore && loadedBefore.libtensorflow,
    wantedVersion: WANTED_VERSION,
    wheelPossible: wheelPossible(),
    pip: mode === 'auto' ? pipPython() !== null : false,
  });
  log(plan.reason);
  if (plan.routes.length === 0) return;
  const dir = tfjsNodeDir();
  let route;
  for (const [i, candidate] of plan.routes.entries()) {
    const last = i === plan.routes.length - 1;
    try {
      if (candidate === 'cdn' && mode === 'auto') {
        const problem = await checkReachable(cdnUrl());
        if (problem) throw new InstallError(`the libtensorflow CDN is not reachable (${problem})`);
      }
      if (candidate === 'cdn') installFromCdn(dir);
      else installFromWheel(dir);
      route = candidate;
      break;
    } catch (err) {
      if (last || !(err instanceof InstallError)) throw err;
      log(`the ${candidate} route failed: ${err.message}`);
      const now = probeNativeBackend(false);
      if (now) {
        log(`keeping what loads now: libtensorflow ${now.libtensorflow || 'of an unknown version'}`);
        return;
      }
      log(`trying the ${plan.routes[i + 1]} route`);
    }
  }

  const loaded = probeNativeBackend(true);
  if (!loaded || loaded.backend !== 'tensorflow') {
    throw new InstallError(`the ${route} route finished, but @tensorflow/tfjs-node still does not load`);
  }
  log(`ready: @tensorflow/tfjs-node runs on the native "tensorflow" backend with libtensorflow ` +
    `${loaded.libtensorflow || '(version unknown)'} (${route} route, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  if (loaded.libtensorflow !== WANTED_VERSION) {
    log(`note: the project is tested with libtensorflow ${WANTED_VERSION}; with Python's pip, ` +
      '`CRNN_LIBTENSORFLOW=wheel npm run install-libtensorflow` installs it');
  }
}

module.exports = { chooseRoutes, probeNativeBackend, WANTED_VERSION, TFJS_LIBTENSORFLOW_VERSION };

if (require.main === module) {
  main().catch((err) => {
    const cause = err instanceof InstallError ? err.message : (err && err.stack) || String(err);
    console.error(`\n[libtensorflow] FAILED: ${cause}`);
    console.error('[libtensorflow] The library will fall back to the pure-JavaScript backend (hundreds of times slower to train).');
    console.error('[libtensorflow] Retry with `npm run install-libtensorflow`; see docs/install.md.\n');
    process.exit(soft ? 0 : 1);
  });
}
