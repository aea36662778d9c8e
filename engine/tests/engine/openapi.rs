//! `centinela openapi`: the API's document on stdout, with no configuration and no database.

use serde_json::Value;
use std::process::Command;

#[test]
fn openapi_prints_the_document_without_configuration_or_database() {
    let out = Command::new(env!("CARGO_BIN_EXE_centinela"))
        .arg("openapi")
        .env_remove("DATABASE_URL")
        .env(
            "CENTINELA_DATABASE__URL",
            "postgres://nobody@127.0.0.1:1/nada",
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    assert_eq!(
        paths.len(),
        centinela_api::routes::openapi().paths.paths.len(),
        "the CLI prints the same document the API serves"
    );
    assert!(paths.contains_key("/api/devices/{id}"));
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
}
