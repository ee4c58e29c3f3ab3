//! What a Packer template says, whichever syntax it was written in: the
//! readers produce it, the mapping consumes it.

use std::path::PathBuf;

/// A value as Terraform will see it.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null,
    Bool(bool),
    Num(String),
    /// A string, possibly with interpolations.
    Str(Vec<Part>),
    List(Vec<Val>),
    Map(Vec<(String, Val)>),
    /// A Terraform expression, written as it stands (from an HCL2 template).
    Expr(String),
}

/// A piece of a string.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Lit(String),
    /// A Terraform expression, interpolated.
    Interp(String),
    /// The build's time (`{{timestamp}}`, `{{isotime}}`, `timestamp()`...): only
    /// `ami_name` can keep its meaning, as `name_prefix`.
    Time,
}

impl Val {
    pub fn lit(s: &str) -> Val {
        Val::Str(vec![Part::Lit(s.to_string())])
    }

    /// The plain text of a string without interpolations.
    pub fn as_lit(&self) -> Option<String> {
        match self {
            Val::Str(parts) => parts
                .iter()
                .map(|p| match p {
                    Part::Lit(s) => Some(s.as_str()),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()
                .map(|v| v.concat()),
            _ => None,
        }
    }

    pub fn has_time(&self) -> bool {
        match self {
            Val::Str(parts) => parts.contains(&Part::Time),
            Val::List(items) => items.iter().any(Val::has_time),
            Val::Map(entries) => entries.iter().any(|(_, v)| v.has_time()),
            _ => false,
        }
    }
}

/// One option as written: its name, its value (or why it has none we can
/// use), its line, and its text for a comment in the output.
#[derive(Debug, Clone)]
pub struct Opt {
    pub key: String,
    pub val: Result<Val, String>,
    pub line: usize,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct Variable {
    pub name: String,
    /// `None`: the variable must be set (no default, or one read from the environment).
    pub default: Option<Val>,
    /// Packer read the default from this environment variable.
    pub env: Option<String>,
    pub sensitive: bool,
    pub description: Option<String>,
    /// A Terraform type expression (HCL2 templates); JSON variables are strings.
    pub ty: Option<String>,
    /// Other settings kept as written (HCL2 `validation` blocks, say).
    pub extra: Vec<String>,
    pub line: usize,
}

/// A builder (JSON) or a source as a build uses it (HCL2).
#[derive(Debug, Clone)]
pub struct Builder {
    /// Always `amazon-ebs`: other builders are leftovers.
    #[allow(dead_code)]
    pub kind: String,
    /// The resource label comes from this.
    pub name: String,
    /// The names `only`/`except` may use for it.
    pub ids: Vec<String>,
    pub opts: Vec<Opt>,
    /// Provisioners of this build (HCL2); JSON templates share one list.
    pub provisioners: Option<Vec<Provisioner>>,
    pub line: usize,
}

#[derive(Debug, Clone)]
pub struct Provisioner {
    pub kind: String,
    pub opts: Vec<Opt>,
    pub only: Vec<String>,
    pub except: Vec<String>,
    /// JSON `override`: options replaced for one builder.
    pub overrides: Vec<(String, Vec<Opt>)>,
    pub line: usize,
}

impl Provisioner {
    pub fn applies_to(&self, b: &Builder) -> bool {
        (self.only.is_empty() || self.only.iter().any(|o| b.ids.contains(o)))
            && !self.except.iter().any(|e| b.ids.contains(e))
    }

    /// The options as they apply to `b` (with its override, if any).
    pub fn opts_for(&self, b: &Builder) -> Vec<Opt> {
        let mut opts = self.opts.clone();
        for (name, over) in &self.overrides {
            if b.ids.contains(name) {
                for o in over {
                    opts.retain(|x| x.key != o.key);
                    opts.push(o.clone());
                }
            }
        }
        opts
    }
}

/// Something of the template left behind: what, where, and its text.
#[derive(Debug, Clone)]
pub struct Leftover {
    pub line: usize,
    pub what: String,
    pub text: String,
}

#[derive(Debug, Clone, Default)]
pub struct Template {
    /// The template as the report names it (a file or a directory).
    pub file: PathBuf,
    /// For several files read as one: each file and the number of lines before it.
    pub file_starts: Vec<(PathBuf, usize)>,
    /// Where relative paths in the template start.
    pub dir: PathBuf,
    pub variables: Vec<Variable>,
    pub locals: Vec<(String, Val, usize)>,
    pub builders: Vec<Builder>,
    pub provisioners: Vec<Provisioner>,
    /// Parts with no equivalent found while reading: other builders, post-processors.
    pub leftovers: Vec<Leftover>,
}
