/**
 * A private JupyterLab server for the browser test: its own port, token,
 * settings, runtime and kernel-spec folders, so nothing of the person's own
 * Jupyter setup leaks in and nothing the test does leaks out.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export interface JupyterLabOptions {
  /** The Python venv holding JupyterLab 4 (its bin/jupyter is started). */
  venv: string;
  /** The folder JupyterLab serves: notebooks open as /lab/tree/<name>. */
  rootDir: string;
  /** The tslab executable the kernel spec starts. */
  tslabBin: string;
  /** Extra environment for the server, inherited by the kernels it starts. */
  env?: Record<string, string>;
  /** Where the server's own output is written. */
  logFile: string;
  /** How long to wait for the server to answer, in ms. */
  startTimeoutMs?: number;
}

export interface JupyterLab {
  /** e.g. http://127.0.0.1:8891 */
  baseUrl: string;
  token: string;
  /** The server's process id (also its process group id). */
  pid: number;
  /**
   * The URL that opens a notebook (a path relative to rootDir) in JupyterLab,
   * in a workspace of its own so no tab of an earlier page is restored.
   */
  notebookUrl(notebook: string, workspace: string): string;
  /** Calls a REST endpoint of the server with the token; resolves to the JSON answer. */
  api(method: 'GET' | 'DELETE' | 'POST', endpoint: string): Promise<unknown>;
  /** Shuts down every kernel, then the server; bounded, never throws. */
  stop(): Promise<void>;
  /** Last resort when the test process is exiting: SIGKILL the server and its kernels, synchronously. */
  killNow(): void;
}

/** JupyterLab settings that keep a test run quiet and side-effect free. */
const LAB_SETTINGS: Record<string, object> = {
  // Running the notebooks in the browser must not overwrite the committed files.
  '@jupyterlab/docmanager-extension/plugin': { autosave: false },
  // No news or update checks: the machine may have no network, and a toast would hide part of the page.
  '@jupyterlab/apputils-extension/notification': { fetchNews: 'false', checkForUpdates: false },
};

