//! Checks of one attribute's value, declared with the attribute. Each runs at
//! plan time and reports at the attribute's path (a list element's index, a
//! map key); unknown values are skipped and checked again once known.
//! Rules that span several attributes stay with the resource.

use crate::protocol::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::protocol::value::Value;
use crate::provider::duration;

#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// One of a closed set (`Check::one_of::<HostKeyCheck>()`).
    OneOf(&'static [&'static str]),
    /// A whole number in `min..=max`; `what` names it in the message.
    Whole {
        min: i64,
        max: i64,
        what: &'static str,
    },
    /// A whole number that is a multiple of this (CopyImage's 15-minute steps).
    MultipleOf(i64),
    /// An AWS region name, like `eu-west-1` or `us-gov-west-1`.
    Region,
    /// Map keys: AWS region names.
    RegionKeys,
    /// "90s", "5m", "1h30m".
    Duration,
    /// An absolute path on the build instance.
    AbsolutePath,
    /// An IPv4 CIDR block.
    Ipv4Cidr,
    AmiId,
    /// A 12-digit account id, or `all`.
    AccountIdOrAll,
    /// A 12-digit account id.
    AccountId,
    /// An AWS Organizations organization ARN (`arn:aws:organizations::ACCOUNT:organization/o-...`).
    OrganizationArn,
    /// An AWS Organizations OU ARN (`arn:aws:organizations::ACCOUNT:ou/o-.../ou-...`).
    OuArn,
    /// An IAM ARN whose resource starts with this (`role/`, `policy/`).
    Arn(&'static str),
    /// An RFC 3339 time.
    Rfc3339,
    /// Family and size, like `t3.micro`.
    InstanceType,
    /// A spot price: `auto`, or a positive decimal number of dollars an hour.
    SpotPrice,
    /// EC2's AMI name alphabet, and a length range.
    AmiName {
        min: usize,
        max: usize,
    },
    /// Map keys: no `aws:` prefix.
    NoReservedTagKeys,
    /// Map keys: shell variable names.
    ShellNames,
    /// An unencrypted OpenSSH or PEM private key.
    PrivateKey,
    /// A public key as in known_hosts.
    PublicKey,
    /// A list or map with at least one element; the text says why.
    NonEmpty(&'static str),
    /// A string that must contain `needle`; `why` says what happens without.
    Contains {
        needle: &'static str,
        why: &'static str,
    },
    /// A local file that exists and is a file.
    LocalFile,
    /// An http:// or https:// URL.
    HttpUrl,
    /// A path under which SSM parameters are made: starts and ends with
    /// `/`, segments in SSM's parameter-name alphabet, not `/aws` or `/ssm`.
    SsmPathPrefix,
    /// A parameter name relative to such a path (`web/prod`): segments in
    /// SSM's alphabet, no leading, trailing or double `/`.
    SsmRelativeName,
}

/// An AWS region name: a two-letter area, an optional partition word
/// (`gov`, `iso`, ...), a direction and a number (`us-east-1`,
/// `ap-southeast-2`, `us-gov-west-1`, `cn-north-1`).
pub fn region_ok(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let letters = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
    parts.len() >= 3
        && parts.len() <= 4
        && parts[0].len() == 2
        && letters(parts[0])
        && parts[1..parts.len() - 1].iter().all(|p| letters(p))
        && parts
            .last()
            .is_some_and(|n| !n.is_empty() && n.len() <= 2 && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
#[test]
fn region_names() {
    for ok in [
        "us-east-1",
        "ap-southeast-2",
        "us-gov-west-1",
        "cn-north-1",
        "eu-central-2",
    ] {
        assert!(region_ok(ok), "{ok}");
    }
    for bad in [
        "",
        "us-east",
        "US-EAST-1",
        "us_east_1",
        "useast-1",
        "us-east-1a",
        "us--1",
    ] {
        assert!(!region_ok(bad), "{bad}");
    }
}

/// A TCP port, as every `port` attribute takes it.
pub const PORT: Check = Check::Whole {
    min: 1,
    max: 65535,
    what: "a TCP port",
};

impl Check {
    pub fn one_of<T: crate::choices::Choice>() -> Check {
        Check::OneOf(T::VALUES)
    }

    /// Runs the check on `v` (an attribute named `name` at `path`).
    pub fn run(&self, name: &str, v: &Value, path: &AttrPath, d: &mut Diagnostics) {
        match self {
            Check::NonEmpty(why) => {
                let empty = match v {
                    Value::List(l) => l.is_empty(),
                    Value::Map(m) => m.is_empty(),
                    _ => false,
                };
                if empty {
                    push(d, path.clone(), format!("Empty {name}"), *why);
                }
            }
            Check::NoReservedTagKeys | Check::ShellNames | Check::RegionKeys => {
                if let Value::Map(m) = v {
                    for k in m.keys() {
                        if let Some((summary, detail)) = self.key_problem(k) {
                            push(d, path.clone().key(k), summary, detail);
                        }
                    }
                }
            }
            _ => match v {
                Value::List(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.run_scalar(name, item, path.clone().index(i), d);
                    }
                }
                other => self.run_scalar(name, other, path.clone(), d),
            },
        }
    }

    fn key_problem(&self, k: &str) -> Option<(&'static str, String)> {
        match self {
            Check::NoReservedTagKeys if k.to_ascii_lowercase().starts_with("aws:") => Some((
                "Reserved tag key",
                format!("Tag keys starting with \"aws:\" are reserved by AWS ({k:?})."),
            )),
            Check::ShellNames if !shell_name_ok(k) => Some((
                "Invalid variable name",
                format!(
                    "{k:?} is not a shell variable name (letters, digits, _; not starting with a digit)."
                ),
            )),
            Check::RegionKeys if !region_ok(k) => Some((
                "Invalid region",
                format!("{k:?} is not an AWS region name like \"eu-west-1\"."),
            )),
            _ => None,
        }
    }

    fn run_scalar(&self, name: &str, v: &Value, path: AttrPath, d: &mut Diagnostics) {
        let invalid = format!("Invalid {name}");
        match (self, v) {
            (Check::Whole { min, max, what }, Value::Number(n))
                if !((*min as f64)..=(*max as f64)).contains(n) || n.fract() != 0.0 =>
            {
                push(
                    d,
                    path,
                    invalid,
                    format!("{n} is not {what} ({min}-{max})."),
                );
            }
            (Check::MultipleOf(step), Value::Number(n))
                if n.fract() != 0.0 || (*n as i64) % step != 0 =>
            {
                push(
                    d,
                    path,
                    invalid,
                    format!("{n} is not a multiple of {step}."),
                );
            }
            (_, Value::String(s)) => {
                for (summary, detail) in self.string_problems(name, s) {
                    push(d, path.clone(), summary, detail);
                }
            }
            _ => {}
        }
    }

    fn string_problems(&self, name: &str, s: &str) -> Vec<(String, String)> {
        let invalid = || format!("Invalid {name}");
        let one = |summary: String, detail: String| vec![(summary, detail)];
        match self {
            Check::OneOf(values) if !values.contains(&s) => {
                one(invalid(), format!("{s:?}: use {}.", or_list(values)))
            }
            Check::Duration => match duration::parse(s) {
                Err(e) => one("Invalid duration".into(), e),
                Ok(_) => vec![],
            },
            Check::AbsolutePath if !s.starts_with('/') => one(
                "Relative path".into(),
                format!("{s:?} must be an absolute path on the instance."),
            ),
            Check::Ipv4Cidr if !cidr_ok(s) => one(
                "Invalid CIDR".into(),
                format!("{s:?} is not an IPv4 CIDR like 10.0.0.0/16."),
            ),
            Check::Region if !region_ok(s) => one(
                "Invalid region".into(),
                format!("{s:?} is not an AWS region name like \"eu-west-1\"."),
            ),
            Check::AmiId if !ami_id_ok(s) => one(
                "Invalid AMI id".into(),
                format!("{s:?} is not an AMI id (ami- followed by hex digits)."),
            ),
            Check::OrganizationArn if !org_arn_ok(s, false) => one(
                "Invalid organization ARN".into(),
                format!("{s:?} is not an organization ARN like arn:aws:organizations::123456789012:organization/o-exampleorgid."),
            ),
            Check::OuArn if !org_arn_ok(s, true) => one(
                "Invalid organizational unit ARN".into(),
                format!("{s:?} is not an OU ARN like arn:aws:organizations::123456789012:ou/o-exampleorgid/ou-ab12-cdefghij."),
            ),
            Check::AccountIdOrAll
                if s != "all" && !(s.len() == 12 && s.chars().all(|c| c.is_ascii_digit())) =>
            {
                one(
                    "Invalid account id".into(),
                    format!("{s:?} is neither a 12-digit account id nor \"all\"."),
                )
            }
            Check::AccountId if !account_id_ok(s) => one(
                "Invalid account id".into(),
                format!("{s:?} is not a 12-digit AWS account id."),
            ),
            Check::Arn(kind) if !iam_arn_ok(s, kind) => one(
                "Invalid ARN".into(),
                format!(
                    "{s:?} is not an IAM {} ARN like \"arn:aws:iam::123456789012:{kind}NAME\".",
                    kind.trim_end_matches('/')
                ),
            ),
            Check::Rfc3339
                if aws_smithy_types::DateTime::from_str(
                    s,
                    aws_smithy_types::date_time::Format::DateTime,
                )
                .is_err() =>
            {
                one(
                    "Invalid time".into(),
                    format!("{s:?} is not an RFC 3339 time like 2027-01-31T00:00:00Z."),
                )
            }
            Check::SpotPrice if !spot_price_ok(s) => one(
                "Invalid spot price".into(),
                format!(
                    "{s:?} is neither \"auto\" (up to the on-demand price) nor a maximum price in dollars an hour like \"0.05\"."
                ),
            ),
            Check::InstanceType if !instance_type_ok(s) => one(
                "Invalid instance type".into(),
                format!("{s:?} is not an instance type like \"t3.micro\"."),
            ),
            Check::AmiName { min, max } => {
                let mut out = Vec::new();
                if let Some(bad) = s.chars().find(|c| !ami_name_char_ok(*c)) {
                    out.push((
                        "Invalid AMI name".into(),
                        format!(
                            "{s:?} contains {bad:?}; EC2 accepts letters, digits, spaces and ( ) [ ] . / - ' @ _"
                        ),
                    ));
                }
                if s.len() < *min || s.len() > *max {
                    out.push((
                        "Invalid AMI name length".into(),
                        format!(
                            "{name} must be {min} to {max} characters; {s:?} has {}.",
                            s.len()
                        ),
                    ));
                }
                out
            }
            Check::PrivateKey if !crate::ssh::keys::is_private_key(s) => one(
                "Invalid private key".into(),
                "Give an unencrypted OpenSSH or PEM private key (for example with file(\"~/.ssh/id_ed25519\")).".into(),
            ),
            Check::PublicKey if !crate::ssh::keys::is_public_key(s) => one(
                "Invalid host key".into(),
                "Give the key as in known_hosts or a .pub file: \"ssh-ed25519 AAAA...\".".into(),
            ),
            Check::Contains { needle, why } if !s.contains(needle) => {
                one(invalid(), format!("{s:?} {why}: include {needle}."))
            }
            Check::LocalFile if !std::path::Path::new(s).is_file() => one(
                "File not found".into(),
                format!(
                    "{s:?} is not a readable file (relative paths start from Terraform's working directory; use path.module)."
                ),
            ),
            Check::HttpUrl if !(s.starts_with("http://") || s.starts_with("https://")) => one(
                invalid(),
                format!("{s:?} is not an http:// or https:// URL."),
            ),
            Check::SsmPathPrefix => ssm_prefix_problem(s)
                .map(|why| one(invalid(), format!("{s:?} {why}")))
                .unwrap_or_default(),
            Check::SsmRelativeName => ssm_name_problem(s)
                .map(|why| one(invalid(), format!("{s:?} {why}")))
                .unwrap_or_default(),
            _ => vec![],
        }
    }
}

/// Characters SSM accepts in a parameter name's path segment.
fn ssm_char_ok(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_.-".contains(c)
}

/// SSM's limit on a hierarchy's depth (levels below the root).
pub const SSM_MAX_LEVELS: usize = 15;
/// SSM's limit on a fully qualified parameter name.
pub const SSM_MAX_NAME: usize = 1011;

/// Why `s` cannot be a parameter name below a path, if it cannot.
pub fn ssm_name_problem(s: &str) -> Option<String> {
    if s.is_empty() {
        return Some("is empty.".into());
    }
    if s.starts_with('/') || s.ends_with('/') || s.contains("//") {
        return Some("must not start or end with `/` nor hold `//` (it is a path below `channel_path_prefix`, like `web/prod`).".into());
    }
    if let Some(bad) = s.chars().find(|c| !ssm_char_ok(*c) && *c != '/') {
        return Some(format!(
            "contains {bad:?}; SSM parameter names take letters, digits, `_`, `.`, `-` and `/` between path segments."
        ));
    }
    if s.split('/').count() > SSM_MAX_LEVELS {
        return Some(format!(
            "has more than {SSM_MAX_LEVELS} levels, SSM's limit."
        ));
    }
    if s.len() > SSM_MAX_NAME {
        return Some(format!("is longer than SSM's {SSM_MAX_NAME} characters."));
    }
    None
}

/// Why `s` cannot be a path prefix of parameter names, if it cannot.
pub fn ssm_prefix_problem(s: &str) -> Option<String> {
    if !(s.starts_with('/') && s.ends_with('/')) {
        return Some("must start and end with `/`, like `/golden/channel/`.".into());
    }
    let Some(inner) = s.strip_prefix('/').and_then(|r| r.strip_suffix('/')) else {
        return None; // "/" alone: the root.
    };
    if inner.is_empty() {
        return Some("holds `//`.".into());
    }
    if let Some(why) = ssm_name_problem(inner) {
        return Some(why);
    }
    let first = inner
        .split('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if first.starts_with("aws") || first.starts_with("ssm") {
        return Some("starts with `aws` or `ssm`, which SSM reserves.".into());
    }
    None
}

pub(super) fn push(
    d: &mut Diagnostics,
    path: AttrPath,
    summary: impl Into<String>,
    detail: impl Into<String>,
) {
    d.push(Diagnostic::error(summary, detail).at(path));
}

/// "a, b or c"
fn or_list(values: &[&str]) -> String {
    match values.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => last.to_string(),
        None => String::new(),
    }
}

fn shell_name_ok(k: &str) -> bool {
    k.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn cidr_ok(c: &str) -> bool {
    c.split_once('/').is_some_and(|(ip, bits)| {
        ip.parse::<std::net::Ipv4Addr>().is_ok() && bits.parse::<u8>().is_ok_and(|b| b <= 32)
    })
}

fn account_id_ok(s: &str) -> bool {
    s.len() == 12 && s.chars().all(|c| c.is_ascii_digit())
}

/// `arn:PARTITION:iam::ACCOUNT:KIND...`; AWS-managed policies have `aws` as
/// the account.
fn iam_arn_ok(s: &str, kind: &str) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts[..] else {
        return false;
    };
    arn == "arn"
        && partition.starts_with("aws")
        && service == "iam"
        && region.is_empty()
        && (account_id_ok(account) || (kind == "policy/" && account == "aws"))
        && resource
            .strip_prefix(kind)
            .is_some_and(|name| !name.is_empty())
}

fn ami_id_ok(s: &str) -> bool {
    s.strip_prefix("ami-")
        .is_some_and(|hex| !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Characters EC2 accepts in an AMI name.
fn ami_name_char_ok(c: char) -> bool {
    c.is_ascii_alphanumeric() || " ()[]./-'@_".contains(c)
}

/// `auto`, or digits with at most one decimal point, above zero (EC2's
/// `MaxPrice` is such a string).
fn spot_price_ok(p: &str) -> bool {
    if p == "auto" {
        return true;
    }
    let (whole, frac) = p.split_once('.').unwrap_or((p, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    !whole.is_empty()
        && digits(whole)
        && digits(frac)
        && !(p.contains('.') && frac.is_empty())
        && p.chars().any(|c| c.is_ascii_digit() && c != '0')
}

fn instance_type_ok(t: &str) -> bool {
    t.split_once('.').is_some_and(|(family, size)| {
        !family.is_empty()
            && !size.is_empty()
            && family
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && size
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    })
}

/// `arn:PARTITION:organizations::ACCOUNT:organization/o-ID`, or with `ou`
/// `...:ou/o-ID/ou-ROOT-ID` (IAM's ARN formats for AWS Organizations).
fn org_arn_ok(s: &str, ou: bool) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts[..] else {
        return false;
    };
    let id = |p: &str, prefix: &str| {
        p.strip_prefix(prefix).is_some_and(|r| {
            !r.is_empty()
                && r.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
    };
    let path: Vec<&str> = resource.split('/').collect();
    let resource_ok = match (ou, &path[..]) {
        (false, ["organization", org]) => id(org, "o-"),
        (true, ["ou", org, unit]) => id(org, "o-") && id(unit, "ou-"),
        _ => false,
    };
    arn == "arn"
        && partition.starts_with("aws")
        && service == "organizations"
        && region.is_empty()
        && account_id_ok(account)
        && resource_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(c: &Check, v: Value) -> Vec<String> {
        let mut d = Diagnostics::default();
        c.run("attr", &v, &AttrPath::root("attr"), &mut d);
        d.0.iter()
            .map(|x| format!("{}: {}", x.summary, x.detail))
            .collect()
    }

    fn ok(c: Check, good: &[Value], bad: &[(Value, &str)]) {
        for g in good {
            assert_eq!(
                problems(&c, g.clone()),
                Vec::<String>::new(),
                "{c:?} on {g:?}"
            );
        }
        for (b, msg) in bad {
            let p = problems(&c, b.clone());
            assert!(p.iter().any(|m| m.contains(msg)), "{c:?} on {b:?}: {p:?}");
        }
    }

    fn s(x: &str) -> Value {
        Value::string(x)
    }

    #[test]
    fn one_of() {
        ok(
            Check::OneOf(&["a", "b", "c"]),
            &[s("a"), s("c")],
            &[(s("d"), "\"d\": use a, b or c.")],
        );
    }

    #[test]
    fn whole_numbers_in_range() {
        ok(
            PORT,
            &[Value::Number(1.0), Value::Number(65535.0)],
            &[
                (Value::Number(0.0), "0 is not a TCP port (1-65535)."),
                (Value::Number(70000.0), "70000 is not a TCP port"),
                (Value::Number(22.5), "22.5 is not a TCP port"),
            ],
        );
    }

    #[test]
    fn list_elements_are_checked_one_by_one_with_their_index() {
        let c = Check::Whole {
            min: 0,
            max: 255,
            what: "an exit status",
        };
        let mut d = Diagnostics::default();
        let v = Value::List(vec![
            Value::Number(0.0),
            Value::Number(300.0),
            Value::Unknown,
        ]);
        c.run("codes", &v, &AttrPath::root("codes"), &mut d);
        assert_eq!(d.0.len(), 1);
        assert_eq!(
            d.0[0].path.as_ref().map(|p| p.to_string()).as_deref(),
            Some("codes[1]")
        );
        assert!(d.0[0].detail.contains("300 is not an exit status"));
    }

    #[test]
    fn accounts_and_organizations() {
        ok(
            Check::OrganizationArn,
            &[s(
                "arn:aws:organizations::123456789012:organization/o-abcdefghij",
            )],
            &[
                (s("o-abcdefghij"), "is not an organization ARN"),
                (
                    s("arn:aws:organizations::123456789012:ou/o-abcdefghij/ou-ab12-cdefghij"),
                    "is not an organization ARN",
                ),
                (
                    s("arn:aws:organizations:us-east-1:123456789012:organization/o-abc"),
                    "is not an organization ARN",
                ),
            ],
        );
        ok(
            Check::OuArn,
            &[s(
                "arn:aws:organizations::123456789012:ou/o-abcdefghij/ou-ab12-cdefghij",
            )],
            &[
                (
                    s("arn:aws:organizations::123456789012:organization/o-abcdefghij"),
                    "is not an OU ARN",
                ),
                (
                    s("arn:aws:organizations::12345:ou/o-abc/ou-ab12-cd"),
                    "is not an OU ARN",
                ),
            ],
        );
    }

    #[test]
    fn durations() {
        ok(
            Check::Duration,
            &[s("90s"), s("1h30m")],
            &[(s("5 minutes"), "\"5 minutes\" is not a duration")],
        );
    }

    #[test]
    fn paths_and_networks() {
        ok(
            Check::AbsolutePath,
            &[s("/tmp")],
            &[(s("tmp/x"), "must be an absolute path")],
        );
        ok(
            Check::Ipv4Cidr,
            &[s("10.0.0.0/16"), s("0.0.0.0/0")],
            &[
                (s("10.0.0.0"), "not an IPv4 CIDR"),
                (s("10.0.0.0/33"), "not an IPv4 CIDR"),
                (s("::/0"), "not an IPv4 CIDR"),
            ],
        );
        ok(
            Check::HttpUrl,
            &[s("http://127.0.0.1:5000"), s("https://x")],
            &[(s("127.0.0.1:5000"), "is not an http:// or https:// URL")],
        );
    }

    #[test]
    fn aws_identifiers() {
        ok(
            Check::AmiId,
            &[s("ami-0a11ce")],
            &[
                (s("image-12"), "is not an AMI id"),
                (s("ami-"), "is not an AMI id"),
                (s("ami-xyz"), "is not an AMI id"),
            ],
        );
        ok(
            Check::AccountIdOrAll,
            &[s("all"), s("111122223333")],
            &[(s("1111"), "neither a 12-digit account id")],
        );
        ok(
            Check::AccountId,
            &[s("111122223333")],
            &[
                (s("all"), "is not a 12-digit AWS account id"),
                (s("11112222333a"), "is not a 12-digit AWS account id"),
            ],
        );
        ok(
            Check::Arn("role/"),
            &[
                s("arn:aws:iam::111122223333:role/baker"),
                s("arn:aws-us-gov:iam::111122223333:role/path/baker"),
            ],
            &[
                (s("baker"), "is not an IAM role ARN"),
                (
                    s("arn:aws:iam::111122223333:user/baker"),
                    "is not an IAM role ARN",
                ),
                (s("arn:aws:iam::1111:role/baker"), "is not an IAM role ARN"),
                (
                    s("arn:aws:sts::111122223333:role/baker"),
                    "is not an IAM role ARN",
                ),
                (
                    s("arn:aws:iam::111122223333:role/"),
                    "is not an IAM role ARN",
                ),
            ],
        );
        ok(
            Check::Arn("policy/"),
            &[
                s("arn:aws:iam::aws:policy/ReadOnlyAccess"),
                s("arn:aws:iam::111122223333:policy/mine"),
            ],
            &[(s("arn:aws:iam::aws:role/x"), "is not an IAM policy ARN")],
        );
        ok(
            Check::InstanceType,
            &[s("t3.micro"), s("u-6tb1.metal")],
            &[
                (s("t2micro"), "is not an instance type"),
                (s("T3.micro"), "is not an instance type"),
            ],
        );
        ok(
            Check::SpotPrice,
            &[s("auto"), s("0.05"), s("1"), s("12.5")],
            &[
                (s("cheap"), "is neither \"auto\""),
                (s("0"), "is neither \"auto\""),
                (s("0.000"), "is neither \"auto\""),
                (s("-1"), "is neither \"auto\""),
                (s(".5"), "is neither \"auto\""),
                (s("5."), "is neither \"auto\""),
                (s("$0.05"), "is neither \"auto\""),
                (s("Auto"), "is neither \"auto\""),
            ],
        );
        ok(
            Check::Rfc3339,
            &[s("2027-01-31T00:00:00Z")],
            &[(s("tomorrow"), "is not an RFC 3339 time")],
        );
    }

    #[test]
    fn ami_names() {
        let c = Check::AmiName { min: 3, max: 128 };
        ok(
            c.clone(),
            &[s("web (2027) [x] ./-'@_")],
            &[
                (s("bad*name"), "contains '*'"),
                (s("ab"), "must be 3 to 128 characters"),
                (
                    Value::string("a".repeat(129)),
                    "must be 3 to 128 characters",
                ),
            ],
        );
    }

    #[test]
    fn map_keys_are_checked_with_their_key() {
        let mut d = Diagnostics::default();
        let v = Value::string_map([("aws:owner", "me"), ("team", "x")]);
        Check::NoReservedTagKeys.run("tags", &v, &AttrPath::root("tags"), &mut d);
        assert_eq!(d.0.len(), 1);
        assert!(d.0[0].detail.contains("reserved by AWS"));
        assert_eq!(
            d.0[0].path.as_ref().map(|p| p.to_string()).as_deref(),
            Some("tags[\"aws:owner\"]")
        );
        ok(
            Check::ShellNames,
            &[Value::string_map([("_A1", "x")])],
            &[
                (
                    Value::string_map([("1A", "x")]),
                    "is not a shell variable name",
                ),
                (
                    Value::string_map([("A-B", "x")]),
                    "is not a shell variable name",
                ),
            ],
        );
    }

    #[test]
    fn keys_and_contents() {
        ok(
            Check::PrivateKey,
            &[],
            &[(s("not a key"), "unencrypted OpenSSH or PEM private key")],
        );
        ok(
            Check::PublicKey,
            &[],
            &[(s("ssh-ed25519 AAAA"), "as in known_hosts")],
        );
        ok(
            Check::Contains {
                needle: "{{ .Path }}",
                why: "never runs the script",
            },
            &[s("sudo {{ .Path }}")],
            &[(
                s("sudo sh"),
                "\"sudo sh\" never runs the script: include {{ .Path }}.",
            )],
        );
        ok(
            Check::NonEmpty("needs one."),
            &[Value::List(vec![s("x")])],
            &[
                (Value::List(vec![]), "needs one."),
                (Value::Map(Default::default()), "needs one."),
            ],
        );
        let f = tempfile::NamedTempFile::new().unwrap();
        let path = f.path().to_string_lossy().to_string();
        ok(
            Check::LocalFile,
            &[s(&path)],
            &[
                (
                    s("/no/such/file"),
                    "\"/no/such/file\" is not a readable file",
                ),
                (s("/tmp"), "is not a readable file"),
            ],
        );
    }
}
