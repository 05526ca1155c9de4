//! SAML's XML: a small tree read from `quick-xml`'s events, and the exclusive XML
//! canonicalization (xml-exc-c14n) that XML signatures are computed over.
//!
//! The reader is deliberately narrow: no DTD (a `DOCTYPE` is refused outright, so there are no
//! entity declarations to expand), no entity references beyond the five predefined ones and
//! character references, a bound on nesting depth and on the number of nodes. Every prefix is
//! kept as written, and every element knows the namespaces in scope for it, because
//! canonicalization renders the declarations an element uses, not the ones it happens to carry.

use std::collections::{BTreeMap, HashMap};

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};

/// How deep elements may nest (a SAML response is about ten levels deep).
pub const MAX_DEPTH: usize = 64;
/// How many nodes (elements, texts, comments) a document may have.
pub const MAX_NODES: usize = 20_000;

/// The namespace the `xml` prefix is bound to, always.
const XML_NAMESPACE: &str = "http://www.w3.org/XML/1998/namespace";

/// Why a document was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct XmlError(pub String);

fn fail<T>(message: impl Into<String>) -> Result<T, XmlError> {
    Err(XmlError(message.into()))
}

/// A node's index in its [`Document`].
pub type NodeId = usize;

/// A parsed document: its nodes in document order, the root element first.
#[derive(Debug)]
pub struct Document {
    nodes: Vec<Node>,
    ids: HashMap<String, NodeId>,
}

/// One node of a [`Document`].
#[derive(Debug)]
pub enum Node {
    /// An element.
    Element(Element),
    /// Character data (text, references and CDATA sections, merged), line ends normalized.
    Text(String),
    /// A comment's content.
    Comment(String),
    /// A processing instruction.
    Instruction {
        /// Its target.
        target: String,
        /// What follows the target, leading white space removed.
        content: String,
    },
}

/// An element, with its name as written and its namespaces.
#[derive(Debug)]
pub struct Element {
    /// The prefix of its name, as written (`None` for an unprefixed name).
    pub prefix: Option<String>,
    /// Its local name.
    pub local: String,
    /// The namespace its name is in (`None` when unprefixed with no default namespace).
    pub namespace: Option<String>,
    /// Its attributes, namespace declarations excluded.
    pub attributes: Vec<Attribute>,
    /// Every namespace in scope for it, by prefix (`""` for the default namespace), the `xml`
    /// prefix excluded.
    pub in_scope: BTreeMap<String, String>,
    /// Its children, in order.
    pub children: Vec<NodeId>,
    /// Its parent element (`None` for the root).
    pub parent: Option<NodeId>,
}

/// An attribute (not a namespace declaration).
#[derive(Debug)]
pub struct Attribute {
    /// The prefix of its name, as written.
    pub prefix: Option<String>,
    /// Its local name.
    pub local: String,
    /// Its namespace (an unprefixed attribute has none).
    pub namespace: Option<String>,
    /// Its value, normalized and unescaped.
    pub value: String,
}

impl Element {
    /// Whether it is `local` in `namespace`.
    pub fn is(&self, namespace: &str, local: &str) -> bool {
        self.local == local && self.namespace.as_deref() == Some(namespace)
    }

    /// The value of its unprefixed attribute `name`.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.prefix.is_none() && a.local == name)
            .map(|a| a.value.as_str())
    }
}

impl Document {
    /// Reads `text`, refusing what SAML never needs (a DTD, unknown entities) and what is too
    /// large or too deep.
    pub fn parse(text: &str) -> Result<Document, XmlError> {
        Parser::default().run(text)
    }

    /// The root element.
    pub fn root(&self) -> NodeId {
        0
    }

    /// The node `id`.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    /// The element `id` (`None` when that node is not an element).
    pub fn element(&self, id: NodeId) -> Option<&Element> {
        match self.nodes.get(id) {
            Some(Node::Element(element)) => Some(element),
            _ => None,
        }
    }

