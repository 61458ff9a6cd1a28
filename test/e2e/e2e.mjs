#!/usr/bin/env node
// patd behind a real gateway, end to end. Starts a users subgraph (it owns
// `User @key(fields: "id")`, `me` and `user(id:)`) and Apollo Gateway in
// Apollo Server, which composes the users subgraph with patd's live
// `_service { sdl }` (IntrospectAndCompose, the same composition a router's
// rover build does) and forwards each client's Authorization header to both
// subgraphs. Then it uses patd only through the gateway, as the web app and
// the CLI do, and checks every answer, error extensions included.
//
//   PATD_URL=http://127.0.0.1:8080 E2E_JWTS='{"a":"…","b":"…","m":"…","r":"…"}' node e2e.mjs
//
// The JWTs are session JWTs of four users: a (the main flows), b (someone
// else), m (runs into PAT_MAX_ACTIVE) and r (runs into PAT_CREATE_LIMIT).
// patd must run with PAT_MAX_ACTIVE=2 and PAT_CREATE_LIMIT=4; E2E_LIMITS
// ('{"maxActive":2,"createLimit":4}') says what it runs with.
//
// Output: a line per check ("ok - …" or "not ok - …"), then one line
// `E2E_RESULT {"passed":[…],"failed":[…]}` that e2e_test.go reads.
// Exit status: 0 all passed, 1 a check failed, 3 the gateway could not
// compose the supergraph (patd's SDL broke composition), 2 usage errors.
import { ApolloGateway, IntrospectAndCompose, RemoteGraphQLDataSource } from "@apollo/gateway";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { buildSubgraphSchema } from "@apollo/subgraph";
import { parse } from "graphql";

const patdURL = process.env.PATD_URL?.replace(/\/$/, "");
let jwts, limits;
try {
  jwts = JSON.parse(process.env.E2E_JWTS ?? "");
  limits = JSON.parse(process.env.E2E_LIMITS ?? "");
} catch {
  jwts = undefined;
}
if (!patdURL || !jwts?.a || !jwts?.b || !jwts?.m || !jwts?.r || !limits?.maxActive || !limits?.createLimit) {
  console.error("usage: PATD_URL=… E2E_JWTS='{\"a\",\"b\",\"m\",\"r\"}' E2E_LIMITS='{\"maxActive\",\"createLimit\"}' node e2e.mjs");
  process.exit(2);
}

// --- the users subgraph ------------------------------------------------------

// The user a session JWT names (userId, else sub). A stand-in: the real
// users service verifies the JWT; this one only needs to know who asks.
function userOf(authorization) {
  const m = /^Bearer (eyJ[^.]+)\.([^.]+)\./.exec(authorization ?? "");
  if (!m) return null;
  const claims = JSON.parse(Buffer.from(m[2], "base64url").toString("utf8"));
  return claims.userId ?? claims.sub ?? null;
}

const nameOf = (id) => `Name of ${id}`;
const usersSchema = buildSubgraphSchema({
  typeDefs: parse(`
    extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
    type User @key(fields: "id") {
      id: ID!
      email: String!
      name: String
    }
    type Query {
      me: User
      user(id: ID!): User
    }
  `),
  resolvers: {
    Query: {
      me: (_, __, ctx) => (ctx.userId ? { id: ctx.userId } : null),
      user: (_, { id }) => ({ id }),
    },
    User: {
      __resolveReference: ({ id }) => ({ id }),
      name: ({ id }) => nameOf(id),
      email: ({ id }) => `${id}@users.test`,
    },
  },
});
const users = new ApolloServer({ schema: usersSchema });
const { url: usersURL } = await startStandaloneServer(users, {
  listen: { host: "127.0.0.1", port: 0 },
  context: async ({ req }) => ({ userId: userOf(req.headers.authorization) }),
});

// --- the gateway ----------------------------------------------------------------

