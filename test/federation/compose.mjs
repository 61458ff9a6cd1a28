#!/usr/bin/env node
// Composes patd's subgraph SDL with the users subgraph (users.graphql, which
// owns `User @key(fields: "id")`) into an Apollo Federation v2 supergraph,
// the way rover / the router's composition would.
//
//   node compose.mjs [--print-supergraph] [patd.graphql]   (no file: stdin)
//
// Exit status: 0 when composition succeeds and the supergraph has what patd
// promises, 1 when composition fails or something is missing, 2 on usage
// errors. Run by graph/federation_test.go; `make federation-deps` installs
// the dependencies.
import { readFileSync } from "node:fs";
import { composeServices } from "@apollo/composition";
import { Kind, parse, isObjectType, getNamedType } from "graphql";

const args = process.argv.slice(2);
const printSupergraph = args.includes("--print-supergraph");
const files = args.filter((a) => a !== "--print-supergraph");
if (files.length > 1 || files.some((f) => f.startsWith("-") && f !== "-")) {
  console.error("usage: node compose.mjs [--print-supergraph] [patd.graphql|-]");
  process.exit(2);
}

function read(path) {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    console.error(`read ${path === 0 ? "stdin" : path}: ${e.message}`);
    process.exit(2);
  }
}

const patdSDL = read(files.length === 0 || files[0] === "-" ? 0 : files[0]);
const usersSDL = read(new URL("./users.graphql", import.meta.url));
if (patdSDL.trim() === "") {
  console.error("patd SDL is empty (expected the output of `{ _service { sdl } }`)");
  process.exit(2);
}

function parseOrExit(name, sdl) {
  try {
    return parse(sdl);
  } catch (e) {
    console.error(`${name}: SDL does not parse: ${e.message}`);
    process.exit(1);
  }
}

const services = [
  { name: "users", url: "http://users.invalid/graphql", typeDefs: parseOrExit("users", usersSDL) },
  { name: "patd", url: "http://patd.invalid/graphql", typeDefs: parseOrExit("patd", patdSDL) },
];

const result = composeServices(services);

const code = (e) => e.extensions?.code ?? "UNKNOWN";
if (result.errors) {
  console.error(`composition FAILED with ${result.errors.length} error(s):`);
  for (const e of result.errors) console.error(`  [${code(e)}] ${e.message}`);
  process.exit(1);
}

if (result.hints.length > 0) {
  console.log(`composition hints (${result.hints.length}):`);
  for (const h of result.hints) console.log(`  [${h.definition.code}] ${h.message}`);
}

// What clients see: the API schema derived from the supergraph.
const api = result.schema.toAPISchema().toGraphQLJSSchema();

// Which subgraphs define each type / field, from the supergraph's join__ directives.
const supergraph = parse(result.supergraphSdl);
const typeNode = (name) =>
  supergraph.definitions.find((d) => d.kind === Kind.OBJECT_TYPE_DEFINITION && d.name.value === name);
const argValue = (dir, name) => {
  const a = dir.arguments?.find((x) => x.name.value === name);
  return a?.value.value; // graph: an enum value, key: a string
};
// Graph enum names are the subgraph names upper-cased (users -> USERS).
const joinTypes = (name) =>
  (typeNode(name)?.directives ?? [])
    .filter((d) => d.name.value === "join__type")
    .map((d) => ({ graph: argValue(d, "graph"), key: argValue(d, "key") }));
const fieldGraphs = (type, field) => {
  const t = typeNode(type);
  const f = t?.fields?.find((x) => x.name.value === field);
  if (!f) return undefined;
  const g = f.directives.filter((d) => d.name.value === "join__field").map((d) => argValue(d, "graph"));
  // No @join__field: the field is defined in every subgraph that defines the type.
  return g.length > 0 ? g : joinTypes(type).map((j) => j.graph);
};

const problems = [];
function requireFields(typeName, fields) {
  const t = api.getType(typeName);
  if (!isObjectType(t)) {
    problems.push(`type ${typeName} is missing from the supergraph API schema`);
    return;
  }
  const have = t.getFields();
  for (const f of fields) if (!have[f]) problems.push(`${typeName}.${f} is missing from the supergraph API schema`);
}
function requireOwner(typeName, field, graph) {
  const g = fieldGraphs(typeName, field);
  if (g && !g.includes(graph)) problems.push(`${typeName}.${field} is resolved by ${g.join(", ")}, want ${graph}`);
}

requireFields("User", ["id", "email", "name", "personalAccessTokens"]);
requireFields("Query", ["me", "personalAccessTokens", "personalAccessToken", "apiKeyRateLimit"]);
requireFields("Mutation", ["createPersonalAccessToken", "deletePersonalAccessToken", "rotatePersonalAccessToken"]);
requireFields("PersonalAccessToken", ["id", "user"]);

// User is an entity of both subgraphs, keyed by id; patd contributes
// personalAccessTokens, users contributes email and name.
for (const graph of ["USERS", "PATD"]) {
  if (!joinTypes("User").some((j) => j.graph === graph && j.key === "id"))
    problems.push(`User has no @join__type(graph: ${graph}, key: "id") in the supergraph`);
}
if (!joinTypes("PersonalAccessToken").some((j) => j.graph === "PATD" && j.key === "id"))
  problems.push(`PersonalAccessToken has no @join__type(graph: PATD, key: "id") in the supergraph`);
requireOwner("User", "personalAccessTokens", "PATD");
requireOwner("User", "email", "USERS");
requireOwner("User", "name", "USERS");
for (const f of ["personalAccessTokens", "personalAccessToken", "apiKeyRateLimit"]) requireOwner("Query", f, "PATD");
for (const f of ["createPersonalAccessToken", "deletePersonalAccessToken", "rotatePersonalAccessToken"])
  requireOwner("Mutation", f, "PATD");
// PersonalAccessToken.user must lead to the users subgraph's User.
const userField = api.getType("PersonalAccessToken")?.getFields?.().user;
if (userField && getNamedType(userField.type).name !== "User")
  problems.push(`PersonalAccessToken.user is ${userField.type}, want User!`);

if (problems.length > 0) {
  console.error(`composition succeeded but the supergraph is not what patd promises (${problems.length} problem(s)):`);
  for (const p of problems) console.error(`  ${p}`);
  process.exit(1);
}

if (printSupergraph) console.log(result.supergraphSdl);
const count = (n) => Object.keys(api.getType(n)?.getFields?.() ?? {}).length;
console.log(
  `composition OK: subgraphs users + patd; supergraph API schema has ${Object.keys(api.getTypeMap()).filter((n) => !n.startsWith("__")).length} types; ` +
    `User { ${Object.keys(api.getType("User").getFields()).join(" ")} }, ` +
    `Query: ${count("Query")} fields, Mutation: ${count("Mutation")} fields; ${result.hints.length} hint(s)`,
);
