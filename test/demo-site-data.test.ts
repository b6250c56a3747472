/**
 * lib/demo/site-data.ts, a pure part of the browser page: the check the page
 * makes of site.json before it uses it, and the digits file written and read back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveCrnnConfig, resolveTrainConfig } from '../lib/config';
import {
  checkSiteData, decodeDigits, encodeDigits, SITE_FORMAT, SITE_VERSION, type SiteData, type SiteDigits,
} from '../lib/demo/site-data';

/** A digit probe's read-out of 2 features. */
const readout = () => ({
  mean: [0, 1], scale: [1, 2], weights: new Array<number>(2 * 10).fill(0.1), bias: new Array<number>(10).fill(0),
});

/** The site data of a run of the article's model (T = 2), with a digit probe: a fresh object on each call. */
function siteData(): SiteData {
  return {
    format: SITE_FORMAT, version: SITE_VERSION, builtAt: '2026-01-02T00:00:00.000Z',
    run: {
      name: 'run', task: 'difference', crnnConfig: resolveCrnnConfig(), trainConfig: resolveTrainConfig(), steps: 10,
      finalAccuracy: 0.5, elapsedSeconds: 1, savedAt: '2026-01-01T00:00:00.000Z', backend: 'tensorflow', cpu: null,
      digitProbe: null,
    },
    model: 'model/model.json',
    digits: { file: 'digits.bin', count: 3, height: 28, width: 28, source: 'the MNIST test split' },
    probe: { featureLayers: ['step0_dense', 'step1_dense'], readouts: [readout(), readout()], accuracy: [0.9, 0.8] },
  };
}

test('checkSiteData passes site data through, with or without a probe, and fills in settings left out', () => {
  const site = siteData();
  assert.equal(checkSiteData(site), site);
  assert.equal(checkSiteData({ ...siteData(), probe: null }).probe, null);
  const partial = { ...siteData(), run: { ...siteData().run, crnnConfig: { hiddenSize: 4 }, trainConfig: {} } };
  const checked = checkSiteData(partial);
  assert.deepEqual(checked.run.crnnConfig, resolveCrnnConfig({ hiddenSize: 4 }));
  assert.deepEqual(checked.run.trainConfig, resolveTrainConfig());
});

test('checkSiteData names what is missing or wrong', () => {
  const probe = () => siteData().probe!;
  const cases: [unknown, RegExp][] = [
    [null, /site\.json is not the site data of a run \(format undefined, expected "crnn-mnist-demo"\)/],
    [{ ...siteData(), format: 'other' }, /\(format "other", expected "crnn-mnist-demo"\)/],
    [{ ...siteData(), version: 2 }, /site\.json has version 2; this page reads version 1: build the site again/],
    [{ ...siteData(), run: undefined }, /site\.json describes no run/],
    [{ ...siteData(), run: { ...siteData().run, crnnConfig: { cell: 'rnn' } } },
      /site\.json: CrnnConfig\.cell must be one of simple, gru, lstm, got "rnn"/],
    [{ ...siteData(), model: '' }, /site\.json names no model file/],
    [{ ...siteData(), digits: { ...siteData().digits, count: 0 } }, /the test digits need a file and a positive count, height and width/],
    [{ ...siteData(), digits: { ...siteData().digits, height: 14, width: 14 } }, /the test digits are 14×14, the model reads 28×28/],
    [{ ...siteData(), probe: { ...probe(), readouts: [readout()] } }, /a feature layer, a read-out and an accuracy per step \(T = 2\)/],
    [{ ...siteData(), probe: { ...probe(), accuracy: [0.9, NaN] } }, /an accuracy per step \(T = 2\)/],
    [{ ...siteData(), probe: { ...probe(), readouts: [readout(), { ...readout(), weights: [1] }] } },
      /a digit probe read-out is incomplete \(mean, scale, weights, bias\)/],
  ];
  for (const [value, message] of cases) assert.throws(() => checkSiteData(value), message, String(message));
});

test('the digits file holds the labels, then the images, and reads back; a wrong size or label is refused', () => {
  const sample = { labels: Uint8Array.from([3, 9]), images: Uint8Array.from([0, 1, 2, 3, 250, 251, 252, 253]) };
  const bytes = encodeDigits(sample);
  assert.deepEqual(Array.from(bytes), [3, 9, 0, 1, 2, 3, 250, 251, 252, 253]);
  const digits: SiteDigits = { file: 'digits.bin', count: 2, height: 2, width: 2, source: 'made up' };
  const back = decodeDigits(bytes, digits);
  assert.deepEqual(Array.from(back.labels), [3, 9]);
  assert.deepEqual(Array.from(back.images), Array.from(sample.images));
  assert.throws(() => decodeDigits(bytes.subarray(1), digits), /digits\.bin holds 9 bytes; 2 digits of 2×2 take 10/);
  assert.throws(() => decodeDigits(encodeDigits({ ...sample, labels: Uint8Array.from([3, 12]) }), digits),
    /digits\.bin: label 12 of digit 1 is not 0\.\.9/);
});
