// Exact D1 metering: runs statements in Miniflare's D1 (Cloudflare's workerd, with the SQLite
// patch that counts rows_read / rows_written as D1 bills them) and prints each statement's meta.
//
// stdin: {"setup": [[sql, ...], ...], "batches": [[sql, ...], ...]}
//   setup   batches run first (loading a snapshot), not reported;
//   batches each run as one D1 batch (one transaction, like a migration file).
// stdout: {"batches": [[{"rows_read", "rows_written", "changes", "error"}, ...], ...]}
import { Miniflare, convertV4MiniflareOptions } from "miniflare";

const input = JSON.parse(await new Promise((resolve) => {
  let data = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk) => { data += chunk; });
  process.stdin.on("end", () => resolve(data));
}));

// Miniflare 5 has a new options shape; wrangler itself passes 4.x options through this converter.
const mf = new Miniflare(convertV4MiniflareOptions({
  modules: true,
  script: "export default { fetch() { return new Response('d1nb'); } }",
  d1Databases: { DB: "d1nb-meter" },
}));

async function runBatch(db, statements) {
  try {
    const results = await db.batch(statements.map((sql) => db.prepare(sql)));
    return results.map((r) => ({
      rows_read: r.meta.rows_read,
      rows_written: r.meta.rows_written,
      changes: r.meta.changes,
      error: null,
    }));
  } catch (err) {
    return statements.map(() => ({ rows_read: null, rows_written: null, changes: null,
                                   error: String(err && err.message ? err.message : err) }));
  }
}

try {
  const db = await mf.getD1Database("DB");
  for (const batch of input.setup || []) {
    const out = await runBatch(db, batch);
    const failed = out.find((r) => r.error);
    if (failed) throw new Error(`setup failed: ${failed.error}`);
  }
  const batches = [];
  for (const batch of input.batches || []) batches.push(await runBatch(db, batch));
  process.stdout.write(JSON.stringify({ batches }));
} finally {
  await mf.dispose();
}