    /// The element children of `id`, in order.
    pub fn child_elements(&self, id: NodeId) -> impl Iterator<Item = (NodeId, &Element)> + '_ {
        self.element(id)
            .map(|e| e.children.as_slice())
            .unwrap_or_default()
            .iter()
            .filter_map(|&child| self.element(child).map(|e| (child, e)))
    }

    /// The element children of `id` named `local` in `namespace`.
    pub fn children_named<'a>(
        &'a self,
        id: NodeId,
        namespace: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = (NodeId, &'a Element)> + 'a {
        self.child_elements(id)
            .filter(move |(_, e)| e.is(namespace, local))
    }

    /// The only element child of `id` named `local` in `namespace`: `Ok(None)` when there is
    /// none, an error when there are several.
    pub fn only_child(
        &self,
        id: NodeId,
        namespace: &str,
        local: &str,
    ) -> Result<Option<(NodeId, &Element)>, XmlError> {
        let mut found = self
            .child_elements(id)
            .filter(|(_, e)| e.is(namespace, local));
        let first = found.next();
        if found.next().is_some() {
            return fail(format!("it has more than one {local}"));
        }
        Ok(first)
    }

    /// Every element named `local` in `namespace`, anywhere in the document.
    pub fn all_named<'a>(
        &'a self,
        namespace: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = NodeId> + 'a {
        self.nodes
            .iter()
            .enumerate()
            .filter_map(move |(id, node)| match node {
                Node::Element(e) if e.is(namespace, local) => Some(id),
                _ => None,
            })
    }

    /// The text content of `id` (its text children and those of its descendants, in order).
    pub fn text(&self, id: NodeId) -> String {
        let mut out = String::new();
        self.collect_text(id, &mut out);
        out
    }

    fn collect_text(&self, id: NodeId, out: &mut String) {
        match &self.nodes[id] {
            Node::Text(text) => out.push_str(text),
            Node::Element(e) => {
                for &child in &e.children {
                    self.collect_text(child, out);
                }
            }
            _ => {}
        }
    }

    /// The element whose `ID` attribute is `value` (IDs are unique: a document with two
    /// elements of one ID is refused when read).
    pub fn by_id(&self, value: &str) -> Option<NodeId> {
        self.ids.get(value).copied()
    }
}

#[derive(Default)]
struct Parser {
    nodes: Vec<Node>,
    /// Open elements, innermost last.
    open: Vec<NodeId>,
    ids: HashMap<String, NodeId>,
    root_done: bool,
}

impl Parser {
    fn run(mut self, text: &str) -> Result<Document, XmlError> {
        let mut reader = quick_xml::Reader::from_str(text);
        let config = reader.config_mut();
        config.trim_text(false);
        config.expand_empty_elements = false;
        config.check_end_names = true;
        config.check_comments = true;
        loop {
            let event = reader
                .read_event()
                .map_err(|e| XmlError(format!("it is not well-formed XML: {e}")))?;
            match event {
                Event::DocType(_) => {
                    return fail("it has a DOCTYPE, which is refused (no DTDs or entities)");
                }
                Event::Decl(_) => {
                    if !self.nodes.is_empty() {
                        return fail("it has an XML declaration after its start");
                    }
                }
                Event::Start(start) => self.start(&start, false)?,
                Event::Empty(start) => self.start(&start, true)?,
                Event::End(_) => {
                    self.open.pop();
                    if self.open.is_empty() {
                        self.root_done = true;
                    }
                }
                Event::Text(text) => self.text(&text.xml10_content())?,
                Event::CData(data) => self.text(&data.xml10_content())?,
                Event::GeneralRef(reference) => {
                    let resolved = match reference
                        .resolve_char_ref()
                        .map_err(|e| XmlError(format!("it has a bad character reference: {e}")))?
                    {
                        Some(c) => c,
                        None => match &*reference.xml10_content() {
                            "lt" => '<',
                            "gt" => '>',
                            "amp" => '&',
                            "apos" => '\'',
                            "quot" => '"',
                            other => {
                                return fail(format!(
                                    "it refers to the entity &{other}; (only the predefined ones \
                                     are allowed)"
                                ));
                            }
                        },
                    };
                    self.text(resolved.encode_utf8(&mut [0; 4]))?;
                }
                Event::Comment(comment) => {
                    if !self.open.is_empty() {
                        let content = comment.xml10_content().into_owned();
                        self.push(Node::Comment(content))?;
                    }
                }
                Event::PI(pi) => {
                    if !self.open.is_empty() {
                        let node = Node::Instruction {
                            target: pi.target().to_owned(),
                            content: pi.content().trim_start().to_owned(),
                        };
                        self.push(node)?;
                    }
                }
                Event::Eof => break,
            }
        }
        if !self.root_done || !self.open.is_empty() {
            return fail("it is not a complete XML document");
        }
        Ok(Document {
            nodes: self.nodes,
            ids: self.ids,
        })
    }

