// Audits a running server against the GraphQL-over-HTTP specification with the independent
// `graphql-http` package. Usage: node graphql-http-audit.mjs http://127.0.0.1:PORT/graphql
// Fails on any MUST violation, or on more SHOULD warnings than allowed.
import { auditServer } from 'graphql-http';

const url = process.argv[2];
const maxWarnings = Number(process.env.MAX_SHOULD_WARNINGS ?? 3);
const results = await auditServer({ url });
// Statuses: ok; notice (a MAY not taken); warn (a SHOULD not met); error (a MUST broken).
let ok = 0;
const notices = [];
const warnings = [];
const errors = [];
for (const result of results) {
  if (result.status === 'ok') ok++;
  else if (result.status === 'notice') notices.push(result);
  else if (result.status === 'warn') warnings.push(result);
  else errors.push(result);
}
for (const r of notices) console.log(`NOTE  ${r.id} ${r.name}: ${r.reason}`);
for (const r of warnings) console.log(`WARN  ${r.id} ${r.name}: ${r.reason}`);
for (const r of errors) console.log(`FAIL  ${r.id} ${r.name}: ${r.reason}`);
console.log(
  `graphql-http audit: ${ok} ok, ${notices.length} MAY notices, ${warnings.length} SHOULD warnings, ${errors.length} MUST failures`,
);
process.exit(errors.length > 0 || warnings.length > maxWarnings ? 1 : 0);
