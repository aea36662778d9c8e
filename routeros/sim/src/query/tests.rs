use super::{Query, QueryError};
use crate::item::Item;

fn q(words: &[&str]) -> Query {
    let words: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
    Query::parse(&words).expect("valid query")
}

fn iface(name: &str, kind: &str) -> Item {
    Item::new().with("name", name).with("type", kind)
}

fn route(distance: u32, gateway: &str, comment: Option<&str>) -> Item {
    Item::new()
        .with("distance", distance)
        .with("gateway", gateway)
        .with_opt("comment", comment)
}

#[test]
fn doc_examples() {
    let ether = iface("ether1", "ether");
    let vlan = iface("vlan10", "vlan");
    let bridge = iface("bridge", "bridge");
    let either = q(&["type=ether", "type=vlan", "#|"]);
    assert!(either.matches(&ether) && either.matches(&vlan) && !either.matches(&bridge));
    let neither = q(&["type=ether", "type=vlan", "#|!"]);
    assert!(!neither.matches(&ether) && !neither.matches(&vlan) && neither.matches(&bridge));

    let commented = q(&[">comment="]);
    assert!(commented.matches(&route(1, "10.0.0.1", Some("x"))));
    assert!(!commented.matches(&route(1, "10.0.0.1", Some(""))));
    assert!(!commented.matches(&route(1, "10.0.0.1", None)));

    let not_both = q(&[">distance=1", "gateway=172.16.1.1", "#&!"]);
    assert!(!not_both.matches(&route(2, "172.16.1.1", None)));
    assert!(not_both.matches(&route(1, "172.16.1.1", None)));
    assert!(not_both.matches(&route(2, "10.0.0.1", None)));
}

#[test]
fn librouteros_encodings() {
    let rows = [
        iface("a", "ether"),
        iface("b", "vlan"),
        iface("c", "bridge"),
        iface("d", "wlan"),
    ];
    let names = |query: &Query| -> Vec<String> {
        rows.iter()
            .filter(|r| query.matches(r))
            .filter_map(|r| r.get("name").map(str::to_string))
            .collect()
    };
    // Key("name") == "b"
    assert_eq!(names(&q(&["=name=b"])), ["b"]);
    // Key("name") != "b"
    assert_eq!(names(&q(&["=name=b", "#!"])), ["a", "c", "d"]);
    // Key("type").In("ether", "vlan", "wlan")
    let in_query = q(&["=type=ether", "=type=vlan", "=type=wlan", "#|", "#|"]);
    assert_eq!(names(&in_query), ["a", "b", "d"]);
    // And(Key("type") == "ether", Key("name") == "a")
    assert_eq!(names(&q(&["=type=ether", "=name=a", "#&"])), ["a"]);
    // Or(Key("name") == "a", Key("name") == "c", Key("name") == "d")
    assert_eq!(
        names(&q(&["=name=a", "=name=c", "=name=d", "#|", "#|"])),
        ["a", "c", "d"]
    );
    // Key("name") < "c", Key("name") > "b"
    assert_eq!(names(&q(&["<name=c"])), ["a", "b"]);
    assert_eq!(names(&q(&[">name=b"])), ["c", "d"]);
}

#[test]
fn property_words_table() {
    let item = Item::new()
        .with("name", "ether1")
        .with("mtu", "1500")
        .with("comment", "");
    let table: &[(&[&str], bool)] = &[
        (&[], true),
        (&["name"], true),
        (&["nope"], false),
        (&["-nope"], true),
        (&["-name"], false),
        (&["name=ether1"], true),
        (&["=name=ether1"], true),
        (&["name=ether2"], false),
        (&["nope=x"], false),
        (&["nope="], true),
        (&["comment="], true),
        (&["<mtu=9000"], true),
        (&["<mtu=1000"], false),
        (&[">mtu=999"], true),
        (&["<nope=1"], false),
        (&[">nope=1"], false),
        (&["name=ether1", "mtu=1"], false),
        (&["name=ether2", "mtu=1500", "#|"], true),
    ];
    for (words, expected) in table {
        assert_eq!(q(words).matches(&item), *expected, "{words:?}");
    }
}

#[test]
fn numeric_comparison_is_not_lexicographic() {
    let item = Item::new().with("rx-byte", "900");
    assert!(q(&["<rx-byte=1000"]).matches(&item));
    assert!(!q(&[">rx-byte=1000"]).matches(&item));
}

#[test]
fn stack_operations_table() {
    let item = Item::new().with("t", "1").with("f", "0");
    // (words, expected); "t=1" pushes true, "f=1" pushes false.
    let table: &[(&[&str], bool)] = &[
        (&["f=1"], false),
        (&["f=1", "#!"], true),
        (&["#!"], false),
        (&["t=1", "f=1", "#&"], false),
        (&["t=1", "f=1", "#|"], true),
        (&["f=1", "#|"], true),
        (&["f=1", "#&"], false),
        (&["f=1", "t=1", "#0"], true),
        (&["f=1", "t=1", "#1"], false),
        (&["t=1", "f=1", "#1."], false),
        (&["t=1", "f=1", "#0.!"], false),
        (&["f=1", "#.!"], false),
        (&["f=1", "#.!|"], true),
        (&["f=1", "t=1", "t=1", "#2!"], false),
        (&["f=1", "#5"], true),
        (&["f=1", "#!!"], false),
        (&["t=1", "f=1", "#1|"], true),
        (&["f=1", "f=1", "#|!"], true),
        (&["f=1", "f=1", "#0|!"], false),
    ];
    for (words, expected) in table {
        assert_eq!(q(words).matches(&item), *expected, "{words:?}");
    }
}

#[test]
fn invalid_words_are_refused() {
    for word in ["", "#x", "#1+", "<mtu", ">=1", "=noequals"] {
        let result = Query::parse(&[word.as_bytes().to_vec()]);
        assert_eq!(
            result,
            Err(QueryError::Invalid(word.to_string())),
            "{word:?}"
        );
    }
}