    /// Adds `node` as the last child of the innermost open element.
    fn push(&mut self, node: Node) -> Result<NodeId, XmlError> {
        if self.nodes.len() >= MAX_NODES {
            return fail(format!("it has more than {MAX_NODES} nodes"));
        }
        let id = self.nodes.len();
        self.nodes.push(node);
        if let Some(&parent) = self.open.last()
            && let Some(Node::Element(e)) = self.nodes.get_mut(parent)
        {
            e.children.push(id);
        }
        Ok(id)
    }

    fn text(&mut self, text: &str) -> Result<(), XmlError> {
        let Some(&parent) = self.open.last() else {
            if text.chars().all(|c| c.is_ascii_whitespace()) {
                return Ok(());
            }
            return fail("it has text outside its root element");
        };
        // Text, references and CDATA next to each other are one text node.
        let last = match &self.nodes[parent] {
            Node::Element(e) => e.children.last().copied(),
            _ => None,
        };
        if let Some(last) = last
            && let Some(Node::Text(existing)) = self.nodes.get_mut(last)
        {
            existing.push_str(text);
            return Ok(());
        }
        self.push(Node::Text(text.to_owned()))?;
        Ok(())
    }

    fn start(&mut self, start: &BytesStart<'_>, empty: bool) -> Result<(), XmlError> {
        if self.root_done {
            return fail("it has more than one root element");
        }
        if self.open.len() >= MAX_DEPTH {
            return fail(format!("it nests deeper than {MAX_DEPTH} levels"));
        }
        let parent = self.open.last().copied();
        let mut in_scope = match parent.and_then(|p| match &self.nodes[p] {
            Node::Element(e) => Some(&e.in_scope),
            _ => None,
        }) {
            Some(scope) => scope.clone(),
            None => BTreeMap::new(),
        };
        let mut raw_attributes = Vec::new();
        for attribute in start.attributes() {
            let attribute =
                attribute.map_err(|e| XmlError(format!("it has a malformed attribute: {e}")))?;
            let name = attribute.key.0.to_owned();
            let value = attribute
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|e| XmlError(format!("it has a malformed attribute value: {e}")))?
                .into_owned();
            if name == "xmlns" {
                if value.is_empty() {
                    in_scope.remove("");
                } else {
                    in_scope.insert(String::new(), value);
                }
            } else if let Some(prefix) = name.strip_prefix("xmlns:") {
                if value.is_empty() {
                    return fail(format!("it undeclares the prefix {prefix}"));
                }
                if prefix != "xml" {
                    in_scope.insert(prefix.to_owned(), value);
                }
            } else {
                raw_attributes.push((name, value));
            }
        }
        let (prefix, local) = split_name(start.name().0)?;
        let namespace = match &prefix {
            Some(prefix) => Some(resolve(&in_scope, prefix)?),
            None => in_scope.get("").cloned(),
        };
        let mut attributes: Vec<Attribute> = Vec::with_capacity(raw_attributes.len());
        for (name, value) in raw_attributes {
            let (prefix, local) = split_name(&name)?;
            let namespace = match &prefix {
                Some(prefix) => Some(resolve(&in_scope, prefix)?),
                None => None,
            };
            if attributes
                .iter()
                .any(|a| a.local == local && a.namespace == namespace)
            {
                return fail(format!("it repeats the attribute {name}"));
            }
            attributes.push(Attribute {
                prefix,
                local,
                namespace,
                value,
            });
        }
        let element = Element {
            prefix,
            local,
            namespace,
            attributes,
            in_scope,
            children: Vec::new(),
            parent,
        };
        let id_value = element.attribute("ID").map(str::to_owned);
        let id = self.push(Node::Element(element))?;
        if let Some(value) = id_value
            && self.ids.insert(value.clone(), id).is_some()
        {
            return fail(format!("two of its elements have the ID {value}"));
        }
        if empty {
            if self.open.is_empty() {
                self.root_done = true;
            }
        } else {
            self.open.push(id);
        }
        Ok(())
    }
}

fn split_name(name: &str) -> Result<(Option<String>, String), XmlError> {
    match name.split_once(':') {
        Some((prefix, local))
            if !prefix.is_empty() && !local.is_empty() && !local.contains(':') =>
        {
            Ok((Some(prefix.to_owned()), local.to_owned()))
        }
        None if !name.is_empty() => Ok((None, name.to_owned())),
        _ => fail(format!("it has the malformed name {name}")),
    }
}

