//! Writes HCL as `terraform fmt` would: two-space indents, and the `=` of
//! consecutive one-line attributes aligned (a blank line, a comment, a block
//! or a multi-line value ends such a run).

use super::model::{Part, Val};

#[derive(Debug, Clone)]
pub enum Node {
    Attr(String, Val),
    Block(String, Vec<String>, Vec<Node>),
    Comment(String),
    /// Text kept as written (an HCL2 `validation` block), indented here.
    Raw(String),
    Blank,
}

pub fn render(nodes: &[Node]) -> String {
    let mut out = String::new();
    body(nodes, 0, &mut out);
    out
}

fn body(nodes: &[Node], depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    let mut i = 0;
    while i < nodes.len() {
        // A run of one-line attributes shares one column for `=`.
        let mut j = i;
        let mut rendered = Vec::new();
        while let Some(Node::Attr(k, v)) = nodes.get(j) {
            let text = value(v, depth);
            if text.contains('\n') {
                break;
            }
            rendered.push((key(k), text));
            j += 1;
        }
        if !rendered.is_empty() {
            let width = rendered
                .iter()
                .map(|(k, _)| k.chars().count())
                .max()
                .unwrap_or(0);
            for (k, v) in rendered {
                out.push_str(&format!("{pad}{k:<width$} = {v}\n"));
            }
            i = j;
            continue;
        }
        match &nodes[i] {
            Node::Attr(k, v) => out.push_str(&format!("{pad}{} = {}\n", key(k), value(v, depth))),
            Node::Block(kind, labels, inner) => {
                out.push_str(&pad);
                out.push_str(kind);
                for l in labels {
                    out.push_str(&format!(" {}", quote(l)));
                }
                if inner.is_empty() {
                    out.push_str(" {}\n");
                } else {
                    out.push_str(" {\n");
                    body(inner, depth + 1, out);
                    out.push_str(&format!("{pad}}}\n"));
                }
            }
            Node::Comment(c) => {
                for l in c.lines() {
                    if l.is_empty() {
                        out.push_str(&format!("{pad}#\n"));
                    } else {
                        out.push_str(&format!("{pad}# {l}\n"));
                    }
                }
            }
            Node::Raw(text) => {
                for l in text.lines() {
                    if l.trim().is_empty() {
                        out.push('\n');
                    } else {
                        out.push_str(&format!("{pad}{l}\n"));
                    }
                }
            }
            Node::Blank => out.push('\n'),
        }
        i += 1;
    }
}

fn is_ident(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

fn key(k: &str) -> String {
    if is_ident(k) || (k.starts_with('"') && k.ends_with('"') && k.len() > 1) {
        k.to_string()
    } else {
        quote(k)
    }
}

/// A string literal with HCL's escapes, template sequences included.
pub fn quote(s: &str) -> String {
    format!("\"{}\"", escape(s))
}

fn escape(s: &str) -> String {
    let mut o = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => o.push_str("\\\\"),
            '"' => o.push_str("\\\""),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                o.push(c);
                o.push(c);
            }
            c => o.push(c),
        }
    }
    o
}

fn scalar(v: &Val) -> bool {
    !matches!(v, Val::List(_) | Val::Map(_))
}

/// A value's text; nested lines are indented for `depth`.
pub fn value(v: &Val, depth: usize) -> String {
    match v {
        Val::Null => "null".into(),
        Val::Bool(b) => b.to_string(),
        Val::Num(n) => n.clone(),
        Val::Expr(e) => e.clone(),
        Val::Str(parts) => match parts.as_slice() {
            [Part::Interp(e)] => e.clone(),
            _ => {
                let mut s = String::from("\"");
                for p in parts {
                    match p {
                        Part::Lit(l) => s.push_str(&escape(l)),
                        Part::Interp(e) => s.push_str(&format!("${{{e}}}")),
                        // Mapped before writing; never reaches the output.
                        Part::Time => s.push_str("${timestamp()}"),
                    }
                }
                s.push('"');
                s
            }
        },
        Val::List(items) => {
            let one: Vec<String> = items.iter().map(|x| value(x, depth + 1)).collect();
            let line = format!("[{}]", one.join(", "));
            if items.iter().all(scalar) && !line.contains('\n') && line.len() <= 80 {
                return line;
            }
            let pad = "  ".repeat(depth + 1);
            let mut s = String::from("[\n");
            for x in one {
                s.push_str(&format!("{pad}{x},\n"));
            }
            s.push_str(&format!("{}]", "  ".repeat(depth)));
            s
        }
        Val::Map(entries) => {
            if entries.is_empty() {
                return "{}".into();
            }
            if let [(k, x)] = entries.as_slice() {
                let line = format!("{{ {} = {} }}", key(k), value(x, depth + 1));
                if scalar(x) && !line.contains('\n') && line.len() <= 60 {
                    return line;
                }
            }
            // One key needing quotes quotes them all, as people write such maps.
            let quote_all = entries.iter().any(|(k, _)| !is_ident(k));
            let nodes: Vec<Node> = entries
                .iter()
                .map(|(k, x)| Node::Attr(if quote_all { quote(k) } else { k.clone() }, x.clone()))
                .collect();
            let mut s = String::from("{\n");
            body(&nodes, depth + 1, &mut s);
            s.push_str(&format!("{}}}", "  ".repeat(depth)));
            s
        }
    }
}