// Forwards the client's Authorization to every subgraph fetch, as the
// contract asks of the gateway.
class AuthForwarding extends RemoteGraphQLDataSource {
  willSendRequest({ request, context }) {
    if (context.authorization) request.http.headers.set("authorization", context.authorization);
  }
}

const gateway = new ApolloGateway({
  supergraphSdl: new IntrospectAndCompose({
    subgraphs: [
      { name: "users", url: usersURL },
      { name: "patd", url: `${patdURL}/graphql` },
    ],
  }),
  buildService: ({ url }) => new AuthForwarding({ url }),
  logger: { debug() {}, info() {}, warn: console.warn, error: console.error },
});
const server = new ApolloServer({ gateway, includeStacktraceInErrorResponses: false });
let gatewayURL;
try {
  ({ url: gatewayURL } = await startStandaloneServer(server, {
    listen: { host: "127.0.0.1", port: 0 },
    context: async ({ req }) => ({ authorization: req.headers.authorization }),
  }));
} catch (e) {
  // The gateway composes at start: a patd SDL that breaks composition
  // stops it here.
  console.error(`gateway did not start: ${e.message}`);
  for (const err of e.errors ?? e.causes ?? []) console.error(`  [${err.extensions?.code ?? "?"}] ${err.message}`);
  console.log(`E2E_RESULT ${JSON.stringify({ passed: [], failed: ["compose"], composeError: e.message })}`);
  await users.stop();
  process.exit(3);
}

// --- checks ---------------------------------------------------------------------

const passed = [];
const failed = [];

class CheckError extends Error {}
function expect(cond, what, got) {
  if (!cond) throw new CheckError(`${what}; got ${JSON.stringify(got)}`);
}

async function check(name, fn) {
  try {
    await fn();
    passed.push(name);
    console.log(`ok - ${name}`);
  } catch (e) {
    failed.push(name);
    console.log(`not ok - ${name}: ${e instanceof CheckError ? e.message : e.stack}`);
  }
}

// gql sends a request through the gateway with bearer ("" for none).
async function gql(bearer, query, variables = {}) {
  const headers = { "content-type": "application/json" };
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  const res = await fetch(gatewayURL, { method: "POST", headers, body: JSON.stringify({ query, variables }) });
  const body = await res.json();
  return { status: res.status, ...body };
}

// ok returns data, failing on any error.
async function ok(bearer, query, variables) {
  const res = await gql(bearer, query, variables);
  expect(!res.errors && res.data, "want data without errors", res);
  return res.data;
}

// refused returns the only error, checking its code, that it came from patd
// and that no stack trace leaked.
async function refused(code, bearer, query, variables) {
  const res = await gql(bearer, query, variables);
  expect(res.errors?.length === 1, `want exactly one ${code} error`, res);
  const e = res.errors[0];
  expect(e.extensions?.code === code, `want extensions.code ${code}`, e);
  expect(typeof e.message === "string" && e.message.length > 0, "want a message", e);
  expect(!e.extensions.stacktrace && !e.extensions.exception, "no stack trace through the gateway", e);
  return e;
}

