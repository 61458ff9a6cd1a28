#!/usr/bin/env node
// Copies the browser builds of the pinned graphiql, react and react-dom
// packages (package.json, package-lock.json) into assets/vendor/, from where
// patd embeds them: GraphiQL then needs nothing from the network. Run by
// `go generate .` (make generate), which make test checks is up to date;
// it installs the packages first when node_modules is missing or older
// than the lockfile.
//
// To upgrade GraphiQL: change the versions in package.json, `npm install`,
// `make generate`, and commit package*.json with assets/vendor/.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, "node_modules");
const marker = join(modules, ".package-lock.json");
if (!existsSync(marker) || statSync(marker).mtimeMs < statSync(join(here, "package-lock.json")).mtimeMs) {
  execFileSync("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: here, stdio: "inherit" });
}

// The versions installed must be the pinned ones: a stale node_modules would
// otherwise vendor something else.
const pinned = JSON.parse(readFileSync(join(here, "package.json"), "utf8")).dependencies;
for (const [name, version] of Object.entries(pinned)) {
  const installed = JSON.parse(readFileSync(join(modules, name, "package.json"), "utf8")).version;
  if (installed !== version) {
    console.error(`${name} ${installed} is installed, package.json pins ${version}: run npm ci in ${here}`);
    process.exit(1);
  }
}

const files = {
  "react.production.min.js": "react/umd/react.production.min.js",
  "react-dom.production.min.js": "react-dom/umd/react-dom.production.min.js",
  "graphiql.min.js": "graphiql/graphiql.min.js",
  "graphiql.min.css": "graphiql/graphiql.min.css",
  "LICENSE.react.txt": "react/LICENSE",
  "LICENSE.react-dom.txt": "react-dom/LICENSE",
  "LICENSE.graphiql.txt": "graphiql/LICENSE",
};
const out = join(here, "assets", "vendor");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
for (const [to, from] of Object.entries(files)) copyFileSync(join(modules, from), join(out, to));