fn resolve(in_scope: &BTreeMap<String, String>, prefix: &str) -> Result<String, XmlError> {
    if prefix == "xml" {
        return Ok(XML_NAMESPACE.to_owned());
    }
    match in_scope.get(prefix) {
        Some(namespace) => Ok(namespace.clone()),
        None => fail(format!("it uses the undeclared prefix {prefix}")),
    }
}

/// How to canonicalize: the two exclusive canonicalization algorithms, and the prefixes of
/// their `InclusiveNamespaces PrefixList` (rendered as inclusive canonicalization would).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct C14n {
    /// Whether comments are kept (`xml-exc-c14n#WithComments`).
    pub with_comments: bool,
    /// The inclusive prefixes (`#default` stands for the default namespace).
    pub inclusive_prefixes: Vec<String>,
}

impl C14n {
    /// The exclusive canonical form of the element `id` and its descendants, leaving out the
    /// subtree `excluded` (the enveloped signature).
    pub fn canonicalize(&self, doc: &Document, id: NodeId, excluded: Option<NodeId>) -> String {
        let mut out = String::new();
        let mut rendered = BTreeMap::new();
        rendered.insert(String::new(), String::new());
        self.element(doc, id, excluded, &rendered, &mut out);
        out
    }

    fn element(
        &self,
        doc: &Document,
        id: NodeId,
        excluded: Option<NodeId>,
        rendered: &BTreeMap<String, String>,
        out: &mut String,
    ) {
        let Some(element) = doc.element(id) else {
            return;
        };
        // The namespaces this element visibly uses, and the inclusive ones in scope.
        let mut used: Vec<&str> = vec![element.prefix.as_deref().unwrap_or("")];
        for attribute in &element.attributes {
            if let Some(prefix) = attribute.prefix.as_deref()
                && prefix != "xml"
            {
                used.push(prefix);
            }
        }
        for prefix in &self.inclusive_prefixes {
            let prefix = if prefix == "#default" { "" } else { prefix };
            if prefix.is_empty() || element.in_scope.contains_key(prefix) {
                used.push(prefix);
            }
        }
        used.sort_unstable();
        used.dedup();
        let mut now_rendered = rendered.clone();
        let mut declarations = String::new();
        for prefix in used {
            let uri = element
                .in_scope
                .get(prefix)
                .map(String::as_str)
                .unwrap_or("");
            if rendered.get(prefix).map(String::as_str) == Some(uri) {
                continue;
            }
            if prefix.is_empty() {
                declarations.push_str(" xmlns=\"");
            } else {
                if uri.is_empty() {
                    continue;
                }
                declarations.push_str(" xmlns:");
                declarations.push_str(prefix);
                declarations.push_str("=\"");
            }
            escape_attribute(uri, &mut declarations);
            declarations.push('"');
            now_rendered.insert(prefix.to_owned(), uri.to_owned());
        }
        out.push('<');
        push_name(element.prefix.as_deref(), &element.local, out);
        out.push_str(&declarations);
        let mut attributes: Vec<&Attribute> = element.attributes.iter().collect();
        attributes.sort_by(|a, b| {
            (a.namespace.as_deref().unwrap_or(""), a.local.as_str())
                .cmp(&(b.namespace.as_deref().unwrap_or(""), b.local.as_str()))
        });
        for attribute in attributes {
            out.push(' ');
            push_name(attribute.prefix.as_deref(), &attribute.local, out);
            out.push_str("=\"");
            escape_attribute(&attribute.value, out);
            out.push('"');
        }
        out.push('>');
        for &child in &element.children {
            if Some(child) == excluded {
                continue;
            }
            match doc.node(child) {
                Node::Element(_) => self.element(doc, child, excluded, &now_rendered, out),
                Node::Text(text) => escape_text(text, out),
                Node::Comment(comment) => {
                    if self.with_comments {
                        out.push_str("<!--");
                        out.push_str(comment);
                        out.push_str("-->");
                    }
                }
                Node::Instruction { target, content } => {
                    out.push_str("<?");
                    out.push_str(target);
                    if !content.is_empty() {
                        out.push(' ');
                        out.push_str(content);
                    }
                    out.push_str("?>");
                }
            }
        }
        out.push_str("</");
        push_name(element.prefix.as_deref(), &element.local, out);
        out.push('>');
    }
}

fn push_name(prefix: Option<&str>, local: &str, out: &mut String) {
    if let Some(prefix) = prefix {
        out.push_str(prefix);
        out.push(':');
    }
    out.push_str(local);
}