// patd's own REST routes (CLI pairing), not through the gateway.
async function rest(path, body) {
  const res = await fetch(`${patdURL}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

const tokenRE = /^af_(live|test)_[0-9A-Za-z]{36}$/;
const dateRE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const create = `mutation($name: String!) { createPersonalAccessToken(name: $name) { id name token maskedToken createdAt } }`;
const list = `query { personalAccessTokens(first: 10) { totalCount data { id name maskedToken user { id name email } } } }`;
const del = `mutation($id: ID!) { deletePersonalAccessToken(id: $id) }`;
const a = jwts.a;
let first, rotated, cliToken;

await check("create", async () => {
  const d = await ok(a, create, { name: "e2e laptop" });
  first = d.createPersonalAccessToken;
  expect(tokenRE.test(first.token), "a token in the contract's format", first);
  expect(first.maskedToken === first.token.slice(0, 12) + "…", "maskedToken is the first 12 characters and …", first);
  expect(first.name === "e2e laptop" && dateRE.test(first.createdAt), "name and createdAt", first);
});

await check("list with user { id name } from the users subgraph", async () => {
  const d = await ok(a, list);
  const l = d.personalAccessTokens;
  expect(l.totalCount === 1 && l.data.length === 1 && l.data[0].id === first.id, "the one token", l);
  const u = l.data[0].user;
  expect(u.id === "user-a" && u.name === nameOf("user-a") && u.email === "user-a@users.test",
    "PersonalAccessToken.user resolved by the users subgraph", u);
  expect(!JSON.stringify(d).includes(first.token), "the secret is never listed", d);
});

await check("me { personalAccessTokens } through _entities", async () => {
  const d = await ok(a, `{ me { id name personalAccessTokens(first: 5) { totalCount data { id name user { id } } } } }`);
  expect(d.me.id === "user-a" && d.me.name === nameOf("user-a"), "me from the users subgraph", d.me);
  const l = d.me.personalAccessTokens;
  expect(l?.totalCount === 1 && l.data[0].id === first.id && l.data[0].user.id === "user-a",
    "the user's tokens from patd, with the forwarded Authorization", l);
});

await check("rotate", async () => {
  const d = await ok(a, `mutation($id: ID!) { rotatePersonalAccessToken(id: $id) { id name token } }`, { id: first.id });
  rotated = d.rotatePersonalAccessToken;
  expect(rotated.id !== first.id && rotated.name === first.name && tokenRE.test(rotated.token) && rotated.token !== first.token,
    "a new token of the same name", rotated);
  const l = (await ok(a, list)).personalAccessTokens;
  expect(l.totalCount === 1 && l.data[0].id === rotated.id, "only the new token is left", l);
});

await check("delete", async () => {
  const d = await ok(a, del, { id: rotated.id });
  expect(d.deletePersonalAccessToken === true, "deletePersonalAccessToken is true", d);
  const l = (await ok(a, list)).personalAccessTokens;
  expect(l.totalCount === 0 && l.data.length === 0, "nothing is left", l);
});

await check("approveCliLogin", async () => {
  const start = await rest("/auth/cli/start", { name: "e2e cli" });
  expect(start.status === 200 && start.body.verificationSessionId && start.body.pollSecret, "a pairing session", start);
  const { verificationSessionId, pollSecret } = start.body;
  const pending = await rest("/auth/cli/poll", { verificationSessionId, pollSecret });
  expect(pending.status === 202 && pending.body.status === "pending", "pending until approved", pending);
  const d = await ok(a, `mutation($sid: ID!) { approveCliLogin(verificationSessionId: $sid, name: "e2e cli") }`,
    { sid: verificationSessionId });
  expect(d.approveCliLogin === true, "approveCliLogin is true", d);
  const got = await rest("/auth/cli/poll", { verificationSessionId, pollSecret });
  expect(got.status === 200 && tokenRE.test(got.body.token), "the CLI's next poll gets a token", got);
  cliToken = got.body.token;
  // The CLI then uses it, through the gateway.
  const l = (await ok(cliToken, list)).personalAccessTokens;
  expect(l.totalCount === 1 && l.data[0].name === "e2e cli" && l.data[0].user.id === "user-a",
    "the token was minted for the approving user and authenticates", l);
});

await check("personalAccessTokenEvents", async () => {
  const d = await ok(a, `{ personalAccessTokenEvents(first: 10) { totalCount data { action tokenId tokenName actor } } }`);
  const e = d.personalAccessTokenEvents;
  const seen = e.data.map((x) => `${x.action} ${x.tokenName}`);
  expect(JSON.stringify(seen) === JSON.stringify(["CREATED e2e cli", "DELETED e2e laptop", "ROTATED e2e laptop", "CREATED e2e laptop"]),
    "the security log, newest first", seen);
  expect(e.data.every((x) => x.actor === "user-a"), "every change by the user", e.data);
});

await check("UNAUTHENTICATED", async () => {
  const e = await refused("UNAUTHENTICATED", "", `{ personalAccessTokens { totalCount } }`);
  expect(JSON.stringify(e.path) === JSON.stringify(["personalAccessTokens"]), "the error's path", e);
});

await check("FORBIDDEN", async () => {
  // A PAT may not mint more.
  await refused("FORBIDDEN", cliToken, create, { name: "minted by a PAT" });
  // Someone else's tokens, asked for through the users subgraph's User.
  const res = await gql(a, `{ user(id: "user-b") { id name personalAccessTokens { totalCount } } }`);
  expect(res.data?.user?.id === "user-b" && res.data.user.name === nameOf("user-b") && res.data.user.personalAccessTokens === null,
    "the user, without their tokens", res);
  expect(res.errors?.length === 1 && res.errors[0].extensions?.code === "FORBIDDEN", "one FORBIDDEN error", res.errors);
});

await check("NOT_FOUND", async () => {
  await refused("NOT_FOUND", a, del, { id: "0190d6c4-5d6e-7000-8000-000000000000" });
  // Someone else's token is not found either.
  const b = (await ok(jwts.b, create, { name: "token of b" })).createPersonalAccessToken;
  await refused("NOT_FOUND", a, del, { id: b.id });
});

await check("BAD_USER_INPUT with reason", async () => {
  const name = await refused("BAD_USER_INPUT", a, create, { name: "<script>" });
  expect(name.extensions.reason === "INVALID_TOKEN_NAME", "reason INVALID_TOKEN_NAME", name);
  const page = await refused("BAD_USER_INPUT", a, `{ personalAccessTokens(first: 0) { totalCount } }`);
  expect(page.extensions.reason === "INVALID_PAGINATION", "reason INVALID_PAGINATION", page);
  const exp = await refused("BAD_USER_INPUT", a,
    `mutation { createPersonalAccessToken(name: "old", expiresAt: "2001-01-01T00:00:00Z") { id } }`);
  expect(exp.extensions.reason === "INVALID_EXPIRATION", "reason INVALID_EXPIRATION", exp);
});

await check("MAX_TOKENS_EXCEEDED with maxActiveTokens", async () => {
  for (let i = 0; i < limits.maxActive; i++) await ok(jwts.m, create, { name: `m${i}` });
  const e = await refused("MAX_TOKENS_EXCEEDED", jwts.m, create, { name: "one too many" });
  expect(e.extensions.maxActiveTokens === limits.maxActive, `maxActiveTokens ${limits.maxActive}`, e);
});

await check("RATE_LIMIT_EXCEEDED with resetAt and retryAfterSeconds", async () => {
  // Create and delete, so that only the daily quota counts.
  for (let i = 0; i < limits.createLimit; i++) {
    const t = (await ok(jwts.r, create, { name: `r${i}` })).createPersonalAccessToken;
    await ok(jwts.r, del, { id: t.id });
  }
  const e = await refused("RATE_LIMIT_EXCEEDED", jwts.r, create, { name: "over the quota" });
  expect(dateRE.test(e.extensions.resetAt) && Date.parse(e.extensions.resetAt) > Date.now() - 60_000, "resetAt, a date ahead", e);
  expect(Number.isInteger(e.extensions.retryAfterSeconds) && e.extensions.retryAfterSeconds > 0, "retryAfterSeconds > 0", e);
  const limit = (await ok(jwts.r, `{ apiKeyRateLimit { remaining limit } }`)).apiKeyRateLimit;
  expect(limit.remaining === 0 && limit.limit === limits.createLimit, "apiKeyRateLimit agrees", limit);
});

console.log(`E2E_RESULT ${JSON.stringify({ passed, failed })}`);
await server.stop();
await users.stop();
process.exit(failed.length === 0 ? 0 : 1);