/** A TCP port that was free a moment ago on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('could not find a free port'))));
    });
  });
}

/** Writes the Jupyter folders of one run: settings, a tslab kernel spec, runtime. */
function prepareJupyterHome(home: string, tslabBin: string): Record<string, string> {
  const settingsDir = path.join(home, 'lab-settings');
  for (const [plugin, settings] of Object.entries(LAB_SETTINGS)) {
    const file = path.join(settingsDir, `${plugin}.jupyterlab-settings`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify(settings, null, 2));
  }
  // The spec `tslab install` writes, with the repo's own tslab by absolute path,
  // so the kernel does not depend on PATH or on a global install.
  const kernelDir = path.join(home, 'data', 'kernels', 'tslab');
  fs.mkdirSync(kernelDir, { recursive: true });
  fs.writeFileSync(path.join(kernelDir, 'kernel.json'), JSON.stringify({
    argv: [tslabBin, 'kernel', '--config-path', '{connection_file}'],
    display_name: 'TypeScript',
    language: 'typescript',
  }, null, 2));
  const dirs = {
    JUPYTERLAB_SETTINGS_DIR: settingsDir,
    JUPYTERLAB_WORKSPACES_DIR: path.join(home, 'workspaces'),
    JUPYTER_CONFIG_DIR: path.join(home, 'config'),
    JUPYTER_DATA_DIR: path.join(home, 'data'),
    JUPYTER_RUNTIME_DIR: path.join(home, 'runtime'),
  };
  for (const dir of Object.values(dirs)) fs.mkdirSync(dir, { recursive: true });
  return dirs;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True while the process has not exited. */
function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/**
 * Processes whose command line mentions `marker`: the kernels of this run name
 * their connection file, which lies in this run's own runtime folder. Kernels
 * are started in their own session, so killing the server's group misses them.
 */
function processesMentioning(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(marker)) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/**
 * Starts `jupyter lab` and waits (bounded) until its REST API answers.
 * Rejects with the tail of the server log if it exits or does not answer in time.
 */
export async function startJupyterLab(options: JupyterLabOptions): Promise<JupyterLab> {
  const jupyter = path.join(options.venv, 'bin', 'jupyter');
  if (!fs.existsSync(jupyter)) {
    throw new Error(`JupyterLab is not installed: ${jupyter} does not exist ` +
      '(create the venv with `python3 -m venv .venv && .venv/bin/pip install -r requirements-notebooks.txt`, ' +
      'or point CRNN_VENV at another one)');
  }
  if (!fs.existsSync(options.tslabBin)) {
    throw new Error(`the tslab kernel is not installed: ${options.tslabBin} does not exist (run \`npm ci\`)`);
  }
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'crnn-e2e-jupyter-'));
  const dirs = prepareJupyterHome(home, options.tslabBin);
  const port = await freePort();
  const token = crypto.randomBytes(24).toString('hex');
  const baseUrl = `http://127.0.0.1:${port}`;

  fs.mkdirSync(path.dirname(options.logFile), { recursive: true });
  const log = fs.openSync(options.logFile, 'w');
  const child = spawn(jupyter, [
    'lab',
    '--no-browser',
    // CI containers run as root; the server is bound to the loopback with a token.
    '--allow-root',
    '--ServerApp.ip=127.0.0.1',
    `--ServerApp.port=${port}`,
    '--ServerApp.port_retries=0',
    `--IdentityProvider.token=${token}`,
    `--ServerApp.root_dir=${options.rootDir}`,
    // Lets the test read the notebook model (output types) next to the DOM.
    '--LabApp.expose_app_in_browser=True',
    '--LabApp.news_url=',
  ], {
    cwd: options.rootDir,
    env: {
      ...process.env,
      ...dirs,
      PATH: `${path.dirname(options.tslabBin)}${path.delimiter}${process.env.PATH ?? ''}`,
      ...options.env,
    },
    // Its own process group, so stop() can signal the server and all it forked.
    detached: true,
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);

  let stopped = false;
  const api = async (method: 'GET' | 'DELETE' | 'POST', endpoint: string): Promise<unknown> => {
    const response = await fetch(`${baseUrl}${endpoint}`, {
      method,
      headers: { Authorization: `token ${token}` },
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) throw new Error(`${method} ${endpoint} answered ${response.status} ${response.statusText}`);
    const text = await response.text();
    return text ? JSON.parse(text) : null;
  };

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (running(child)) {
      try {
        const kernels = (await api('GET', '/api/kernels')) as { id: string }[];
        await Promise.all(kernels.map((k) => api('DELETE', `/api/kernels/${k.id}`).catch(() => undefined)));
      } catch {
        // The server is not answering; the signals below still end it.
      }
      killGroup(child.pid!, 'SIGTERM');
      for (let waited = 0; running(child) && waited < 10_000; waited += 100) await sleep(100);
      if (running(child)) killGroup(child.pid!, 'SIGKILL');
    }
    killKernels();
    fs.rmSync(home, { recursive: true, force: true });
  };

  // Kernels run in their own sessions: end any of this run's that survived the server.
  const killKernels = (): void => {
    for (const pid of processesMentioning(dirs.JUPYTER_RUNTIME_DIR)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  };

  const killNow = (): void => {
    if (running(child)) killGroup(child.pid!, 'SIGKILL');
    killKernels();
    fs.rmSync(home, { recursive: true, force: true });
  };

  const timeoutMs = options.startTimeoutMs ?? 60_000;
  const started = Date.now();
  for (;;) {
    if (!running(child)) {
      await stop();
      throw new Error(`jupyter lab exited with code ${child.exitCode ?? child.signalCode} before answering; ` +
        `last lines of ${options.logFile}:\n${tail(options.logFile)}`);
    }
    try {
      await api('GET', '/api/status');
      break;
    } catch {
      if (Date.now() - started > timeoutMs) {
        await stop();
        throw new Error(`jupyter lab did not answer on ${baseUrl} within ${timeoutMs / 1000} s; ` +
          `last lines of ${options.logFile}:\n${tail(options.logFile)}`);
      }
      await sleep(250);
    }
  }

  return {
    baseUrl,
    token,
    pid: child.pid!,
    notebookUrl: (notebook, workspace) => `${baseUrl}/lab/workspaces/${encodeURIComponent(workspace)}/tree/` +
      `${notebook.split('/').map(encodeURIComponent).join('/')}?token=${token}`,
    api,
    stop,
    killNow,
  };
}

function tail(file: string, lines = 20): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
