//! `GET /openapi.json`: the OpenAPI 3.1 description of every route, hand-maintained in
//! `crates/server/api/openapi.json` and embedded in the binary. A test checks that every route of
//! [`crate::app::ROUTES`] is documented there.

use axum::response::Response;

use crate::app::json_bytes_response;

/// The OpenAPI document.
pub const OPENAPI_JSON: &str = include_str!("../api/openapi.json");

pub async fn openapi_json() -> Response {
    json_bytes_response(OPENAPI_JSON.as_bytes().to_vec())
}

/// The OpenAPI path of an axum route: `{*path}` becomes `{path}`.
pub fn openapi_path(axum_path: &str) -> String {
    axum_path.replace("{*", "{")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::ROUTES;

    #[test]
    fn documents_every_route_and_nothing_else() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI_JSON).expect("valid JSON");
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().expect("paths");
        for route in ROUTES {
            let path = openapi_path(route.path);
            let method = route.method.to_ascii_lowercase();
            assert!(
                paths.get(&path).and_then(|p| p.get(&method)).is_some(),
                "{} {} is not in openapi.json",
                route.method,
                path
            );
        }
        for (path, item) in paths {
            for method in item.as_object().expect("path item").keys() {
                if method == "parameters" {
                    continue;
                }
                assert!(
                    ROUTES
                        .iter()
                        .any(|r| openapi_path(r.path) == *path
                            && r.method.eq_ignore_ascii_case(method)),
                    "openapi.json documents {method} {path}, which the router does not serve"
                );
            }
        }
    }

    #[test]
    fn every_schema_reference_resolves() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI_JSON).expect("valid JSON");
        let mut refs = Vec::new();
        collect_refs(&doc, &mut refs);
        assert!(!refs.is_empty());
        for reference in refs {
            let pointer = reference.trim_start_matches('#');
            assert!(doc.pointer(pointer).is_some(), "dangling $ref {reference}");
        }
    }

    fn collect_refs(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, v) in map {
                    match (key.as_str(), v.as_str()) {
                        ("$ref", Some(r)) => out.push(r.to_string()),
                        _ => collect_refs(v, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }
}
