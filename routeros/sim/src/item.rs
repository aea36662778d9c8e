//! One row of a menu (`.id`, `name`, …) as ordered string properties, and `.proplist` projection.
//!
//! Everything RouterOS sends is a string, so rows are built as strings once and both the query
//! engine and the reply encoder read the same representation.

/// Ordered properties of one menu item. Names are unique within an item.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Item {
    props: Vec<(String, String)>,
}

impl Item {
    pub(crate) fn new() -> Self {
        Item::default()
    }

    /// Builder: appends a property.
    pub(crate) fn with(mut self, name: &str, value: impl ToString) -> Self {
        self.set(name, value);
        self
    }

    /// Builder: appends a property only when there is a value.
    pub(crate) fn with_opt(self, name: &str, value: Option<impl ToString>) -> Self {
        match value {
            Some(value) => self.with(name, value),
            None => self,
        }
    }

    /// Sets a property, replacing an earlier value of the same name.
    pub(crate) fn set(&mut self, name: &str, value: impl ToString) {
        let value = value.to_string();
        match self.props.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.props.push((name.to_string(), value)),
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.props
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn props(&self) -> &[(String, String)] {
        &self.props
    }
}

/// The `=.proplist=a,b` of a request: which properties to send, in that order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Proplist {
    names: Option<Vec<String>>,
}

impl Proplist {
    /// From the raw attribute value; `None` (no `.proplist`) keeps every property.
    pub(crate) fn parse(value: Option<&[u8]>) -> Self {
        let names = value.map(|v| {
            let mut names: Vec<String> = Vec::new();
            for name in String::from_utf8_lossy(v).split(',').map(str::trim) {
                if !name.is_empty() && !names.iter().any(|n| n == name) {
                    names.push(name.to_string());
                }
            }
            names
        });
        Proplist { names }
    }

    /// The properties to send for `item`: all of them without a proplist; otherwise the listed
    /// ones that the item has, in proplist order (`.id` only when listed).
    pub(crate) fn project<'a>(&self, item: &'a Item) -> Vec<(&'a str, &'a str)> {
        match &self.names {
            None => item
                .props()
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect(),
            Some(names) => names
                .iter()
                .filter_map(|name| {
                    item.props()
                        .iter()
                        .find(|(n, _)| n == name)
                        .map(|(n, v)| (n.as_str(), v.as_str()))
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Item, Proplist};

    #[test]
    fn proplist_projects_in_requested_order_and_skips_missing() {
        let item = Item::new()
            .with(".id", "*1")
            .with("name", "ether1")
            .with("mtu", 1500);
        assert_eq!(Proplist::parse(None).project(&item).len(), 3);
        let list = Proplist::parse(Some(b"mtu,nope,name,mtu"));
        assert_eq!(
            list.project(&item),
            vec![("mtu", "1500"), ("name", "ether1")]
        );
        let with_id = Proplist::parse(Some(b".id"));
        assert_eq!(with_id.project(&item), vec![(".id", "*1")]);
    }

    #[test]
    fn set_replaces_and_optional_values_are_skipped() {
        let mut item = Item::new().with("a", 1).with_opt("b", None::<&str>);
        item.set("a", 2);
        assert_eq!(item.props(), &[("a".to_string(), "2".to_string())]);
    }
}
