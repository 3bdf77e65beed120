// Shared by the JavaScript client tests: runs `promptops serve` on port 0 and stops it.
// No dependencies (node built-ins only), so each test package can import it by relative path.
import { spawn } from "node:child_process";

const STARTUP_TIMEOUT_MS = 15000;

// Starts `$PROMPTOPS_BINARY serve --listen 127.0.0.1:0 --data dataDir ...extraArgs` with `env`
// added to the environment (PROMPTOPS_CONFIG removed, so a developer's own config cannot leak
// in). Resolves with {proc, baseUrl, stderr()} once the server prints its address.
export function startServer(dataDir, { extraArgs = [], env = {} } = {}) {
  const binary = process.env.PROMPTOPS_BINARY;
  if (!binary) throw new Error("PROMPTOPS_BINARY is not set (path to the promptops executable)");
  const childEnv = { ...process.env, ...env };
  delete childEnv.PROMPTOPS_CONFIG;
  const proc = spawn(binary, ["serve", "--listen", "127.0.0.1:0", "--data", dataDir, ...extraArgs], {
    env: childEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`server did not start in time\nstdout: ${out}\nstderr: ${err}`));
    }, STARTUP_TIMEOUT_MS);
    proc.stdout.on("data", (chunk) => {
      out += chunk;
      const m = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, baseUrl: m[1], stderr: () => err });
      }
    });
    proc.stderr.on("data", (chunk) => {
      err += chunk;
    });
    proc.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${binary}: ${e.message}`));
    });
    proc.on("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`server exited early (${code ?? signal})\nstdout: ${out}\nstderr: ${err}`));
    });
  });
}

// Stops the server and waits for it to exit (SIGKILL if it does not stop within 5 s).
export function stopServer(proc) {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => proc.kill("SIGKILL"), 5000);
    proc.once("exit", () => {
      clearTimeout(force);
      resolve();
    });
    proc.kill("SIGTERM");
  });
}
