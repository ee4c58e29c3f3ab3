//! The template's variables as Terraform variables (variables.tf).

use super::model::{Val, Variable};
use super::report::Finding;
use super::writer::Node;

pub fn nodes(vars: &[Variable], findings: &mut Vec<Finding>) -> Vec<Node> {
    let mut out = Vec::new();
    for (i, v) in vars.iter().enumerate() {
        if i > 0 {
            out.push(Node::Blank);
        }
        if let Some(env) = &v.env {
            out.push(Node::Comment(format!(
                "Packer read this from the environment variable {env}: set TF_VAR_{} or -var {}=... instead.",
                v.name, v.name
            )));
            findings.push(Finding::note(
                v.line,
                format!("variable `{}`: read from ${env} in Packer; now a variable without default (TF_VAR_{})", v.name, v.name),
            ));
        }
        let mut body = Vec::new();
        if let Some(d) = &v.description {
            body.push(Node::Attr("description".into(), Val::lit(d)));
        }
        if let Some(t) = &v.ty {
            body.push(Node::Attr("type".into(), Val::Expr(t.clone())));
        }
        if let Some(d) = &v.default {
            body.push(Node::Attr("default".into(), d.clone()));
        }
        if v.sensitive {
            body.push(Node::Attr("sensitive".into(), Val::Bool(true)));
        }
        for e in &v.extra {
            body.push(Node::Raw(e.clone()));
        }
        out.push(Node::Block("variable".into(), vec![v.name.clone()], body));
    }
    out
}
