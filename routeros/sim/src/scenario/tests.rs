use super::{Scenario, ScenarioError};

#[test]
fn shipped_scenarios_parse() {
    let example = Scenario::from_toml_str(include_str!("../../scenarios/example.toml"))
        .expect("example.toml parses");
    assert_eq!(example.router.identity, "edge-01");
    assert_eq!(example.resource.len(), 2);
    assert_eq!(example.resource[1].cpu_load, Some(97));
    assert_eq!(example.interface[0].flaps.len(), 1);
    assert_eq!(example.interface[1].kind, "ether", "type defaults to ether");
    assert_eq!(example.dhcp.lease[0].status, "waiting");
    assert_eq!(example.log[0].repeat, 1);
    let brute = Scenario::from_toml_str(include_str!("../../scenarios/high-cpu-brute-force.toml"))
        .expect("high-cpu-brute-force.toml parses");
    assert_eq!(brute.log[0].repeat, 8);
    assert!((brute.log[0].every - 0.2).abs() < f64::EPSILON);
}

#[test]
fn default_is_valid_and_empty_file_is_default() {
    Scenario::default()
        .validate()
        .expect("default scenario is valid");
    let empty = Scenario::from_toml_str("").expect("empty file");
    assert_eq!(empty.router.identity, "MikroTik");
    assert_eq!(empty.interface.len(), 3);
}

#[test]
fn missing_sections_keep_defaults_and_given_ones_replace() {
    let s = Scenario::from_toml_str("[[interface]]\nname = \"wan\"\n").expect("parses");
    assert_eq!(s.interface.len(), 1);
    assert_eq!(s.interface[0].mtu, 1500);
    assert_eq!(s.router.cpu_count, 4);
}

fn invalid_message(toml: &str) -> String {
    match Scenario::from_toml_str(toml) {
        Err(ScenarioError::Invalid(message)) => message,
        other => panic!("expected Invalid for {toml:?}, got {other:?}"),
    }
}

#[test]
fn value_errors_name_the_field() {
    let table: &[(&str, &str)] = &[
        (
            "[[resource]]\nat = 0\ncpu_load = 140",
            "resource[0].cpu_load 140",
        ),
        (
            "[[resource]]\nat = -1",
            "resource[0].at must be a non-negative",
        ),
        (
            "[[resource]]\nat = 1\nfree_memory = 999999999999",
            "exceeds router.total_memory",
        ),
        ("[[interface]]\nname = \"\"", "interface[0].name is missing"),
        (
            "[[interface]]\nname = \"a\"\nmac = \"zz\"",
            "interface[0].mac \"zz\"",
        ),
        (
            "[[interface]]\nname = \"a\"\n[[interface]]\nname = \"a\"",
            "interface[1].name \"a\"",
        ),
        (
            "[[interface]]\nname = \"a\"\nflaps = [{ at = 1, down_for = 0 }]",
            "interface[0].flaps[0].down_for must be a positive",
        ),
        (
            "[[log]]\nat = 1\ntopics = \"x\"\nmessage = \"m\"\nrepeat = 0",
            "log[0].repeat",
        ),
        (
            "[[log]]\nat = 1\ntopics = \"\"\nmessage = \"m\"",
            "log[0] needs non-empty",
        ),
        (
            "[router]\nclock = \"yesterday\"",
            "router.clock \"yesterday\"",
        ),
        (
            "[[dhcp.lease]]\naddress = \"10.0.0\"\nmac = \"00:11:22:33:44:55\"",
            "address",
        ),
        (
            "[[dhcp.lease]]\naddress = \"10.0.0.1\"\nmac = \"00:11:22:33:44:55\"\nstatus = \"up\"",
            "status \"up\"",
        ),
    ];
    for (toml, expected) in table {
        let message = invalid_message(toml);
        assert!(
            message.contains(expected),
            "{toml:?}: {message:?} lacks {expected:?}"
        );
    }
}

#[test]
fn syntax_errors_are_one_line_with_position() {
    let error = Scenario::from_toml_str("[router]\nidentity = \"x\"\ncolour = 3\n")
        .expect_err("unknown field");
    let ScenarioError::Syntax { line, message, .. } = &error else {
        panic!("expected a syntax error, got {error:?}");
    };
    assert_eq!(*line, 3);
    assert!(message.contains("colour"), "{message}");
    assert!(!error.to_string().contains('\n'), "one line: {error}");

    let error = Scenario::from_toml_str("[[resource]]\nat = \"soon\"").expect_err("bad type");
    assert!(
        matches!(error, ScenarioError::Syntax { line: 2, .. }),
        "{error:?}"
    );
    let error = Scenario::from_toml_str("[router\n").expect_err("broken table header");
    assert!(
        matches!(error, ScenarioError::Syntax { line: 1, .. }),
        "{error:?}"
    );
}

#[test]
fn read_errors_name_the_file() {
    let error = Scenario::from_file(std::path::Path::new("/nonexistent/scenario.toml"))
        .expect_err("missing file");
    assert!(
        error.to_string().contains("/nonexistent/scenario.toml"),
        "{error}"
    );
}
