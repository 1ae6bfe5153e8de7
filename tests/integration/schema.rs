//! The committed schema.graphql is what the code builds, exposes no personal columns, and serves
//! the client contract.

use crate::helpers::contract_document;

#[test]
fn schema_graphql_matches_the_code() {
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    let built = api::graphql::sdl();
    assert!(
        committed == built,
        "schema.graphql is out of date: run `cargo run -- export-schema > schema.graphql`"
    );
}

#[test]
fn schema_exposes_no_secret_or_personal_field() {
    let sdl = api::graphql::sdl();
    let forbidden = [
        "openid",
        "unionid",
        "sessionKey",
        "phoneNumber",
        "passwordHash",
        "phone",
        "session_key",
    ];
    // The contract's AreaContact.phone is a service number given out on purpose, not personal.
    let allowed = [("AreaContact", "phone"), ("SetAreaContactInput", "phone")];
    let mut current_type = "";
    for line in sdl.lines() {
        if let Some(rest) = line
            .strip_prefix("type ")
            .or_else(|| line.strip_prefix("input "))
        {
            current_type = rest.split_whitespace().next().unwrap_or_default();
        }
        let field = line.trim_start();
        let name: String = field
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        // Field definitions are indented lines starting with their name.
        if (line.starts_with('\t') || line.starts_with("  "))
            && !allowed.contains(&(current_type, name.as_str()))
        {
            assert!(
                !forbidden.contains(&name.as_str()),
                "the schema exposes `{name}`: {line}"
            );
        }
    }
    assert!(
        sdl.contains("phoneMasked"),
        "the masked phone stays available"
    );
}

/// tests/contract/ holds the client contract the tests run; it must equal the shared one.
#[test]
fn vendored_contract_matches_the_shared_contract() {
    let shared = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/contract");
    let Ok(entries) = std::fs::read_dir(shared) else {
        // Outside the development workspace there is no shared contract to compare with.
        eprintln!("no ../shared/contract here; the vendored copy stands alone");
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "graphql") {
            let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
            let theirs = std::fs::read_to_string(&path).unwrap();
            assert_eq!(
                contract_document(&name),
                theirs,
                "tests/contract/{name}.graphql differs from the shared contract"
            );
        }
    }
}