fn escape_text(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn escape_attribute(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

/// `value` escaped for an attribute value or text in XML this module writes (metadata, the
/// AuthnRequest).
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c14n(xml: &str, with_comments: bool, inclusive: &[&str]) -> String {
        let doc = Document::parse(xml).unwrap();
        let c = C14n {
            with_comments,
            inclusive_prefixes: inclusive.iter().map(|s| (*s).to_owned()).collect(),
        };
        c.canonicalize(&doc, doc.root(), None)
    }

    fn subtree(xml: &str, id: &str) -> String {
        let doc = Document::parse(xml).unwrap();
        let node = doc.by_id(id).unwrap();
        C14n::default().canonicalize(&doc, node, None)
    }

    #[test]
    fn attributes_are_sorted_by_namespace_then_name_and_values_escaped() {
        let xml = "<a xmlns:z=\"urn:z\" xmlns:b=\"urn:b\" z:k='1' b:k=\"2\" c='x&amp;&lt;&gt;&quot;&#9;&#10;&#13;' a=\"lit\ttab\"/>";
        assert_eq!(
            c14n(xml, false, &[]),
            "<a xmlns:b=\"urn:b\" xmlns:z=\"urn:z\" a=\"lit tab\" c=\"x&amp;&lt;>&quot;&#x9;&#xA;&#xD;\" b:k=\"2\" z:k=\"1\"></a>"
        );
    }

    #[test]
    fn text_is_escaped_line_ends_normalized_and_cdata_merged() {
        let xml = "<a>x &lt; y &gt; z &amp; \"q\"\r\nnext<![CDATA[<raw>&]]>&#13;</a>";
        assert_eq!(
            c14n(xml, false, &[]),
            "<a>x &lt; y &gt; z &amp; \"q\"\nnext&lt;raw&gt;&amp;&#xD;</a>"
        );
    }

    #[test]
    fn a_subtree_renders_the_inherited_namespaces_it_uses_and_only_those() {
        let xml = "<p:Root xmlns:p=\"urn:p\" xmlns:unused=\"urn:u\" xmlns=\"urn:d\">\
                   <p:Child ID=\"c\" xmlns:q=\"urn:q\"><Plain q:at=\"1\"> <p:Leaf/></Plain></p:Child></p:Root>";
        assert_eq!(
            subtree(xml, "c"),
            "<p:Child xmlns:p=\"urn:p\" ID=\"c\"><Plain xmlns=\"urn:d\" xmlns:q=\"urn:q\" q:at=\"1\"> <p:Leaf></p:Leaf></Plain></p:Child>"
        );
    }

    #[test]
    fn an_undeclared_default_namespace_is_rendered_empty_only_under_a_default() {
        let xml = "<a xmlns=\"urn:d\"><b xmlns=\"\"><c/></b></a>";
        assert_eq!(
            c14n(xml, false, &[]),
            "<a xmlns=\"urn:d\"><b xmlns=\"\"><c></c></b></a>"
        );
        assert_eq!(c14n("<b xmlns=\"\"><c/></b>", false, &[]), "<b><c></c></b>");
    }

    #[test]
    fn inclusive_prefixes_are_rendered_where_in_scope_and_comments_on_request() {
        let xml = "<a xmlns:xs=\"urn:xs\" xmlns:n=\"urn:n\"><!-- hi --><?pi  data?><b>1</b></a>";
        assert_eq!(
            c14n(xml, false, &["xs"]),
            "<a xmlns:xs=\"urn:xs\"><?pi data?><b>1</b></a>"
        );
        assert_eq!(
            c14n(xml, true, &[]),
            "<a><!-- hi --><?pi data?><b>1</b></a>"
        );
    }

    #[test]
    fn hostile_documents_are_refused_without_panicking() {
        let doctype = "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>";
        assert!(Document::parse(doctype).unwrap_err().0.contains("DOCTYPE"));
        assert!(Document::parse("<a>&x;</a>").is_err());
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert!(Document::parse(&deep).unwrap_err().0.contains("deeper"));
        let wide = format!("<a>{}</a>", "<b/>".repeat(MAX_NODES));
        assert!(Document::parse(&wide).unwrap_err().0.contains("nodes"));
        for broken in [
            "",
            "<a>",
            "<a></b>",
            "<a/><b/>",
            "<p:a/>",
            "text",
            "<a x='1' x='2'/>",
        ] {
            assert!(Document::parse(broken).is_err(), "{broken}");
        }
        let twice = "<a><b ID=\"x\"/><c ID=\"x\"/></a>";
        assert!(Document::parse(twice).unwrap_err().0.contains("ID"));
    }
}
