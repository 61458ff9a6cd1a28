// Starts GraphiQL against patd's GraphQL endpoint. A file of its own, not an
// inline script, so that the page's Content-Security-Policy allows only
// scripts patd serves.
(function () {
  var root = document.getElementById("graphiql");
  var fetcher = GraphiQL.createFetcher({ url: root.dataset.endpoint });
  var defaultQuery = [
    "# patd, development mode. Authenticate in the Headers tab below with",
    '#   { "Authorization": "Bearer <the dev JWT that make run printed>" }',
    "# (or a personal access token), then run the query.",
    "{",
    "  personalAccessTokens(first: 10) {",
    "    totalCount",
    "    data { id name maskedToken expiresAt lastUsedAt createdAt }",
    "  }",
    "}",
    "",
  ].join("\n");
  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: defaultQuery,
      defaultEditorToolsVisibility: "headers",
    })
  );
})();
