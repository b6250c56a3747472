import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { compareRuns, listRuns } from '../lib/runs/registry';
import { comparisonTable, markdownTable, runsTable } from '../lib/view/tables';
import { makeRunsFolder } from './helpers/run-folders';
import { tempFolders } from './helpers/temp';

const tempDir = tempFolders('tables');

let root: string;
before(() => { root = makeRunsFolder(tempDir()); });

test('the comparison table is aligned markdown with one row per group', async () => {
  const { runs } = await listRuns(root);
  const lines = comparisonTable(compareRuns(runs)).split('\n');
  assert.equal(lines.length, 5);
  assert.ok(lines.every((line) => line.length === lines[0].length), lines.join('\n'));
  assert.match(lines[0], /^\| cell +\| sharedCnn \| +n \| seeds +\| final acc\. % \| +± std \| +95% CI of mean \| best acc\. % \| +to 98% \| +to 99% \| steps \| +time \|$/);
  assert.match(lines[1], /^\| -+ \| -+ \| -+: \|/);
  // 98 ± 2.48 reaches past 100%, where no accuracy lies: the table cuts the interval there.
  const half = 100 * 4.3026527 * 0.01 / Math.sqrt(3);
  assert.ok(98 + half > 100);
  assert.match(lines[3], new RegExp(`^\\| simple +\\| false +\\| +3 \\| 1,2,10 +\\| +98\\.00 \\| +1\\.00 \\| ` +
    `+${(98 - half).toFixed(2)} – 100\\.00 \\| +98\\.17 \\| +2/3: 900 \\| 1/3: 1,000 \\| 1,000 \\| 1m 30s \\|$`));
  assert.match(lines[4], /^\| lstm +\| true +\| +1 \| 42 +\| +95\.00 \| +– \| +– \| +95\.00 \| +– \| +– \| +600 \| 1h 06m \|$/);
});

test('runsTable shows the differing settings, accuracies, steps and time of each run', async () => {
  const { runs } = await listRuns(root);
  const lines = runsTable(runs).split('\n');
  assert.match(lines[0], /^\| run +\| cell +\| sharedCnn \| seed \| final acc\. % \| best acc\. % \| best at \| +steps \| +time \| end +\|$/);
  assert.match(lines[2], /^\| single +\| lstm +\| true +\| 42 +\| +95\.00 \| +95\.00 \| +600 \| 600\/1,000 \| 1h 06m \| stopped +\|$/);
  assert.match(lines[5], /^\| sweep-a\/cell-simple\/seed-1 +\| simple \| false +\| 1 +\| +97\.00 \| +97\.50 \| +800 \| +1,000 \| 1m 30s \| completed \|$/);
  assert.equal(markdownTable(['a|b'], [['x']]), '| a\\|b |\n| ---- |\n| x    |');
});
