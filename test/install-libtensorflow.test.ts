import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';

type Route = 'cdn' | 'wheel';
interface Facts {
  mode: string;
  loads: boolean;
  loadedVersion: string | null;
  wantedVersion: string;
  wheelPossible: boolean;
  pip: boolean;
}
interface Installer {
  chooseRoutes(facts: Facts): { routes: Route[]; reason: string };
  WANTED_VERSION: string;
  TFJS_LIBTENSORFLOW_VERSION: string;
}

// The installer is a plain Node script (it runs before the build); requiring it runs nothing.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const installer: Installer = require(path.resolve(__dirname, '..', '..', 'scripts', 'install-libtensorflow.js'));
// eslint-disable-next-line @typescript-eslint/unbound-method -- plain functions of a CommonJS module
const { chooseRoutes, WANTED_VERSION, TFJS_LIBTENSORFLOW_VERSION } = installer;

const auto = (facts: Partial<Facts>) => chooseRoutes({
  mode: 'auto', loads: false, loadedVersion: null, wantedVersion: WANTED_VERSION, wheelPossible: true, pip: true, ...facts,
});

test('the tested libtensorflow is the wheel route\'s 2.15.1; the CDN route gives 2.9.1', () => {
  assert.equal(WANTED_VERSION, '2.15.1');
  assert.equal(TFJS_LIBTENSORFLOW_VERSION, '2.9.1');
});

test('auto prefers the wheel wherever pip is available, with the CDN as the fallback', () => {
  const fresh = auto({});
  assert.deepEqual(fresh.routes, ['wheel', 'cdn']);
  assert.match(fresh.reason, /does not load yet: installing libtensorflow 2\.15\.1 from the PyPI wheel \(the CDN route is the fallback\)/);
  // An addon on the CDN's 2.9.1 is replaced by the tested version.
  const old = auto({ loads: true, loadedVersion: '2.9.1' });
  assert.deepEqual(old.routes, ['wheel', 'cdn']);
  assert.match(old.reason, /loads libtensorflow 2\.9\.1, not the tested 2\.15\.1: installing/);
  // So is one whose version cannot be read.
  assert.deepEqual(auto({ loads: true, loadedVersion: null }).routes, ['wheel', 'cdn']);
});

test('auto does nothing when the addon loads the tested version, or another where the wheel cannot be had', () => {
  const ready = auto({ loads: true, loadedVersion: '2.15.1' });
  assert.deepEqual(ready.routes, []);
  assert.match(ready.reason, /already loads libtensorflow 2\.15\.1: nothing to do/);
  assert.deepEqual(auto({ loads: true, loadedVersion: '2.15.1', pip: false }).routes, []);
  const noPip = auto({ loads: true, loadedVersion: '2.9.1', pip: false });
  assert.deepEqual(noPip.routes, []);
  assert.match(noPip.reason, /loads libtensorflow 2\.9\.1, not the tested 2\.15\.1, but no Python with pip was found.*keeping it/);
  const noWheel = auto({ loads: true, loadedVersion: '2.9.1', wheelPossible: false });
  assert.deepEqual(noWheel.routes, []);
  assert.match(noWheel.reason, /no libtensorflow wheel for this platform/);
});

test('auto falls back to the CDN alone when nothing loads and the wheel route cannot run', () => {
  for (const facts of [{ pip: false }, { wheelPossible: false }]) {
    const plan = auto(facts);
    assert.deepEqual(plan.routes, ['cdn']);
    assert.match(plan.reason, /tfjs-node's own installer \(libtensorflow 2\.9\.1, not the tested 2\.15\.1\)/);
  }
});

test('CRNN_LIBTENSORFLOW chooses the route whatever loads; a bad value is refused', () => {
  const loaded = { loads: true, loadedVersion: '2.15.1' };
  assert.deepEqual(auto({ ...loaded, mode: 'cdn' }).routes, ['cdn']);
  assert.deepEqual(auto({ ...loaded, mode: 'wheel', pip: false }).routes, ['wheel']);
  assert.deepEqual(auto({ mode: 'skip' }).routes, []);
  assert.throws(() => auto({ mode: 'pypi' }), /CRNN_LIBTENSORFLOW must be auto, cdn, wheel or skip, not "pypi"/);
});
