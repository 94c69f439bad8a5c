//! The OpenAPI document (`openapi.json`, served at `P/schema/`) against the router and the server.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use common::Server;

/// The document as kept in the repository.
fn document() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
    let text = std::fs::read_to_string(path).expect("read openapi.json");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("openapi.json is not JSON: {e}"))
}

/// The operation keys an OpenAPI path item may hold.
const OPERATIONS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Methods a route allows that the document may leave out: every path answers
/// `OPTIONS` (DRF's metadata) and `HEAD` where it answers `GET`, as the
/// document's description says; documenting them is allowed, not required.
const IMPLICIT: &[&str] = &["head", "options"];

/// path → methods, from the router: its routes under the prefix, and `/health`
/// outside it (documented with a path-level server `/`).
fn routes() -> BTreeMap<String, BTreeSet<String>> {
    let methods = |allow: &str| {
        allow
            .split(',')
            .map(|m| m.trim().to_ascii_lowercase())
            .filter(|m| !m.is_empty())
            .collect()
    };
    let mut routes: BTreeMap<String, BTreeSet<String>> = restauth::server::ROUTES
        .iter()
        .map(|r| (format!("/{}/", r.pattern), methods(r.allow)))
        .collect();
    let health = restauth::endpoints::health::PATH.to_string();
    routes.insert(health, methods(restauth::endpoints::health::ALLOW));
    routes
}

/// path → operations, from the document.
fn documented(doc: &Value) -> BTreeMap<String, BTreeSet<String>> {
    doc["paths"]
        .as_object()
        .expect("paths is an object")
        .iter()
        .map(|(path, item)| {
            let ops = item
                .as_object()
                .expect("path item is an object")
                .keys()
                .filter(|k| OPERATIONS.contains(&k.as_str()))
                .cloned()
                .collect();
            (path.clone(), ops)
        })
        .collect()
}

/// Every operation of the document: (path, method, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if OPERATIONS.contains(&method.as_str()) {
                out.push((path.clone(), method.clone(), op.clone()));
            }
        }
    }
    out
}

#[test]
fn document_is_openapi_3_1_json() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let servers = doc["servers"].as_array().expect("servers");
    assert_eq!(servers.len(), 1);
    assert_eq!(servers[0]["url"], "/rest-auth");
    // The server rewrites every `"/rest-auth"` string to the configured prefix:
    // the server URL must be the only one.
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json"))
        .expect("read openapi.json");
    assert_eq!(text.matches("\"/rest-auth\"").count(), 1);
    let scheme = &doc["components"]["securitySchemes"]["tokenAuth"];
    assert_eq!(scheme["type"], "apiKey");
    assert_eq!(scheme["in"], "header");
    assert_eq!(scheme["name"], "Authorization");
}

#[test]
fn document_lists_exactly_the_routes() {
    // /health is served at the root, whatever the prefix.
    assert_eq!(document()["paths"]["/health"]["servers"][0]["url"], "/");
    let routes = routes();
    let doc = documented(&document());
    let route_paths: BTreeSet<&String> = routes.keys().collect();
    let doc_paths: BTreeSet<&String> = doc.keys().collect();
    let missing: Vec<_> = route_paths.difference(&doc_paths).collect();
    let extra: Vec<_> = doc_paths.difference(&route_paths).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "routes missing from openapi.json: {missing:?}; documented paths with no route: {extra:?}"
    );
    for (path, allowed) in &routes {
        let ops = &doc[path];
        let undocumented: Vec<_> = allowed
            .iter()
            .filter(|m| !IMPLICIT.contains(&m.as_str()) && !ops.contains(*m))
            .collect();
        let not_allowed: Vec<_> = ops.difference(allowed).collect();
        assert!(
            undocumented.is_empty() && not_allowed.is_empty(),
            "{path}: Allow has {allowed:?}; methods not documented: {undocumented:?}; \
             documented but not allowed: {not_allowed:?}"
        );
    }
}

