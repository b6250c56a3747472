/**
 * The tutorial's layout, read from the committed .ipynb files (no kernel, fast):
 * every notebook has the same header, a parameters cell, one import of the
 * library, the navigation line at both ends, exercises with hints and a worked
 * solution, and states the runtime its saved outputs took.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

const notebookDir = path.resolve(__dirname, '..', '..', 'notebooks');
const FILES = ['01-data-sampling', '02-the-model', '03-training', '04-predictions', '05-experiments',
  '06-what-the-network-learned'];

interface Cell { cell_type: string; source: string | string[]; metadata: { tags?: string[] }; outputs?: Output[] }
interface Output { output_type: string; name?: string; text?: string | string[] }

const join = (text: string | string[] | undefined) => (Array.isArray(text) ? text.join('') : text ?? '');
const cellsOf = (name: string): Cell[] =>
  (JSON.parse(fs.readFileSync(path.join(notebookDir, `${name}.ipynb`), 'utf8')) as { cells: Cell[] }).cells;
const stdout = (cell: Cell) =>
  (cell.outputs ?? []).filter((o) => o.output_type === 'stream' && o.name === 'stdout').map((o) => join(o.text)).join('');

/** The titles of notebook 1's series table, by file: `| [2. The model](02-the-model.ipynb) |`, and its own row in bold. */
function seriesTitles(): Map<string, string> {
  const header = join(cellsOf(FILES[0])[0].source);
  const titles = new Map<string, string>();
  for (const m of header.matchAll(/^\| \[(\d\. [^\]]+)\]\(([\w-]+)\.ipynb\) \|/gm)) titles.set(m[2], m[1]);
  const own = /^\| \*\*(\d\. [^*]+)\*\* \(this one\) \|/m.exec(header);
  if (own) titles.set(FILES[0], own[1]);
  return titles;
}

/** The navigation line of notebook i: the previous one, this one in bold, the next one (or back to the first). */
function navigationLine(i: number, titles: Map<string, string>): string {
  const title = (k: number) => titles.get(FILES[k])!;
  return [
    ...(i > 0 ? [`[← ${title(i - 1)}](${FILES[i - 1]}.ipynb)`] : []),
    `**${title(i)}**`,
    i < FILES.length - 1 ? `[${title(i + 1)} →](${FILES[i + 1]}.ipynb)` : `[back to ${title(0)}](${FILES[0]}.ipynb)`,
  ].join(' · ');
}

test('notebook 1\'s series table lists all six notebooks, each with its title', () => {
  const titles = seriesTitles();
  assert.deepEqual([...titles.keys()].sort(), [...FILES].sort(), 'a row per notebook, linked to its file');
  for (const [file, title] of titles) assert.match(title, new RegExp(`^${Number(file.slice(0, 2))}\\. `), `${file}: numbered`);
});

test('every notebook starts with its title and the navigation line, and ends with the navigation line', () => {
  const titles = seriesTitles();
  FILES.forEach((name, i) => {
    const cells = cellsOf(name);
    const header = join(cells[0].source);
    assert.equal(header.split('\n')[0], `# ${titles.get(name)}`, `${name}: the title of notebook 1's table`);
    const navigation = navigationLine(i, titles);
    assert.ok(header.split('\n').includes(navigation), `${name}: the header has the line ${navigation}`);
    const last = join(cells[cells.length - 1].source).trimEnd().split('\n');
    assert.equal(last[last.length - 1], navigation, `${name}: the last cell ends with the navigation line`);
  });
});

