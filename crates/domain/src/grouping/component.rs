//! The grouping component tree: what went into a hash, and why the rest did not.

use std::borrow::Cow;

use md5::{Digest, Md5};
use serde_json::{Value, json};

/// A node of the grouping tree (Sentry's `GroupingComponent`).
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    /// What the node stands for (`exception`, `stacktrace`, `frame`, `function`, ...).
    pub id: &'static str,
    /// Whether the node's values go into the hash.
    pub contributes: bool,
    /// Why the node does or does not contribute, for the grouping explanation.
    pub hint: Option<Cow<'static, str>>,
    /// Leaf strings and child components, in hashing order.
    pub values: Vec<Node>,
}

/// A child of a [`Component`].
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A primitive value that is hashed when its parent contributes.
    Value(String),
    /// A nested component.
    Component(Component),
}

impl Component {
    /// A component holding one value; it contributes.
    pub fn leaf(id: &'static str, value: impl Into<String>) -> Component {
        Component {
            id,
            contributes: true,
            hint: None,
            values: vec![Node::Value(value.into())],
        }
    }

    /// A component over children; it contributes if any child does.
    pub fn parent(id: &'static str, children: Vec<Component>) -> Component {
        let contributes = children.iter().any(|c| c.contributes);
        Component {
            id,
            contributes,
            hint: None,
            values: children.into_iter().map(Node::Component).collect(),
        }
    }

    /// Marks the component (not its children) as not contributing, with the reason.
    pub fn exclude(&mut self, hint: impl Into<Cow<'static, str>>) {
        self.contributes = false;
        self.hint = Some(hint.into());
    }

    /// Sets a hint without changing whether the component contributes.
    pub fn with_hint(mut self, hint: impl Into<Cow<'static, str>>) -> Component {
        self.hint = Some(hint.into());
        self
    }

    /// The contributing primitive values, depth first.
    pub fn contributing_values(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_values(&mut out);
        out
    }

    fn collect_values<'a>(&'a self, out: &mut Vec<&'a str>) {
        if !self.contributes {
            return;
        }
        for node in &self.values {
            match node {
                Node::Value(value) => out.push(value),
                Node::Component(child) => child.collect_values(out),
            }
        }
    }

    /// The hash of the contributing values, or `None` if the component does not contribute.
    pub fn hash(&self) -> Option<String> {
        self.contributes
            .then(|| hash_from_values(self.contributing_values()))
    }

    /// The tree as JSON, in the shape of Sentry's grouping info (`id`, `contributes`, `hint`,
    /// `values`).
    pub fn to_json(&self) -> Value {
        let values: Vec<Value> = self
            .values
            .iter()
            .map(|node| match node {
                Node::Value(v) => Value::from(v.as_str()),
                Node::Component(c) => c.to_json(),
            })
            .collect();
        json!({
            "id": self.id,
            "contributes": self.contributes,
            "hint": self.hint,
            "values": values,
        })
    }
}

/// Sentry's `hash_from_values`: the MD5 of the values concatenated **without a separator**, as 32
/// lowercase hex digits. So `["ab", "c"]` and `["a", "bc"]` hash alike; this is kept on purpose
/// so that hashes stay byte-compatible with Sentry's for the same component values.
pub fn hash_from_values<'a>(values: impl IntoIterator<Item = &'a str>) -> String {
    let mut md5 = Md5::new();
    for value in values {
        md5.update(value.as_bytes());
    }
    hex::encode(md5.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_input_hashes_to_the_md5_of_nothing() {
        assert_eq!(hash_from_values([]), "d41d8cd98f00b204e9800998ecf8427e");
    }

    #[test]
    fn values_are_concatenated_without_separator_like_sentry() {
        // Documented compatibility behaviour, see `hash_from_values`.
        assert_eq!(hash_from_values(["ab", "c"]), hash_from_values(["a", "bc"]));
        assert_eq!(
            hash_from_values(["abc"]),
            "900150983cd24fb0d6963f7d28e17f72"
        );
    }

    #[test]
    fn non_contributing_children_are_skipped() {
        let mut excluded = Component::leaf("lineno", "42");
        excluded.exclude("line numbers are ignored");
        let tree = Component::parent("frame", vec![Component::leaf("function", "f"), excluded]);
        assert_eq!(tree.contributing_values(), vec!["f"]);
        assert_eq!(tree.hash(), Some(hash_from_values(["f"])));
        let mut none = Component::parent("frame", vec![]);
        none.exclude("empty");
        assert_eq!(none.hash(), None);
    }
}