#[test]
fn references_resolve_and_operations_are_complete() {
    let doc = document();
    // Every $ref points into the document.
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in &all {
        let pointer = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("external $ref {r}"));
        assert!(doc.pointer(pointer).is_some(), "unresolved $ref {r}");
    }

    let ids: Vec<String> = operations(&doc)
        .iter()
        .map(|(p, m, op)| {
            op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{m} {p}: no operationId"))
                .to_string()
        })
        .collect();
    assert_eq!(
        ids.iter().collect::<BTreeSet<_>>().len(),
        ids.len(),
        "duplicate operationId in {ids:?}"
    );

    for (path, method, op) in operations(&doc) {
        let at = format!("{} {path}", method.to_uppercase());
        let responses = op["responses"].as_object().expect("responses");
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{at}: no success response"
        );
        // Endpoints behind a token declare it and their 401.
        let security = op["security"]
            .as_array()
            .unwrap_or_else(|| panic!("{at}: no security"));
        let needs_token = !security.is_empty();
        // Both modes: where a token key works, a JWT does too.
        let has = |scheme: &str| security.iter().any(|s| s.get(scheme).is_some());
        assert_eq!(
            has("tokenAuth"),
            has("jwtAuth"),
            "{at}: tokenAuth and jwtAuth go together"
        );
        // JWT mode's CSRF check (and Origin check) can refuse any unsafe request.
        if ["post", "put", "patch"].contains(&method.as_str()) && path != "/health" {
            assert!(responses.contains_key("403"), "{at}: no 403 (CSRF)");
        }
        assert_eq!(
            needs_token,
            responses.contains_key("401"),
            "{at}: a token requirement and a documented 401 go together"
        );
        // Bodies: the three media types with one schema, and their errors.
        if let Some(body) = op.get("requestBody") {
            let content = body["content"].as_object().expect("content");
            let types: BTreeSet<&str> = content.keys().map(String::as_str).collect();
            assert_eq!(
                types,
                BTreeSet::from([
                    "application/json",
                    "application/x-www-form-urlencoded",
                    "multipart/form-data"
                ]),
                "{at}"
            );
            let schemas: BTreeSet<String> =
                content.values().map(|c| c["schema"].to_string()).collect();
            assert_eq!(schemas.len(), 1, "{at}: one schema for every media type");
            for status in ["400", "408", "413", "415"] {
                assert!(responses.contains_key(status), "{at}: no {status}");
            }
        }
        // `{id}` segments are declared parameters.
        for segment in path.split('/').filter(|s| s.starts_with('{')) {
            let name = segment.trim_matches(|c| c == '{' || c == '}');
            let params = doc["paths"][&path]["parameters"]
                .as_array()
                .into_iter()
                .chain(op["parameters"].as_array())
                .flatten();
            assert!(
                params
                    .into_iter()
                    .any(|p| p["name"] == name && p["in"] == "path"),
                "{at}: path parameter {name} not declared"
            );
        }
    }
}

#[test]
fn server_serves_the_document() {
    let server = Server::start();
    let r = server.get("/rest-auth/schema/", None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.header("Content-Type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{:?}",
        r.headers
    );
    assert_eq!(r.json(), without_providers(document()));
    // Without the trailing slash too.
    assert_eq!(
        server.get("/rest-auth/schema", None).json(),
        without_providers(document())
    );
}

/// The document as served when no OpenID Connect provider is configured.
fn without_providers(mut doc: Value) -> Value {
    let paths = doc["paths"].as_object_mut().unwrap();
    for path in restauth::endpoints::schema::PROVIDER_PATHS {
        assert!(paths.remove(path).is_some(), "{path} is documented");
    }
    doc
}

#[test]
fn served_document_names_the_configured_providers() {
    let server = Server::start_with(&[
        (
            "RESTAUTH_SOCIAL_OIDC_KEYCLOAK_ISSUER",
            "https://sso.example/realms/app",
        ),
        ("RESTAUTH_SOCIAL_OIDC_KEYCLOAK_CLIENT_IDS", "web"),
        (
            "RESTAUTH_SOCIAL_OIDC_GITLAB_ISSUER",
            "https://gitlab.example",
        ),
        ("RESTAUTH_SOCIAL_OIDC_HALF_ISSUER", "https://half.example"),
        ("RESTAUTH_SOCIAL_OIDC_GITLAB_CLIENT_IDS", "app-id"),
    ]);
    let served = server.get("/rest-auth/schema/", None).json();
    let mut expected = document();
    for path in restauth::endpoints::schema::PROVIDER_PATHS {
        let schema = &mut expected["paths"][path]["parameters"][0]["schema"];
        schema.as_object_mut().unwrap().remove("pattern");
        // Only enabled providers (half has no client ids), in name order.
        schema["enum"] = serde_json::json!(["gitlab", "keycloak"]);
    }
    assert_eq!(served, expected);
}

#[test]
fn served_document_carries_the_configured_prefix() {
    let server = Server::start_with(&[("RESTAUTH_SERVER_PREFIX", "/auth")]);
    let r = server.get("/auth/schema/", None);
    assert_eq!(r.status, 200, "{}", r.text());
    let served = r.json();
    assert_eq!(served["servers"][0]["url"], "/auth");
    let mut expected = document();
    expected["servers"][0]["url"] = Value::String("/auth".into());
    assert_eq!(served, without_providers(expected));
    assert_eq!(server.get("/rest-auth/schema/", None).status, 404);
}