test('every header says what you will learn, how long the saved outputs took on which machine, and how to run faster', () => {
  for (const name of FILES) {
    const cells = cellsOf(name);
    const header = join(cells[0].source);
    /** The text of the bullet `- **label**: …`, up to the next bullet or paragraph. */
    const bullet = (label: string) => {
      const start = header.indexOf(`\n- **${label}**: `);
      assert.ok(start >= 0, `${name}: the header has the bullet **${label}**`);
      const text = header.slice(start + `\n- **${label}**: `.length);
      const ends = [text.indexOf('\n- **'), text.indexOf('\n\n')].filter((i) => i >= 0);
      return ends.length > 0 ? text.slice(0, Math.min(...ends)) : text;
    };
    assert.ok(bullet('What you will learn').length > 40, `${name}: says what you will learn`);
    assert.ok(bullet('To run it faster').length > 20, `${name}: says how to run it faster`);
    const howLong = bullet('How long it takes').replace(/\s+/g, ' ');
    // The running time printed by the last code cell before the summary, and the machine of the first.
    const summary = cells.findIndex((c) => c.cell_type === 'markdown' && /^## Summary$/m.test(join(c.source)));
    const timing = stdout(cells.slice(0, summary).filter((c) => c.cell_type === 'code').pop()!).trim();
    assert.match(timing, /^(\d+\.\d s|\d+m \d\ds|\d+h \d\dm)$/, `${name}: the cell before the summary prints the time`);
    assert.ok(howLong.includes(timing), `${name}: the header states the saved outputs' time, ${timing}: ${howLong}`);
    const machine = /^CPU: (.+?), (\d+) cores?\b/.exec(stdout(cells.find((c) => c.cell_type === 'code')!));
    assert.ok(machine, `${name}: the first code cell describes the machine`);
    assert.ok(howLong.includes(`${machine[1]}, ${machine[2]} cores`), `${name}: the header names the machine: ${howLong}`);
  }
});

test('every notebook has one parameters cell of plain let assignments, and imports the library in one statement', () => {
  for (const name of FILES) {
    const cells = cellsOf(name);
    const parameters = cells.filter((c) => c.cell_type === 'code' && c.metadata.tags?.includes('parameters'));
    assert.equal(parameters.length, 1, `${name} has one cell tagged parameters`);
    const lines = join(parameters[0].source).split('\n').filter((l) => l.trim() !== '' && !l.startsWith('//'));
    assert.ok(lines.length > 0, `${name}: the parameters cell sets something`);
    for (const line of lines) {
      assert.match(line, /^let [A-Za-z]\w*(: [^=]+)? = [^;]+;( +\/\/.*)?$/, `${name}: not a plain assignment: ${line}`);
    }
    const code = cells.filter((c) => c.cell_type === 'code').map((c) => join(c.source)).join('\n');
    assert.equal([...code.matchAll(/from '\.\.\/dist\/lib'/g)].length, 1, `${name} imports the library once, from its index`);
    assert.doesNotMatch(code, /\.\.\/dist\/lib\//, `${name} imports no single file of the library`);
  }
  for (const name of ['01-data-sampling', '02-the-model']) {
    const source = join(cellsOf(name).find((c) => c.metadata.tags?.includes('parameters'))!.source);
    assert.match(source, /^let seed = \d+;$/m, `${name}: a seed`);
    assert.match(source, /^let batchSize = \d+;$/m, `${name}: a batch size`);
  }
});

test('every notebook numbers its exercises, gives each a hint, and works one solution out', () => {
  for (const name of FILES) {
    const markdown = cellsOf(name).filter((c) => c.cell_type === 'markdown').map((c) => join(c.source)).join('\n');
    const exercises = markdown.slice(markdown.search(/^## Exercises$/m));
    const count = [...exercises.matchAll(/^\*\*\d+\.\*\* /gm)].length;
    assert.ok(count > 0, `${name} numbers its exercises`);
    assert.equal([...exercises.matchAll(/<details><summary>Hint<\/summary>/g)].length, count, `${name}: a hint per exercise`);
    assert.ok([...exercises.matchAll(/<details><summary>Solution<\/summary>/g)].length >= 1, `${name}: a worked solution`);
  }
});

/** The names lib/index.ts exports, read from its `export { … } from` lists. */
function indexExports(): Set<string> {
  const source = fs.readFileSync(path.resolve(__dirname, '..', '..', 'lib', 'index.ts'), 'utf8');
  const names = [...source.matchAll(/^export (?:type )?\{([^}]*)\} from '[^']+';$/gm)]
    .flatMap((m) => m[1].split(',').map((n) => n.trim()).filter((n) => n !== ''));
  return new Set(names);
}

test('every name a notebook imports, or tells the reader to import, is exported by lib/index.ts', () => {
  const exported = indexExports();
  assert.ok(exported.has('loadMnist') && exported.size > 50, `the export lists of lib/index.ts are read: ${exported.size}`);
  const namesIn = (list: string) =>
    list.replace(/\/\/.*/g, '').split(',').map((n) => n.replace(/^\s*type\s+/, '').trim()).filter((n) => n !== '');
  for (const name of FILES) {
    const cells = cellsOf(name);
    const code = cells.filter((c) => c.cell_type === 'code').map((c) => join(c.source)).join('\n');
    const markdown = cells.filter((c) => c.cell_type === 'markdown').map((c) => join(c.source)).join('\n');
    const imported = [...`${code}\n${markdown}`.matchAll(/import \{([^}]*)\} from '\.\.\/dist\/lib';/g)]
      .flatMap((m) => namesIn(m[1]));
    // The exercises: "Add `sumTask` to the import", "`layerActivations(…)` (exported by `../dist/lib`)".
    const toAdd = [...markdown.matchAll(/((?:`\w+`(?:,? and |, )?)+) to the import/g)]
      .flatMap((m) => [...m[1].matchAll(/`(\w+)`/g)].map((n) => n[1]));
    const mentioned = [...markdown.matchAll(/`(\w+)\([^`]*\)` \(exported by `\.\.\/dist\/lib`\)/g)].map((m) => m[1]);
    assert.ok(imported.length > 5, `${name}: its import is read`);
    for (const n of [...imported, ...toAdd, ...mentioned]) assert.ok(exported.has(n), `${name} imports ${n}, which lib/index.ts does not export`);
  }
});
